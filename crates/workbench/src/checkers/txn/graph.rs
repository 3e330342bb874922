//! The dependency graph between transactions and the cycle search: Tarjan's strongly
//! connected components, then, inside each component, breadth-first searches for the shortest
//! cycle of each anomaly class (as Elle does: a cycle of ww edges only is G0, ...).

/// Edge kinds, as bits so that a search can allow a set of them.
pub const WW: u8 = 1;
pub const WR: u8 = 2;
pub const RW: u8 = 4;
pub const PROCESS: u8 = 8;
pub const REALTIME: u8 = 16;
pub const DATA: u8 = WW | WR | RW;

/// One dependency `from -> to` of one kind, with what shows it: the key and the two values
/// (register values or list elements; for process edges `key` is the process).
#[derive(Clone, Copy, Debug)]
pub struct Edge {
    pub from: u32,
    pub to: u32,
    pub kind: u8,
    pub key: i64,
    pub a: i64,
    pub b: i64,
}

pub struct Graph {
    nodes: usize,
    pub edges: Vec<Edge>,
}

/// A cycle found: its class (`G0`, `G1c-process`, ...) and its edges in order.
#[derive(Clone, Debug)]
pub struct Cycle {
    pub class: &'static str,
    pub edges: Vec<Edge>,
}

/// What to look for: a start edge of `start` kind, closed by a path over `path` kinds.
struct Search {
    start: u8,
    path: u8,
}

/// The searches, in the order Elle ranks their anomalies (worst first). Each found cycle is
/// classified by the edges it actually has.
const SEARCHES: &[Search] = &[
    Search {
        start: WW,
        path: WW,
    },
    Search {
        start: WR,
        path: WW | WR,
    },
    Search {
        start: RW,
        path: WW | WR,
    },
    Search {
        start: RW,
        path: DATA,
    },
    Search {
        start: PROCESS,
        path: WW | PROCESS,
    },
    Search {
        start: PROCESS,
        path: WW | WR | PROCESS,
    },
    Search {
        start: RW,
        path: WW | WR | PROCESS,
    },
    Search {
        start: PROCESS,
        path: DATA | PROCESS,
    },
    Search {
        start: REALTIME,
        path: WW | PROCESS | REALTIME,
    },
    Search {
        start: REALTIME,
        path: WW | WR | PROCESS | REALTIME,
    },
    Search {
        start: RW,
        path: WW | WR | PROCESS | REALTIME,
    },
    Search {
        start: REALTIME,
        path: DATA | PROCESS | REALTIME,
    },
];

/// The class of a cycle with these edges.
pub fn classify(edges: &[Edge]) -> &'static str {
    let rw = edges.iter().filter(|e| e.kind == RW).count();
    let wr = edges.iter().any(|e| e.kind == WR);
    let realtime = edges.iter().any(|e| e.kind == REALTIME);
    let process = edges.iter().any(|e| e.kind == PROCESS);
    const NAMES: [[&str; 3]; 4] = [
        ["G0", "G0-process", "G0-realtime"],
        ["G1c", "G1c-process", "G1c-realtime"],
        ["G-single", "G-single-process", "G-single-realtime"],
        ["G2-item", "G2-item-process", "G2-item-realtime"],
    ];
    let base = match (rw, wr) {
        (0, false) => 0,
        (0, true) => 1,
        (1, _) => 2,
        _ => 3,
    };
    let variant = if realtime {
        2
    } else if process {
        1
    } else {
        0
    };
    NAMES[base][variant]
}

/// Every class a search can report, for deciding which searches are worth running.
pub fn classes_of(start: u8, path: u8) -> Vec<&'static str> {
    let mut out = Vec::new();
    let kinds = path | start;
    for rw in 0..3usize {
        for wr in [false, true] {
            if (rw > 0 && kinds & RW == 0) || (wr && kinds & WR == 0) {
                continue;
            }
            for extra in [0, PROCESS, REALTIME] {
                if extra != 0 && kinds & extra == 0 {
                    continue;
                }
                let mut edges = vec![edge(WW); 1];
                edges.extend((0..rw).map(|_| edge(RW)));
                if wr {
                    edges.push(edge(WR));
                }
                if extra != 0 {
                    edges.push(edge(extra));
                }
                out.push(classify(&edges));
            }
        }
    }
    out
}

fn edge(kind: u8) -> Edge {
    Edge {
        from: 0,
        to: 0,
        kind,
        key: 0,
        a: 0,
        b: 0,
    }
}

