//! The partition nemesis (`--nemesis partition`): on Maelstrom's schedule it alternately starts
//! a partition of one of four shapes and heals everything.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::Rng as _;
use serde_json::Value;

use crate::history::{Nanos, NANOS_PER_SEC};
use crate::net::Grudge;
use crate::Rng;

/// The shapes a partition takes, picked uniformly at each start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One random node cut off from all others.
    One,
    /// floor(N/2) random nodes against the rest.
    Majority,
    /// Every node sees a majority, but (for up to 5 nodes exactly, beyond that usually) no two
    /// nodes see the same one.
    MajoritiesRing,
    /// floor((N-1)/3) random nodes cut off (a no-op for N <= 3).
    MinorityThird,
}

pub const SHAPES: [Shape; 4] = [
    Shape::One,
    Shape::Majority,
    Shape::MajoritiesRing,
    Shape::MinorityThird,
];

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::One => "one",
            Shape::Majority => "majority",
            Shape::MajoritiesRing => "majorities-ring",
            Shape::MinorityThird => "minority-third",
        }
    }
}

/// Builds the grudge for a shape over nodes `0..n`.
pub fn grudge(shape: Shape, n: u32, rng: &mut Rng) -> Grudge {
    let mut nodes: Vec<u32> = (0..n).collect();
    nodes.shuffle(rng);
    match shape {
        Shape::One => components(&[&nodes[..1.min(nodes.len())], &nodes[1.min(nodes.len())..]]),
        Shape::Majority => {
            let (a, b) = nodes.split_at(nodes.len() / 2);
            components(&[a, b])
        }
        Shape::MinorityThird => {
            let (a, b) = nodes.split_at((nodes.len().saturating_sub(1)) / 3);
            components(&[a, b])
        }
        Shape::MajoritiesRing if nodes.len() <= 5 => majorities_ring(&nodes),
        Shape::MajoritiesRing => majorities_graph(&nodes, rng),
    }
}

/// Each node drops messages from every node outside its own component.
fn components(parts: &[&[u32]]) -> Grudge {
    let mut grudge = Grudge::new();
    for (i, part) in parts.iter().enumerate() {
        let others: BTreeSet<u32> = parts
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .flat_map(|(_, p)| p.iter().copied())
            .collect();
        if others.is_empty() {
            continue;
        }
        for &node in part.iter() {
            grudge.insert(node, others.clone());
        }
    }
    grudge
}

/// Nodes in a (shuffled) ring; each sees the majority-sized window of the ring around itself
/// and drops the rest. Windows differ from node to node, so no two share a majority.
fn majorities_ring(ring: &[u32]) -> Grudge {
    let n = ring.len();
    let majority = n / 2 + 1;
    let mut grudge = Grudge::new();
    for (i, &node) in ring.iter().enumerate() {
        let before = (majority - 1) / 2;
        let visible: BTreeSet<u32> = (0..majority)
            .map(|k| ring[(i + n - before + k) % n])
            .collect();
        let dropped: BTreeSet<u32> = ring
            .iter()
            .copied()
            .filter(|x| !visible.contains(x))
            .collect();
        if !dropped.is_empty() {
            grudge.insert(node, dropped);
        }
    }
    grudge
}

/// Jepsen's construction for more than 5 nodes, where exact rings do not always exist: start
/// with every node seeing only itself, then repeatedly link a least-connected node (ties in
/// random order) to the least-connected node it does not see yet, until every node sees a
/// majority. Links are symmetric; a node may end up seeing more than a majority.
fn majorities_graph(nodes: &[u32], rng: &mut Rng) -> Grudge {
    // Nodes are 0..n in some order: who sees whom is an n x n table, with each node's count.
    let n = nodes.len();
    let majority = n / 2 + 1;
    let mut sees = vec![false; n * n];
    let mut count = vec![1usize; n];
    for i in 0..n {
        sees[i * n + i] = true;
    }
    let mut order: Vec<u32> = nodes.to_vec();
    loop {
        order.copy_from_slice(nodes);
        order.shuffle(rng);
        // The first node of the shuffled order sorted (stably) by count, and the first one
        // in that sorted order it does not see yet: least count, earliest in `order`.
        let least = |candidates: &mut dyn Iterator<Item = u32>| {
            candidates.fold(None, |best: Option<u32>, node| match best {
                Some(b) if count[b as usize] <= count[node as usize] => Some(b),
                _ => Some(node),
            })
        };
        let a = least(&mut order.iter().copied()).expect("nodes") as usize;
        if count[a] >= majority {
            break;
        }
        let b = least(&mut order.iter().copied().filter(|&b| !sees[a * n + b as usize]))
            .expect("a node short of a majority does not see everyone") as usize;
        sees[a * n + b] = true;
        sees[b * n + a] = true;
        count[a] += 1;
        count[b] += 1;
    }
    let mut grudge = Grudge::new();
    for node in 0..n {
        let dropped: BTreeSet<u32> = (0..n as u32)
            .filter(|&other| !sees[node * n + other as usize])
            .collect();
        if !dropped.is_empty() {
            grudge.insert(node as u32, dropped);
        }
    }
    grudge
}

