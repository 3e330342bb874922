//! The sim driver: our node types run in-process, in virtual time. The runner's clock jumps
//! from one event to the next, and every random choice (latency, schedule, nemesis, the nodes'
//! own `ctx.rng()`) comes from the test's seed, so a run replays byte for byte.

use std::time::Duration;

use glomers_node::AnyEngine;

use crate::history::Nanos;
use crate::runner::{Cluster, NodeOutput};

/// Makes node number `index` of a test, its RNG seeded with `seed`.
pub type NodeFactory = Box<dyn Fn(u64) -> Box<dyn AnyEngine>>;

/// Logs kept per node in memory (beyond this they are cut, with a note).
const MAX_LOG_BYTES: usize = 8 << 20;

/// The nodes of a simulated test, stepped in virtual time. `E` is `dyn AnyEngine` for the
/// catalog's node types, or a concrete `Engine<N>` when the caller wants the nodes back (the
/// [`crate::testing`] harness).
pub struct SimCluster<E: AnyEngine + ?Sized = dyn AnyEngine> {
    nodes: Vec<Box<E>>,
    /// Each node's next timer deadline, as of its last step (the cluster asks for the
    /// earliest one at every wait, and only the node that just acted can have changed it).
    deadlines: Deadlines,
    /// Nodes lent out by [`SimCluster::engine_mut`], whose deadline must be read again.
    stale: Vec<usize>,
    logs: Vec<Vec<u8>>,
    now: Nanos,
    /// What nodes wrote in response to deliveries at `now`, not yet handed to the runner.
    pending: Vec<NodeOutput>,
}

impl SimCluster {
    /// `node_count` nodes from `factory`, each seeded from the test seed and its index.
    pub fn new(factory: &NodeFactory, node_count: usize, seed: u64) -> SimCluster {
        SimCluster::from_engines(
            (0..node_count as u64)
                .map(|i| factory(node_seed(seed, i)))
                .collect(),
        )
    }
}

impl<E: AnyEngine + ?Sized> SimCluster<E> {
    /// A cluster of these engines, node `i` being `engines[i]` (seed each with
    /// [`node_seed`] to match [`SimCluster::new`]).
    pub fn from_engines(engines: Vec<Box<E>>) -> SimCluster<E> {
        SimCluster {
            logs: vec![Vec::new(); engines.len()],
            deadlines: Deadlines::new(engines.iter().map(|e| deadline_of(&**e)).collect()),
            stale: Vec::new(),
            nodes: engines,
            now: 0,
            pending: Vec::new(),
        }
    }

    /// Node `i`'s engine.
    pub fn engine(&self, i: usize) -> &E {
        &self.nodes[i]
    }

    /// Node `i`'s engine, mutable: what it outputs through it is collected at the next step.
    pub fn engine_mut(&mut self, i: usize) -> &mut E {
        self.stale.push(i);
        &mut self.nodes[i]
    }

    /// What each node logged, in node order.
    pub fn logs(&self) -> &[Vec<u8>] {
        &self.logs
    }

    /// Moves node `i`'s output lines into `pending` (handed out by the next
    /// [`Cluster::wait`]), and its logs aside. Deliveries and timers do this by themselves;
    /// call it after making a node act through [`SimCluster::engine_mut`].
    pub fn collect(&mut self, i: usize) {
        self.deadlines.set(i, deadline_of(&*self.nodes[i]));
        let node = &mut self.nodes[i];
        // Each line is copied out at its size, and the node keeps its buffer (cleared, at its
        // capacity) rather than growing a new one for its next output.
        let out = node.output();
        let mut start = 0;
        for end in memchr::memchr_iter(b'\n', out).chain([out.len()]) {
            if end > start {
                self.pending.push(NodeOutput::Line {
                    node: i as u32,
                    line: out[start..end].to_vec(),
                });
            }
            start = end + 1;
        }
        out.clear();
        let logs = node.logs();
        if !logs.is_empty() {
            let kept = &mut self.logs[i];
            if kept.len() < MAX_LOG_BYTES {
                kept.extend_from_slice(logs);
                if kept.len() >= MAX_LOG_BYTES {
                    kept.extend_from_slice(b"[further logs cut]\n");
                }
            }
            logs.clear();
        }
    }
}