/// A limit on the work of the cycle search (edge visits), past which it stops and says so.
pub const SEARCH_BUDGET: u64 = 200_000_000;

impl Graph {
    pub fn new(nodes: usize) -> Graph {
        Graph {
            nodes,
            edges: Vec::new(),
        }
    }

    /// A graph with room for `edges` edges before it grows.
    pub fn with_capacity(nodes: usize, edges: usize) -> Graph {
        Graph {
            nodes,
            edges: Vec::with_capacity(edges),
        }
    }

    /// Adds an edge; self-edges are dropped (a transaction does not depend on itself).
    pub fn add(&mut self, from: u32, to: u32, kind: u8, key: i64, a: i64, b: i64) {
        if from != to {
            self.edges.push(Edge {
                from,
                to,
                kind,
                key,
                a,
                b,
            });
        }
    }

    /// Finds cycles of the classes `wanted` says yes to: at most one per class and component.
    /// Returns the cycles and whether the search ran out of budget.
    pub fn find_cycles(&self, wanted: &dyn Fn(&str) -> bool) -> (Vec<Cycle>, bool) {
        self.find_cycles_with(wanted, true)
    }

    /// [`Graph::find_cycles`], with or without a first look for cycles before the out-edges
    /// are sorted (tests compare the two).
    fn find_cycles_with(&self, wanted: &dyn Fn(&str) -> bool, quick: bool) -> (Vec<Cycle>, bool) {
        let searches: Vec<&Search> = SEARCHES
            .iter()
            .filter(|s| classes_of(s.start, s.path).iter().any(|c| wanted(c)))
            .collect();
        let mask = searches.iter().fold(0u8, |m, s| m | s.path | s.start);
        if searches.is_empty() || self.edges.is_empty() {
            return (Vec::new(), false);
        }
        // Most graphs have no cycle: a look at the few spans edges go back over says so first.
        if quick && !may_have_cycle(self.nodes, &self.edges, mask) {
            return (Vec::new(), false);
        }
        // Whether there is a cycle at all does not depend on the order of out-edges, so the
        // first look takes them as they come (sorting them costs more than the look).
        let mut adj = Adjacency::new(self.nodes, &self.edges, mask, !quick);
        let mut components = adj.components(&self.edges);
        if components.is_empty() {
            // No cycle at all (the common case): nothing to search.
            return (Vec::new(), false);
        }
        if quick {
            // The searches, and the order the components come in, follow the out-edges in
            // kind order: look again with them so.
            adj = Adjacency::new(self.nodes, &self.edges, mask, true);
            components = adj.components(&self.edges);
        }
        let mut state = BfsState::new(self.nodes);
        let mut cycles = Vec::new();
        let mut spent = 0u64;
        for (c, members) in components.iter().enumerate() {
            let mut found: Vec<&'static str> = Vec::new();
            for search in &searches {
                let before = found.len();
                // Start edges inside the component, until this search finds something new.
                for &m in members {
                    if found.len() > before {
                        break;
                    }
                    if spent > SEARCH_BUDGET {
                        return (cycles, true);
                    }
                    for &e in adj.out(m) {
                        let edge = &self.edges[e as usize];
                        if found.len() > before
                            || edge.kind != search.start
                            || adj.component[edge.to as usize] != c as u32
                        {
                            continue;
                        }
                        let Some(path) = state.shortest_path(
                            &adj,
                            &self.edges,
                            edge.to,
                            edge.from,
                            search.path,
                            c as u32,
                            &mut spent,
                        ) else {
                            continue;
                        };
                        let mut cycle = vec![*edge];
                        cycle.extend(path.iter().map(|&i| self.edges[i as usize]));
                        let class = classify(&cycle);
                        if wanted(class) && !found.contains(&class) {
                            found.push(class);
                            cycles.push(Cycle {
                                class,
                                edges: cycle,
                            });
                        }
                    }
                }
            }
        }
        (cycles, false)
    }
}

