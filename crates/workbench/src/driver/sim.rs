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
    /// The lines nodes wrote in response to deliveries at `now`, not yet handed to the runner,
    /// in the order they were written. Each stays in its node's output buffer until then (see
    /// [`Line`]): the runner reads it there, and no line is copied.
    pending: Vec<Line>,
    /// How many bytes of each node's output buffer `pending` covers (the node appends after).
    taken: Vec<usize>,
    /// The nodes whose `taken` is not 0 (their buffers to clear once the lines are handed out).
    written: Vec<u32>,
}

/// A line in a node's output buffer: `node`'s bytes `start..end` (no newline).
#[derive(Clone, Copy)]
struct Line {
    node: u32,
    start: u32,
    end: u32,
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
            taken: vec![0; engines.len()],
            written: Vec::new(),
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

    /// Node `i`'s engine, mutable: what it outputs through it is collected at the next step
    /// (leave its output buffer to the cluster: it may hold lines not yet handed out).
    pub fn engine_mut(&mut self, i: usize) -> &mut E {
        self.stale.push(i);
        &mut self.nodes[i]
    }

    /// What each node logged, in node order.
    pub fn logs(&self) -> &[Vec<u8>] {
        &self.logs
    }

    /// Notes node `i`'s new output lines in `pending` (handed out by the next
    /// [`Cluster::wait`]), and moves its logs aside. Deliveries and timers do this by
    /// themselves; call it after making a node act through [`SimCluster::engine_mut`].
    pub fn collect(&mut self, i: usize) {
        self.deadlines.set(i, deadline_of(&*self.nodes[i]));
        let node = &mut self.nodes[i];
        // The lines stay where the node wrote them, until `hand_out` has shown them to the
        // runner and clears the buffer (which keeps its capacity for the node's next output).
        let out = node.output();
        // One search per line: none after a final newline.
        let mut start = self.taken[i];
        while start < out.len() {
            let end = memchr::memchr(b'\n', &out[start..]).map_or(out.len(), |at| start + at);
            if end > start {
                self.pending.push(Line {
                    node: i as u32,
                    start: start as u32,
                    end: end as u32,
                });
            }
            start = end + 1;
        }
        if self.taken[i] == 0 && !out.is_empty() {
            self.written.push(i as u32);
        }
        self.taken[i] = out.len();
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

impl<E: AnyEngine + ?Sized> SimCluster<E> {
    /// Shows each pending line to `on_line` in the order written, then clears the output
    /// buffers that held them.
    #[inline]
    fn hand_out(&mut self, mut on_line: impl FnMut(u32, &[u8])) {
        if self.written.is_empty() {
            return;
        }
        for k in 0..self.pending.len() {
            let Line { node, start, end } = self.pending[k];
            let out = self.nodes[node as usize].output();
            on_line(node, &out[start as usize..end as usize]);
        }
        self.pending.clear();
        while let Some(node) = self.written.pop() {
            self.taken[node as usize] = 0;
            self.nodes[node as usize].output().clear();
        }
    }

    /// Fires the earliest node timer if it comes by `deadline`, unless lines are pending
    /// already; the current test time.
    #[inline]
    fn step(&mut self, deadline: Nanos) -> Nanos {
        if !self.pending.is_empty() {
            return self.now;
        }
        // The earliest node timer (ties: the lowest node index) fires if it comes first.
        while let Some(i) = self.stale.pop() {
            self.deadlines.set(i, deadline_of(&*self.nodes[i]));
        }
        match self.deadlines.earliest() {
            Some((at, i)) if at <= deadline => {
                self.now = self.now.max(at);
                self.nodes[i].advance(Duration::from_nanos(self.now));
                self.collect(i);
            }
            _ => self.now = self.now.max(deadline),
        }
        self.now
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

    #[inline]
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
        let now = self.step(deadline);
        self.hand_out(|node, line| {
            out.push(NodeOutput::Line {
                node,
                line: line.to_vec(),
            })
        });
        now
    }

    fn wait_lines(
        &mut self,
        deadline: Nanos,
        _: &mut Vec<NodeOutput>,
        on_line: &mut dyn FnMut(Nanos, u32, &[u8]),
    ) -> Nanos {
        let now = self.step(deadline);
        self.hand_out(|node, line| on_line(now, node, line));
        now
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

    /// The lines engines wrote, as (node, line), shared by the engines of one test.
    type Notes = std::rc::Rc<std::cell::RefCell<Vec<(u32, Vec<u8>)>>>;

    /// An engine that writes random lines (some empty, some without their newline) when it
    /// reads a line or a timer fires, and notes each step's lines as the cluster must hand
    /// them out: split at newlines, empty ones left out.
    struct Scribbler {
        index: u32,
        rng: crate::Rng,
        out: Vec<u8>,
        logs: Vec<u8>,
        deadline: Option<Duration>,
        expected: Notes,
    }

    impl Scribbler {
        fn scribble(&mut self, now: Duration) {
            let start = self.out.len();
            for _ in 0..self.rng.gen_range(0..4) {
                let len = self.rng.gen_range(0..40);
                let byte = b'a' + self.index as u8;
                self.out.extend(std::iter::repeat_n(byte, len));
                if self.rng.gen_bool(0.9) {
                    self.out.push(b'\n');
                }
            }
            for line in self.out[start..].split(|&b| b == b'\n') {
                if !line.is_empty() {
                    self.expected.borrow_mut().push((self.index, line.to_vec()));
                }
            }
            self.deadline = match self.rng.gen_range(0..4) {
                0 => None,
                _ => Some(now + Duration::from_nanos(self.rng.gen_range(0..50))),
            };
        }
    }

    impl AnyEngine for Scribbler {
        fn handle_line(&mut self, _: &[u8], now: Duration) {
            self.scribble(now);
        }

        fn next_deadline(&self) -> Option<Duration> {
            self.deadline
        }

        fn advance(&mut self, now: Duration) {
            if self.deadline.is_some_and(|d| d <= now) {
                self.scribble(now);
            }
        }

        fn output(&mut self) -> &mut Vec<u8> {
            &mut self.out
        }

        fn logs(&mut self) -> &mut Vec<u8> {
            &mut self.logs
        }
    }

    /// Lines handed out borrowed (`wait_lines`, the runner's) or copied (`wait`) are every
    /// line the nodes wrote, in the order they wrote them, at the same times.
    #[test]
    fn lines_are_handed_out_in_the_order_written_borrowed_or_copied() {
        for seed in 0..20 {
            let mut handed = Vec::new();
            let mut expected = Vec::new();
            for borrowed in [false, true] {
                let notes = Notes::default();
                let nodes = 1 + seed as usize % 4;
                let engines: Vec<Box<dyn AnyEngine>> = (0..nodes)
                    .map(|i| {
                        Box::new(Scribbler {
                            index: i as u32,
                            rng: crate::Rng::seed_from_u64(node_seed(seed, i as u64)),
                            out: Vec::new(),
                            logs: Vec::new(),
                            deadline: None,
                            expected: notes.clone(),
                        }) as Box<dyn AnyEngine>
                    })
                    .collect();
                let mut cluster = SimCluster::from_engines(engines);
                let mut rng = crate::Rng::seed_from_u64(seed);
                let mut got = Vec::new();
                let mut now = 0;
                for _ in 0..500 {
                    if rng.gen_bool(0.5) {
                        cluster.deliver_line(rng.gen_range(0..nodes as u32), b"{}", now);
                        continue;
                    }
                    let deadline = now + rng.gen_range(0..30);
                    let mut out = Vec::new();
                    now = if borrowed {
                        cluster.wait_lines(deadline, &mut out, &mut |at, node, line| {
                            got.push((at, node, line.to_vec()))
                        })
                    } else {
                        let at = cluster.wait(deadline, &mut out);
                        for output in out.drain(..) {
                            match output {
                                NodeOutput::Line { node, line } => got.push((at, node, line)),
                                other => panic!("{other:?}"),
                            }
                        }
                        at
                    };
                    assert!(out.is_empty());
                }
                let mut out = Vec::new();
                cluster.wait_lines(now, &mut out, &mut |at, node, line| {
                    got.push((at, node, line.to_vec()))
                });
                handed.push(got);
                expected.push(notes.take());
            }
            assert_eq!(handed[0], handed[1], "seed {seed}");
            assert_eq!(expected[0], expected[1]);
            let lines: Vec<_> = handed[0].iter().map(|(_, n, l)| (*n, l.clone())).collect();
            assert_eq!(lines, expected[0], "seed {seed}");
            assert!(lines.len() > 100);
        }
    }
}