/// The nodes' next deadlines in a tournament tree: leaf `leaves + i` holds node `i`'s
/// (deadline, i), each inner entry the least of its two children, so the root is the earliest
/// deadline (ties: the lowest node). A node's change walks up only while it changes what an
/// entry holds: a delivery that leaves the deadline as it was costs one comparison, a timer
/// that moves it a few (not a scan of every node, as with 25 broadcast nodes).
struct Deadlines {
    leaves: usize,
    /// Entries as `deadline << 64 | node`: one integer comparison orders by deadline, then node.
    tree: Vec<u128>,
}

/// An entry for no deadline: after every real one (whose node index is never `u64::MAX`).
const NO_DEADLINE: u128 = u128::MAX;

impl Deadlines {
    fn new(deadlines: Vec<Option<Nanos>>) -> Deadlines {
        let leaves = deadlines.len().next_power_of_two();
        let mut tree = Deadlines {
            leaves,
            tree: vec![NO_DEADLINE; 2 * leaves],
        };
        for (i, deadline) in deadlines.into_iter().enumerate() {
            tree.set(i, deadline);
        }
        tree
    }

    fn set(&mut self, node: usize, deadline: Option<Nanos>) {
        let mut k = self.leaves + node;
        let entry = deadline.map_or(NO_DEADLINE, |d| (u128::from(d) << 64) | node as u128);
        if self.tree[k] == entry {
            return;
        }
        self.tree[k] = entry;
        let mut current = entry;
        while k > 1 {
            // The parent holds the least of this entry and its sibling.
            current = current.min(self.tree[k ^ 1]);
            k /= 2;
            if self.tree[k] == current {
                return;
            }
            self.tree[k] = current;
        }
    }

    /// The earliest deadline and its node (ties: the lowest node index).
    fn earliest(&self) -> Option<(Nanos, usize)> {
        let root = self.tree[1];
        (root != NO_DEADLINE).then_some(((root >> 64) as Nanos, root as u64 as usize))
    }
}

fn deadline_of<E: AnyEngine + ?Sized>(engine: &E) -> Option<Nanos> {
    engine.next_deadline().map(|d| d.as_nanos() as Nanos)
}

/// A per-node seed: the test seed mixed with the node's index.
pub fn node_seed(seed: u64, index: u64) -> u64 {
    seed ^ index.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl<E: AnyEngine + ?Sized> Cluster for SimCluster<E> {
    fn deliver(&mut self, node: u32, line: Vec<u8>, now: Nanos) {
        self.deliver_line(node, &line, now);
    }

    fn deliver_line(&mut self, node: u32, line: &[u8], now: Nanos) {
        self.now = self.now.max(now);
        self.nodes[node as usize].handle_line(line, Duration::from_nanos(self.now));
        self.collect(node as usize);
    }

    fn wait(&mut self, deadline: Nanos, out: &mut Vec<NodeOutput>) -> Nanos {
        if !self.pending.is_empty() {
            out.append(&mut self.pending);
            return self.now;
        }
        // The earliest node timer (ties: the lowest node index) fires if it comes first.
        for i in std::mem::take(&mut self.stale) {
            self.deadlines.set(i, deadline_of(&*self.nodes[i]));
        }
        match self.deadlines.earliest() {
            Some((at, i)) if at <= deadline => {
                self.now = self.now.max(at);
                self.nodes[i].advance(Duration::from_nanos(self.now));
                self.collect(i);
                out.append(&mut self.pending);
            }
            _ => self.now = self.now.max(deadline),
        }
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn the_earliest_deadline_is_the_least_of_all_ties_to_the_lowest_node() {
        let mut rng = crate::Rng::seed_from_u64(5);
        for nodes in [1, 2, 3, 5, 25] {
            let mut reference: Vec<Option<Nanos>> = vec![None; nodes];
            let mut tree = Deadlines::new(reference.clone());
            for _ in 0..2000 {
                let node = rng.gen_range(0..nodes);
                let deadline = match rng.gen_range(0..6) {
                    0 => None,
                    1 => Some(Nanos::MAX),
                    _ => Some(rng.gen_range(0..20)),
                };
                reference[node] = deadline;
                tree.set(node, deadline);
                let expected = reference
                    .iter()
                    .enumerate()
                    .filter_map(|(i, d)| d.map(|d| (d, i)))
                    .min();
                assert_eq!(tree.earliest(), expected);
            }
        }
    }
}
