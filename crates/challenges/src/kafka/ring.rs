//! Consistent hashing: which node owns (is the single writer of) a key.
//!
//! Every node puts [`POINTS_PER_NODE`] points on a 64-bit ring (FNV-1a of `"<node>#<i>"`); a
//! key belongs to the node of the first point at or after the key's hash, wrapping around.
//! With a node more or less, only the keys between the points that changed move (about 1/N of
//! them), and every node computes the same owners from the same node list, in any order.

/// Points each node places on the ring: enough to spread keys evenly over a few nodes.
pub const POINTS_PER_NODE: usize = 64;

#[derive(Clone, Debug)]
pub struct Ring {
    /// (hash, node index into `nodes`), sorted by hash.
    points: Vec<(u64, usize)>,
    nodes: Vec<String>,
}

impl Ring {
    pub fn new(nodes: &[String]) -> Ring {
        let mut nodes = nodes.to_vec();
        nodes.sort();
        let mut points: Vec<(u64, usize)> = nodes
            .iter()
            .enumerate()
            .flat_map(|(n, node)| {
                (0..POINTS_PER_NODE).map(move |i| (fnv1a(format!("{node}#{i}").as_bytes()), n))
            })
            .collect();
        points.sort_unstable();
        Ring { points, nodes }
    }

    /// The node that owns `key` (None only for an empty ring).
    pub fn owner(&self, key: &str) -> Option<&str> {
        self.owner_index(key).map(|n| self.nodes[n].as_str())
    }

    /// The index into [`Ring::nodes`] of the node that owns `key` (None only for an empty
    /// ring).
    pub fn owner_index(&self, key: &str) -> Option<usize> {
        if self.points.is_empty() {
            return None;
        }
        let h = fnv1a(key.as_bytes());
        let i = self.points.partition_point(|&(p, _)| p < h) % self.points.len();
        Some(self.points[i].1)
    }

    /// The nodes, sorted.
    pub fn nodes(&self) -> &[String] {
        &self.nodes
    }
}

/// 64-bit FNV-1a, then a final mix so that short, similar strings spread over the ring.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // splitmix64's finaliser.
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn owners_are_spread_and_independent_of_order() {
        let ring = Ring::new(&nodes(2));
        let mut reversed = nodes(2);
        reversed.reverse();
        let other = Ring::new(&reversed);
        let keys: Vec<String> = (0..1000).map(|k| k.to_string()).collect();
        let on_n0 = keys.iter().filter(|k| ring.owner(k) == Some("n0")).count();
        assert!((350..650).contains(&on_n0), "{on_n0} of 1000 keys on n0");
        assert!(keys.iter().all(|k| ring.owner(k) == other.owner(k)));
    }

    #[test]
    fn a_node_more_moves_few_keys() {
        let (three, four) = (Ring::new(&nodes(3)), Ring::new(&nodes(4)));
        let keys: Vec<String> = (0..4000).map(|k| k.to_string()).collect();
        let moved = keys
            .iter()
            .filter(|k| three.owner(k) != four.owner(k))
            .count();
        // Ideally a quarter; never anything like a rehash of everything.
        assert!(moved < 1600, "{moved} of 4000 keys moved");
        assert!(keys
            .iter()
            .filter(|k| three.owner(k) != four.owner(k))
            .all(|k| four.owner(k) == Some("n3")));
    }
}