/// Whether the edges of `mask` kinds may form a cycle: false only when they surely do not.
///
/// Edges mostly go forward (from a transaction to a later one). A cycle needs edges back, and
/// lies within the spans `to..=from` of its backward edges, which overlap: on the way from the
/// cycle's highest node down to its lowest, each node `x` in between is passed by an edge
/// going back from at least `x` to below `x`. So every cycle lies inside one run of
/// overlapping backward spans, and only the edges inside such a run are searched (Tarjan's
/// algorithm over them). When most edges are inside, this look is not worth it: true.
fn may_have_cycle(nodes: usize, edges: &[Edge], mask: u8) -> bool {
    let mut spans: Vec<(u32, u32)> = edges
        .iter()
        .filter(|e| e.kind & mask != 0 && e.to < e.from)
        .map(|e| (e.to, e.from))
        .collect();
    if spans.is_empty() {
        return false;
    }
    spans.sort_unstable();
    // The run of spans each node lies in (runs numbered from 0), `u32::MAX` outside them.
    let mut run = vec![u32::MAX; nodes];
    let mut runs = 0u32;
    let (mut start, mut end) = spans[0];
    for &(a, b) in spans[1..].iter().chain([&(u32::MAX, u32::MAX)]) {
        if a <= end {
            end = end.max(b);
            continue;
        }
        run[start as usize..=end as usize].fill(runs);
        runs += 1;
        (start, end) = (a, b);
    }
    let inside: Vec<Edge> = edges
        .iter()
        .filter(|e| {
            e.kind & mask != 0
                && run[e.from as usize] != u32::MAX
                && run[e.from as usize] == run[e.to as usize]
        })
        .copied()
        .collect();
    if 2 * inside.len() > edges.len() {
        return true;
    }
    !Adjacency::new(nodes, &inside, mask, false)
        .components(&inside)
        .is_empty()
}

/// Out-edges per node (edge indices), restricted to a mask of kinds, sorted so that the
/// searches try ww before wr before rw before process before real-time.
struct Adjacency {
    start: Vec<u32>,
    list: Vec<u32>,
    /// Component index per node; `u32::MAX` for nodes on no cycle.
    component: Vec<u32>,
}

impl Adjacency {
    /// Out-edges in edge order, or sorted by kind (`by_kind`, stable) as the searches want.
    fn new(nodes: usize, edges: &[Edge], mask: u8, by_kind: bool) -> Adjacency {
        let mut start = vec![0u32; nodes + 1];
        for e in edges.iter().filter(|e| e.kind & mask != 0) {
            start[e.from as usize + 1] += 1;
        }
        for i in 0..nodes {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut list = vec![0u32; start[nodes] as usize];
        for (i, e) in edges.iter().enumerate() {
            if e.kind & mask != 0 {
                list[fill[e.from as usize] as usize] = i as u32;
                fill[e.from as usize] += 1;
            }
        }
        if by_kind {
            for n in 0..nodes {
                let out = &mut list[start[n] as usize..start[n + 1] as usize];
                if !out.is_sorted_by_key(|&i| edges[i as usize].kind) {
                    out.sort_by_key(|&i| edges[i as usize].kind);
                }
            }
        }
        Adjacency {
            start,
            list,
            component: Vec::new(),
        }
    }

    fn out(&self, n: u32) -> &[u32] {
        &self.list[self.start[n as usize] as usize..self.start[n as usize + 1] as usize]
    }

    /// Tarjan's algorithm, iterative; keeps the components with more than one node (there are
    /// no self-edges) and records each node's component.
    fn components(&mut self, edges: &[Edge]) -> Vec<Vec<u32>> {
        let n = self.start.len() - 1;
        const UNSEEN: u32 = u32::MAX;
        let mut index = vec![UNSEEN; n];
        let mut low = vec![0u32; n];
        let mut on_stack = vec![false; n];
        let mut stack: Vec<u32> = Vec::with_capacity(n);
        let mut call: Vec<(u32, u32, u32)> = Vec::with_capacity(n);
        let mut next = 0u32;
        let mut out = Vec::new();
        self.component = vec![u32::MAX; n];
        for root in 0..n as u32 {
            if index[root as usize] != UNSEEN || self.out(root).is_empty() {
                continue;
            }
            call.push((
                root,
                self.start[root as usize],
                self.start[root as usize + 1],
            ));
            index[root as usize] = next;
            low[root as usize] = next;
            next += 1;
            stack.push(root);
            on_stack[root as usize] = true;
            // Each call: the node, and the part of `list` of its out-edges not yet followed.
            while let Some(&mut (v, ref mut at, end)) = call.last_mut() {
                if *at < end {
                    let w = edges[self.list[*at as usize] as usize].to;
                    *at += 1;
                    if index[w as usize] == UNSEEN {
                        index[w as usize] = next;
                        low[w as usize] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w as usize] = true;
                        call.push((w, self.start[w as usize], self.start[w as usize + 1]));
                    } else if on_stack[w as usize] {
                        low[v as usize] = low[v as usize].min(index[w as usize]);
                    }
                    continue;
                }
                call.pop();
                if let Some(&(parent, _, _)) = call.last() {
                    low[parent as usize] = low[parent as usize].min(low[v as usize]);
                }
                if low[v as usize] == index[v as usize] {
                    // Most components are a single node, on no cycle: no vector for those.
                    if stack.last() == Some(&v) {
                        stack.pop();
                        on_stack[v as usize] = false;
                        continue;
                    }
                    let mut members = Vec::new();
                    loop {
                        let w = stack.pop().expect("v is on the stack");
                        on_stack[w as usize] = false;
                        members.push(w);
                        if w == v {
                            break;
                        }
                    }
                    if members.len() > 1 {
                        let c = out.len() as u32;
                        for &m in &members {
                            self.component[m as usize] = c;
                        }
                        members.sort_unstable();
                        out.push(members);
                    }
                }
            }
        }
        out
    }
}