/// The nemesis's schedule: first op at the start of the main phase, then one every uniform
/// random gap in [0, 2 x interval), alternating start and stop.
pub struct Nemesis {
    interval: Nanos,
    node_count: u32,
    partitioned: bool,
}

/// What the nemesis did, for the history and the network.
pub struct Action {
    pub f: &'static str,
    pub value: Value,
    /// The grudge to install (empty = heal).
    pub grudge: Grudge,
}

impl Nemesis {
    pub fn new(interval_secs: f64, node_count: usize) -> Nemesis {
        Nemesis {
            interval: (interval_secs * NANOS_PER_SEC as f64) as Nanos,
            node_count: node_count as u32,
            partitioned: false,
        }
    }

    /// Performs the next op; returns it and the delay until the one after.
    pub fn step(&mut self, rng: &mut Rng) -> (Action, Nanos) {
        let action = if self.partitioned {
            self.heal()
        } else {
            self.partitioned = true;
            let shape = *SHAPES.choose(rng).expect("shapes");
            let grudge = grudge(shape, self.node_count, rng);
            Action {
                f: "start-partition",
                value: start_value(shape, &grudge),
                grudge,
            }
        };
        let gap = if self.interval == 0 {
            0
        } else {
            rng.gen_range(0..2 * self.interval)
        };
        (action, gap)
    }

    /// Heals everything (also used at the end of the main phase).
    pub fn heal(&mut self) -> Action {
        self.partitioned = false;
        Action {
            f: "stop-partition",
            value: Value::String("fully-connected".into()),
            grudge: Grudge::new(),
        }
    }
}

/// A start-partition op's value, `{"shape": .., "grudge": ..}`, built in place (`json!` would
/// copy the grudge's value through a serializer).
fn start_value(shape: Shape, grudge: &Grudge) -> Value {
    let mut value = serde_json::Map::new();
    value.insert("shape".into(), Value::String(shape.name().into()));
    value.insert("grudge".into(), grudge_json(grudge));
    Value::Object(value)
}