/// Reusable breadth-first search state (stamped, so nothing is cleared between searches).
struct BfsState {
    stamp: Vec<u32>,
    via: Vec<u32>,
    current: u32,
    queue: std::collections::VecDeque<u32>,
}

impl BfsState {
    fn new(nodes: usize) -> BfsState {
        BfsState {
            stamp: vec![0; nodes],
            via: vec![0; nodes],
            current: 0,
            queue: Default::default(),
        }
    }

    /// The shortest path `from -> .. -> to` over edges of `mask` kinds inside `component`,
    /// as edge indices.
    #[allow(clippy::too_many_arguments)]
    fn shortest_path(
        &mut self,
        adj: &Adjacency,
        edges: &[Edge],
        from: u32,
        to: u32,
        mask: u8,
        component: u32,
        spent: &mut u64,
    ) -> Option<Vec<u32>> {
        self.current += 1;
        let stamp = self.current;
        self.queue.clear();
        self.stamp[from as usize] = stamp;
        self.queue.push_back(from);
        while let Some(v) = self.queue.pop_front() {
            if v == to {
                let mut path = Vec::new();
                let mut at = to;
                while at != from {
                    let e = self.via[at as usize];
                    path.push(e);
                    at = edges[e as usize].from;
                }
                path.reverse();
                return Some(path);
            }
            for &e in adj.out(v) {
                *spent += 1;
                let edge = &edges[e as usize];
                let w = edge.to as usize;
                if edge.kind & mask == 0 || self.stamp[w] == stamp || adj.component[w] != component
                {
                    continue;
                }
                self.stamp[w] = stamp;
                self.via[w] = e;
                self.queue.push_back(w as u32);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let e = edge;
        assert_eq!(classify(&[e(WW), e(WW)]), "G0");
        assert_eq!(classify(&[e(WW), e(WR)]), "G1c");
        assert_eq!(classify(&[e(RW), e(WR)]), "G-single");
        assert_eq!(classify(&[e(RW), e(RW)]), "G2-item");
        assert_eq!(classify(&[e(WW), e(PROCESS)]), "G0-process");
        assert_eq!(
            classify(&[e(RW), e(PROCESS), e(REALTIME)]),
            "G-single-realtime"
        );
    }

    #[test]
    fn finds_the_shortest_cycle_of_each_wanted_class() {
        let mut g = Graph::new(4);
        g.add(0, 1, WW, 1, 1, 2);
        g.add(1, 0, WW, 2, 1, 2);
        g.add(2, 3, RW, 3, 0, 1);
        g.add(3, 2, WR, 3, 1, 1);
        let (cycles, out_of_budget) = g.find_cycles(&|c| c == "G0" || c == "G-single");
        assert!(!out_of_budget);
        let classes: Vec<&str> = cycles.iter().map(|c| c.class).collect();
        assert_eq!(classes, ["G0", "G-single"]);
        // Read committed does not look for G-single.
        let (cycles, _) = g.find_cycles(&|c| c == "G0" || c == "G1c");
        assert_eq!(cycles.len(), 1);
    }

    /// Each node's out-edges come sorted by kind, then by edge index (as a stable sort).
    #[test]
    fn out_edges_are_sorted_by_kind() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let kinds = [WW, WR, RW, PROCESS, REALTIME];
        for _ in 0..100 {
            let nodes = rng.gen_range(1..20u32);
            let mut g = Graph::new(nodes as usize);
            for _ in 0..rng.gen_range(0..4 * nodes) {
                let kind = kinds[rng.gen_range(0..kinds.len())];
                g.add(
                    rng.gen_range(0..nodes),
                    rng.gen_range(0..nodes),
                    kind,
                    0,
                    0,
                    0,
                );
            }
            let mask = rng.gen_range(0..32u8);
            let adj = Adjacency::new(nodes as usize, &g.edges, mask, true);
            for n in 0..nodes {
                let mut expected: Vec<u32> = (0..g.edges.len() as u32)
                    .filter(|&i| {
                        g.edges[i as usize].from == n && g.edges[i as usize].kind & mask != 0
                    })
                    .collect();
                expected.sort_by_key(|&i| g.edges[i as usize].kind);
                assert_eq!(adj.out(n), expected);
            }
        }
    }

    /// Random graphs, mostly of forward edges (as histories make them), with and without
    /// cycles: the first look in edge order changes nothing found.
    #[test]
    fn the_first_look_changes_nothing() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let kinds = [WW, WR, RW, PROCESS, REALTIME];
        let wanted_sets: [&dyn Fn(&str) -> bool; 3] = [
            &|c| c == "G0" || c == "G1c",
            &|c| !c.ends_with("-realtime"),
            &|_| true,
        ];
        let (mut without, mut with) = (0, 0);
        for round in 0..400 {
            let nodes = rng.gen_range(2..30u32);
            let mut g = Graph::new(nodes as usize);
            let back_odds = [0.0, 0.02, 0.1, 0.5][round % 4];
            for _ in 0..rng.gen_range(0..3 * nodes) {
                let (a, b) = (rng.gen_range(0..nodes), rng.gen_range(0..nodes));
                let (from, to) = if rng.gen_bool(back_odds) {
                    (a.max(b), a.min(b))
                } else {
                    (a.min(b), a.max(b))
                };
                let kind = kinds[rng.gen_range(0..kinds.len())];
                g.add(from, to, kind, rng.gen_range(0..4), rng.gen_range(0..9), 0);
            }
            for wanted in wanted_sets {
                let quick = g.find_cycles_with(wanted, true);
                let full = g.find_cycles_with(wanted, false);
                assert_eq!(format!("{quick:?}"), format!("{full:?}"), "round {round}");
                if quick.0.is_empty() {
                    without += 1;
                } else {
                    with += 1;
                }
            }
        }
        assert!(without > 100 && with > 100, "{without} {with}");
    }

    /// Random graphs, mostly of forward edges, some with long edges back: the look at the
    /// backward spans never says "no cycle" of a graph whose components are not all single.
    #[test]
    fn the_look_at_backward_spans_misses_no_cycle() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(23);
        let kinds = [WW, WR, RW, PROCESS, REALTIME];
        let (mut acyclic, mut cyclic, mut told) = (0, 0, 0);
        for round in 0..3000 {
            let nodes = rng.gen_range(2..60u32);
            let mut g = Graph::new(nodes as usize);
            let back_odds = [0.0, 0.01, 0.03, 0.1, 0.5][round % 5];
            let reach = [2, 5, 60][round % 3];
            for _ in 0..rng.gen_range(0..3 * nodes) {
                let a = rng.gen_range(0..nodes);
                let b = (a + rng.gen_range(0..reach)).min(nodes - 1);
                let (from, to) = if rng.gen_bool(back_odds) {
                    (b, a)
                } else {
                    (a, b)
                };
                g.add(from, to, kinds[rng.gen_range(0..kinds.len())], 0, 0, 0);
            }
            let mask = [DATA, WW | WR, 31, WW][round % 4];
            let has_cycle = !Adjacency::new(nodes as usize, &g.edges, mask, false)
                .components(&g.edges)
                .is_empty();
            let may = may_have_cycle(nodes as usize, &g.edges, mask);
            assert!(may || !has_cycle, "round {round}: {:?}", g.edges);
            if has_cycle {
                cyclic += 1;
            } else {
                acyclic += 1;
                told += usize::from(!may);
            }
        }
        assert!(
            cyclic > 300 && acyclic > 300 && told > 300,
            "{cyclic} {acyclic} {told}"
        );
    }

    #[test]
    fn an_acyclic_graph_has_no_cycles() {
        let mut g = Graph::new(3);
        g.add(0, 1, WW, 1, 1, 2);
        g.add(1, 2, WR, 1, 2, 2);
        g.add(0, 2, RW, 1, 1, 2);
        let (cycles, _) = g.find_cycles(&|_| true);
        assert!(cycles.is_empty());
    }
}