/// `{"n1": ["n0", "n2"], ...}`: who drops messages from whom.
pub fn grudge_json(grudge: &Grudge) -> Value {
    let name = |node: u32| {
        let mut name = String::with_capacity(11);
        name.push('n');
        name.push_str(itoa::Buffer::new().format(node));
        name
    };
    let mut map = serde_json::Map::new();
    for (&dest, srcs) in grudge {
        let srcs = srcs.iter().map(|&s| Value::String(name(s))).collect();
        map.insert(name(dest), Value::Array(srcs));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    fn sees(g: &Grudge, a: u32, b: u32) -> bool {
        !g.get(&a).is_some_and(|s| s.contains(&b))
    }

    /// The construction as first written (sorting the shuffled nodes by how many they see,
    /// sets in maps): the reference for `majorities_graph`.
    fn majorities_graph_by_sorting(nodes: &[u32], rng: &mut Rng) -> Grudge {
        use std::collections::BTreeMap;
        let majority = nodes.len() / 2 + 1;
        let mut sees: BTreeMap<u32, BTreeSet<u32>> =
            nodes.iter().map(|&n| (n, BTreeSet::from([n]))).collect();
        loop {
            let mut order: Vec<u32> = nodes.to_vec();
            order.shuffle(rng);
            order.sort_by_key(|n| sees[n].len()); // stable: ties stay shuffled
            let a = order[0];
            if sees[&a].len() >= majority {
                break;
            }
            let b = *order.iter().find(|b| !sees[&a].contains(b)).unwrap();
            sees.get_mut(&a).unwrap().insert(b);
            sees.get_mut(&b).unwrap().insert(a);
        }
        let mut grudge = Grudge::new();
        for (&node, visible) in &sees {
            let dropped: BTreeSet<u32> = nodes
                .iter()
                .copied()
                .filter(|n| !visible.contains(n))
                .collect();
            if !dropped.is_empty() {
                grudge.insert(node, dropped);
            }
        }
        grudge
    }

    #[test]
    fn majorities_graph_matches_the_sorting_construction_draw_for_draw() {
        for seed in 0..120u64 {
            let n = 6 + (seed % 30) as u32;
            let mut nodes: Vec<u32> = (0..n).collect();
            let mut rng = Rng::seed_from_u64(seed);
            nodes.shuffle(&mut rng);
            let mut fast_rng = rng.clone();
            let fast = majorities_graph(&nodes, &mut fast_rng);
            let reference = majorities_graph_by_sorting(&nodes, &mut rng);
            assert_eq!(fast, reference, "seed {seed}, n {n}");
            // The same numbers were drawn: the generators go on alike.
            assert_eq!(fast_rng.gen::<u64>(), rng.gen::<u64>(), "seed {seed}");
        }
    }

    #[test]
    fn components_cut_every_pair_across_parts() {
        let g = components(&[&[3, 0], &[1], &[4, 2]]);
        for a in 0..5u32 {
            for b in 0..5u32 {
                let same = [[0, 3].contains(&a), a == 1, [2, 4].contains(&a)]
                    == [[0, 3].contains(&b), b == 1, [2, 4].contains(&b)];
                assert_eq!(sees(&g, a, b), same, "{a} {b}");
            }
        }
        assert!(components(&[&[], &[0, 1]]).is_empty());
    }

    #[test]
    fn start_partition_values_are_the_json_they_were() {
        let mut rng = Rng::seed_from_u64(7);
        for n in [1u32, 2, 5, 25] {
            for shape in SHAPES {
                let g = grudge(shape, n, &mut rng);
                let by_macro = json!({
                    "shape": shape.name(),
                    "grudge": g.iter().map(|(dest, srcs)| {
                        (format!("n{dest}"), srcs.iter().map(|s| format!("n{s}")).collect())
                    }).collect::<serde_json::Map<String, Value>>(),
                });
                let value = start_value(shape, &g);
                assert_eq!(value, by_macro);
                assert_eq!(value.to_string(), by_macro.to_string());
            }
        }
    }

    #[test]
    fn one_isolates_a_single_node() {
        let mut rng = Rng::seed_from_u64(1);
        let g = grudge(Shape::One, 5, &mut rng);
        let isolated: Vec<u32> = (0..5)
            .filter(|n| g.get(n).is_some_and(|s| s.len() == 4))
            .collect();
        assert_eq!(isolated.len(), 1);
        assert_eq!(g.len(), 5);
    }

    #[test]
    fn majority_splits_in_two_symmetric_halves() {
        let mut rng = Rng::seed_from_u64(2);
        let g = grudge(Shape::Majority, 5, &mut rng);
        let minority = (0..5).filter(|n| g[n].len() == 3).count();
        assert_eq!(minority, 2);
        for a in 0..5 {
            for b in 0..5 {
                assert_eq!(sees(&g, a, b), sees(&g, b, a));
            }
        }
    }

    #[test]
    fn larger_majorities_rings_give_everyone_at_least_a_majority_symmetrically() {
        let mut rng = Rng::seed_from_u64(6);
        for n in [6u32, 7, 25] {
            let g = grudge(Shape::MajoritiesRing, n, &mut rng);
            let mut distinct = std::collections::BTreeSet::new();
            for a in 0..n {
                let visible: Vec<u32> = (0..n).filter(|&b| sees(&g, a, b)).collect();
                assert!(visible.len() as u32 > n / 2, "n={n}: {a} sees {visible:?}");
                for b in 0..n {
                    assert_eq!(sees(&g, a, b), sees(&g, b, a));
                }
                distinct.insert(visible);
            }
            assert!(
                distinct.len() > 1,
                "n={n}: not everyone sees the same majority"
            );
        }
    }

    #[test]
    fn majorities_ring_gives_everyone_a_distinct_majority() {
        let mut rng = Rng::seed_from_u64(3);
        for n in [3u32, 4, 5] {
            let g = grudge(Shape::MajoritiesRing, n, &mut rng);
            let mut seen = std::collections::BTreeSet::new();
            for a in 0..n {
                let visible: Vec<u32> = (0..n).filter(|&b| sees(&g, a, b)).collect();
                assert_eq!(visible.len() as u32, n / 2 + 1, "n={n}");
                assert!(visible.contains(&a));
                seen.insert(visible);
            }
            assert_eq!(seen.len() as u32, n, "distinct majorities for n={n}");
        }
    }

    #[test]
    fn minority_third_is_a_no_op_for_three_nodes() {
        let mut rng = Rng::seed_from_u64(4);
        assert!(grudge(Shape::MinorityThird, 3, &mut rng).is_empty());
        let g = grudge(Shape::MinorityThird, 25, &mut rng);
        assert_eq!((0..25).filter(|n| g[n].len() == 17).count(), 8);
    }

    #[test]
    fn alternates_start_and_stop() {
        let mut rng = Rng::seed_from_u64(5);
        let mut nemesis = Nemesis::new(10.0, 5);
        let fs: Vec<&str> = (0..4).map(|_| nemesis.step(&mut rng).0.f).collect();
        assert_eq!(
            fs,
            [
                "start-partition",
                "stop-partition",
                "start-partition",
                "stop-partition"
            ]
        );
        let (_, gap) = nemesis.step(&mut rng);
        assert!(gap < 20 * NANOS_PER_SEC);
    }
}
