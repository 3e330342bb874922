//! `broadcast` and `g-set`: clients add unique values (0, 1, 2, ...) to a grow-only set through
//! any node and read the whole set back from any node; the set-full checker judges whether every
//! acknowledged value ended up, and stayed, everywhere.
//!
//! The two workloads differ only in names and client details:
//!
//! | | broadcast | g-set |
//! |---|---|---|
//! | add | `broadcast {message}` → `broadcast_ok` | `add {element}` → `add_ok` |
//! | read | `read` → `read_ok {messages}` | `read` → `read_ok {value}` |
//! | setup | one `topology` per node | none |
//! | final reads | marked final | not marked |
//! | errors | `read` is idempotent (fails instead of info) | every error is indeterminate |

use std::collections::BTreeMap;

use rand::Rng as _;
use serde_json::{Map, Value};

use super::reply::ReplyText;
use super::{closed_schema, Completion, Invocation, Request, Step, Workload, WorkloadOptions};
use crate::checkers::set_full::check_set_full;
use crate::checkers::CheckResult;
use crate::history::History;
use crate::Rng;

/// Which of the two set workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Broadcast,
    GSet,
}

/// Names accepted by `--topology` (`tree` is `tree2`).
pub const TOPOLOGIES: &[&str] = &["grid", "line", "tree", "tree2", "tree3", "tree4", "total"];

pub struct Broadcast {
    flavor: Flavor,
    /// Sent to every node at setup (broadcast only).
    topology: BTreeMap<String, Vec<String>>,
    node_count: usize,
    /// The next value to add: values are unique consecutive integers.
    next_value: u64,
}

impl Broadcast {
    /// Fails on an unknown topology name (for both flavours: Maelstrom validates `--topology`
    /// whatever the workload).
    pub fn new(opts: &WorkloadOptions, flavor: Flavor) -> anyhow::Result<Broadcast> {
        let topology = topology(&opts.topology, &opts.node_ids)?;
        Ok(Broadcast {
            flavor,
            topology: match flavor {
                Flavor::Broadcast => topology,
                Flavor::GSet => BTreeMap::new(),
            },
            node_count: opts.node_ids.len(),
            next_value: 0,
        })
    }

    /// The add function's name.
    fn add_f(&self) -> &'static str {
        match self.flavor {
            Flavor::Broadcast => "broadcast",
            Flavor::GSet => "add",
        }
    }

    /// The add's reply type.
    fn add_ok(&self) -> &'static str {
        match self.flavor {
            Flavor::Broadcast => "broadcast_ok",
            Flavor::GSet => "add_ok",
        }
    }

    /// The `read_ok` field carrying the set.
    fn read_field(&self) -> &'static str {
        match self.flavor {
            Flavor::Broadcast => "messages",
            Flavor::GSet => "value",
        }
    }
}

impl Workload for Broadcast {
    fn name(&self) -> &'static str {
        match self.flavor {
            Flavor::Broadcast => "broadcast",
            Flavor::GSet => "g-set",
        }
    }

    fn setup(&self) -> Vec<Request> {
        match self.flavor {
            // Every node gets the same text: written once, then copied (a map per node was
            // cloned as a tree, written for each node, and cloned again to name its reply).
            Flavor::Broadcast => {
                let request = Request::writer("topology")
                    .field("topology", &self.topology)
                    .finish();
                vec![request; self.node_count]
            }
            Flavor::GSet => Vec::new(),
        }
    }

    /// Half adds, half reads, picked at random (Jepsen's `gen/mix`); the value counter only
    /// advances when an add is picked.
    fn next_op(&mut self, _worker: usize, rng: &mut Rng) -> Invocation {
        if rng.gen_bool(0.5) {
            let value = self.next_value;
            self.next_value += 1;
            Invocation::new(self.add_f(), Value::from(value))
        } else {
            Invocation::new("read", Value::Null)
        }
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    /// One read per worker. Only broadcast marks it final (g-set's final generator does not).
    fn final_ops(&mut self) -> Vec<Invocation> {
        vec![match self.flavor {
            Flavor::Broadcast => Invocation::final_op("read", Value::Null),
            Flavor::GSet => Invocation::new("read", Value::Null),
        }]
    }

    fn request(&self, op: &Invocation) -> Request {
        match (self.flavor, op.f) {
            (Flavor::Broadcast, "broadcast") => Request::writer("broadcast")
                .field("message", &op.value)
                .finish(),
            (Flavor::GSet, "add") => Request::writer("add").field("element", &op.value).finish(),
            (_, f) => Request::writer(f).finish(),
        }
    }

    fn response(&self, op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String> {
        if op.f == "read" {
            let field = self.read_field();
            closed_schema(reply, "read_ok", &[field])?;
            return match &reply[field] {
                Value::Array(values) => Ok(Value::Array(values.clone())),
                // Prismatic Schema lets nil through a sequence schema (a Go node's empty slice
                // marshals as null), and Jepsen reads it as the empty set.
                Value::Null => Ok(Value::Array(Vec::new())),
                other => Err(format!("`{field}` must be an array, got {other}")),
            };
        }
        closed_schema(reply, &format!("{}_ok", op.f), &[])?;
        // The ok completion records the value that was added, as Maelstrom's does.
        Ok(op.value.to_json().into_owned())
    }

    /// A well-formed read's array is moved into the completion, not copied (it holds the
    /// whole set); anything else goes through [`Workload::on_reply`].
    fn on_owned_reply(
        &mut self,
        worker: usize,
        op: &Invocation,
        mut reply: Map<String, Value>,
    ) -> Step {
        let field = self.read_field();
        if op.f == "read"
            && closed_schema(&reply, "read_ok", &[field]).is_ok()
            && reply[field].is_array()
        {
            let values = reply.remove(field).expect("checked above");
            return Step::Done(Completion::ok(values));
        }
        self.on_reply(worker, op, &reply)
    }

    /// A well-formed read's array goes straight from the text into the set the history keeps;
    /// a well-formed add's reply needs no parsing. Anything else goes the map's way.
    fn on_reply_text(&mut self, worker: usize, op: &Invocation, reply: ReplyText<'_>) -> Step {
        if op.f == "read" {
            let set = reply
                .closed("read_ok", [self.read_field()])
                .and_then(|[values]| reply.int_set(values));
            if let Some(set) = set {
                return Step::Done(Completion::ok_set(set));
            }
        } else if op.f == self.add_f() && reply.closed(self.add_ok(), []).is_some() {
            return Step::Done(Completion::ok(op.value.clone()));
        }
        self.on_owned_reply(worker, op, reply.to_map())
    }

    fn idempotent(&self, f: &str) -> bool {
        self.flavor == Flavor::Broadcast && f == "read"
    }

    fn errors_are_indeterminate(&self) -> bool {
        self.flavor == Flavor::GSet
    }

    fn reusable_client(&self) -> bool {
        false
    }

    fn set_valued_f(&self) -> Option<&'static str> {
        Some("read")
    }

    fn check(&self, history: &History) -> CheckResult {
        check_set_full(history, self.add_f())
    }
}

/// The neighbour map Maelstrom offers the nodes for `--topology name`, over the nodes in order.
pub fn topology(name: &str, node_ids: &[String]) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    match name {
        "grid" => Ok(grid(node_ids)),
        "line" => Ok(line(node_ids)),
        "tree" | "tree2" => Ok(tree(2, node_ids)),
        "tree3" => Ok(tree(3, node_ids)),
        "tree4" => Ok(tree(4, node_ids)),
        "total" => Ok(total(node_ids)),
        other => anyhow::bail!(
            "unknown topology {other:?}; known topologies: {}",
            TOPOLOGIES.join(", ")
        ),
    }
}

/// A square-ish grid, `side = ceil(sqrt(n))` nodes per row, filled row by row; neighbours below,
/// above, right, left (when they exist).
fn grid(nodes: &[String]) -> BTreeMap<String, Vec<String>> {
    let n = nodes.len();
    let side = (n as f64).sqrt().ceil() as usize;
    let at = |row: Option<usize>, col: Option<usize>| -> Option<String> {
        let (row, col) = (row?, col?);
        let index = row * side + col;
        (col < side && index < n).then(|| nodes[index].clone())
    };
    let mut map = BTreeMap::new();
    for (index, node) in nodes.iter().enumerate() {
        let (row, col) = (index / side, index % side);
        let neighbours = [
            at(Some(row + 1), Some(col)),
            at(row.checked_sub(1), Some(col)),
            at(Some(row), Some(col + 1)),
            at(Some(row), col.checked_sub(1)),
        ];
        map.insert(node.clone(), neighbours.into_iter().flatten().collect());
    }
    map
}

/// A chain: each node's neighbours are [left, right]; the ends have one; under 2 nodes, empty.
fn line(nodes: &[String]) -> BTreeMap<String, Vec<String>> {
    let n = nodes.len();
    if n < 2 {
        return BTreeMap::new();
    }
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let neighbours = [i.checked_sub(1), (i + 1 < n).then_some(i + 1)]
                .into_iter()
                .flatten()
                .map(|j| nodes[j].clone())
                .collect();
            (node.clone(), neighbours)
        })
        .collect()
}

/// A tree with branching factor `b`, filled breadth-first in tiers of 1, b, b², ...: node i's
/// children are nodes b·i+1 ..= b·i+b, so its parent is (i−1)/b. Neighbours are
/// [parent, children...] (the root has children only).
fn tree(b: usize, nodes: &[String]) -> BTreeMap<String, Vec<String>> {
    let n = nodes.len();
    nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let parent = (i > 0).then(|| (i - 1) / b);
            let children = (b * i + 1..=b * i + b).filter(|&c| c < n);
            let neighbours = parent
                .into_iter()
                .chain(children)
                .map(|j| nodes[j].clone())
                .collect();
            (node.clone(), neighbours)
        })
        .collect()
}

/// Everyone is everyone else's neighbour.
fn total(nodes: &[String]) -> BTreeMap<String, Vec<String>> {
    nodes
        .iter()
        .map(|node| {
            let others = nodes.iter().filter(|o| *o != node).cloned().collect();
            (node.clone(), others)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::Validity;
    use crate::history::build::{history, op};
    use crate::history::OpType;
    use rand::SeedableRng;
    use serde_json::json;

    fn nodes(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("n{i}")).collect()
    }

    fn opts(n: usize, topology: &str) -> WorkloadOptions {
        WorkloadOptions {
            topology: topology.into(),
            ..WorkloadOptions::new(n)
        }
    }

    fn neighbours(map: &BTreeMap<String, Vec<String>>, node: &str) -> Vec<String> {
        map[node].clone()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn reply(body: Value) -> Map<String, Value> {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn grid_of_25_is_five_by_five() {
        let t = topology("grid", &nodes(25)).unwrap();
        assert_eq!(t.len(), 25);
        assert_eq!(neighbours(&t, "n0"), names(&["n5", "n1"]));
        assert_eq!(neighbours(&t, "n6"), names(&["n11", "n1", "n7", "n5"]));
        assert_eq!(neighbours(&t, "n4"), names(&["n9", "n3"]));
        assert_eq!(neighbours(&t, "n24"), names(&["n19", "n23"]));
    }

    #[test]
    fn grid_with_a_partial_last_row() {
        // 5 nodes: side 3, rows [n0 n1 n2] [n3 n4].
        let t = topology("grid", &nodes(5)).unwrap();
        assert_eq!(neighbours(&t, "n0"), names(&["n3", "n1"]));
        assert_eq!(neighbours(&t, "n2"), names(&["n1"]));
        assert_eq!(neighbours(&t, "n4"), names(&["n1", "n3"]));
    }

    #[test]
    fn line_links_each_node_to_its_neighbours() {
        let t = topology("line", &nodes(4)).unwrap();
        assert_eq!(neighbours(&t, "n0"), names(&["n1"]));
        assert_eq!(neighbours(&t, "n1"), names(&["n0", "n2"]));
        assert_eq!(neighbours(&t, "n2"), names(&["n1", "n3"]));
        assert_eq!(neighbours(&t, "n3"), names(&["n2"]));
        let two = topology("line", &nodes(2)).unwrap();
        assert_eq!(neighbours(&two, "n0"), names(&["n1"]));
        assert_eq!(neighbours(&two, "n1"), names(&["n0"]));
    }

    #[test]
    fn tree2_of_7_is_a_full_binary_tree() {
        for name in ["tree", "tree2"] {
            let t = topology(name, &nodes(7)).unwrap();
            assert_eq!(neighbours(&t, "n0"), names(&["n1", "n2"]));
            assert_eq!(neighbours(&t, "n1"), names(&["n0", "n3", "n4"]));
            assert_eq!(neighbours(&t, "n2"), names(&["n0", "n5", "n6"]));
            for leaf in ["n3", "n4"] {
                assert_eq!(neighbours(&t, leaf), names(&["n1"]));
            }
            for leaf in ["n5", "n6"] {
                assert_eq!(neighbours(&t, leaf), names(&["n2"]));
            }
        }
    }

    #[test]
    fn tree3_and_tree4_fill_tiers_in_order() {
        let t = topology("tree3", &nodes(6)).unwrap();
        assert_eq!(neighbours(&t, "n0"), names(&["n1", "n2", "n3"]));
        assert_eq!(neighbours(&t, "n1"), names(&["n0", "n4", "n5"]));
        assert_eq!(neighbours(&t, "n2"), names(&["n0"]));
        assert_eq!(neighbours(&t, "n5"), names(&["n1"]));
        let t = topology("tree4", &nodes(7)).unwrap();
        assert_eq!(neighbours(&t, "n0"), names(&["n1", "n2", "n3", "n4"]));
        assert_eq!(neighbours(&t, "n1"), names(&["n0", "n5", "n6"]));
    }

    #[test]
    fn total_links_everyone() {
        let t = topology("total", &nodes(3)).unwrap();
        assert_eq!(neighbours(&t, "n0"), names(&["n1", "n2"]));
        assert_eq!(neighbours(&t, "n1"), names(&["n0", "n2"]));
        assert_eq!(neighbours(&t, "n2"), names(&["n0", "n1"]));
    }

    #[test]
    fn one_node_topologies() {
        let one = nodes(1);
        let alone = json!({"n0": []});
        for name in ["grid", "tree", "tree3", "total"] {
            assert_eq!(json!(topology(name, &one).unwrap()), alone, "{name}");
        }
        assert!(topology("line", &one).unwrap().is_empty());
    }

    #[test]
    fn an_unknown_topology_is_refused_with_the_valid_names() {
        let err = topology("ring", &nodes(3)).unwrap_err().to_string();
        assert!(err.contains("\"ring\""), "{err}");
        assert!(
            err.contains("grid, line, tree, tree2, tree3, tree4, total"),
            "{err}"
        );
        assert!(Broadcast::new(&opts(3, "ring"), Flavor::Broadcast).is_err());
        assert!(Broadcast::new(&opts(3, "ring"), Flavor::GSet).is_err());
    }

    #[test]
    fn broadcast_setup_sends_the_whole_topology_to_each_node() {
        let w = Broadcast::new(&opts(3, "line"), Flavor::Broadcast).unwrap();
        let setup = w.setup();
        assert_eq!(setup.len(), 3);
        let expected = json!({
            "type": "topology",
            "topology": {"n0": ["n1"], "n1": ["n0", "n2"], "n2": ["n1"]},
        });
        assert!(setup.iter().all(|body| body.to_value() == expected));
        assert!(setup
            .iter()
            .all(|body| body.kind().as_deref() == Some("topology")));
        let g = Broadcast::new(&opts(3, "line"), Flavor::GSet).unwrap();
        assert!(g.setup().is_empty());
    }

    #[test]
    fn broadcast_generator_mixes_unique_consecutive_values_with_reads() {
        let mut w = Broadcast::new(&opts(5, "grid"), Flavor::Broadcast).unwrap();
        let mut rng = Rng::seed_from_u64(7);
        let ops: Vec<Invocation> = (0..1000).map(|_| w.next_op(0, &mut rng)).collect();
        let values: Vec<u64> = ops
            .iter()
            .filter(|op| op.f == "broadcast")
            .map(|op| op.value.as_u64().unwrap())
            .collect();
        assert_eq!(values, (0..values.len() as u64).collect::<Vec<_>>());
        assert!(
            (400..600).contains(&values.len()),
            "{} broadcasts",
            values.len()
        );
        for op in ops.iter().filter(|op| op.f == "read") {
            assert_eq!(op.value, Value::Null);
            assert!(!op.is_final);
        }
        let bc = Invocation::new("broadcast", json!(3));
        assert_eq!(
            w.request(&bc).to_value(),
            json!({"type": "broadcast", "message": 3})
        );
        let read = Invocation::new("read", Value::Null);
        assert_eq!(w.request(&read).to_value(), json!({"type": "read"}));
    }

    #[test]
    fn g_set_generator_adds_elements() {
        let mut w = Broadcast::new(&opts(3, "grid"), Flavor::GSet).unwrap();
        let mut rng = Rng::seed_from_u64(1);
        let ops: Vec<Invocation> = (0..100).map(|_| w.next_op(0, &mut rng)).collect();
        assert!(ops.iter().all(|op| op.f == "add" || op.f == "read"));
        let first_add = ops.iter().find(|op| op.f == "add").unwrap();
        assert_eq!(first_add.value, json!(0));
        assert_eq!(
            w.request(first_add).to_value(),
            json!({"type": "add", "element": 0})
        );
        assert_eq!(w.name(), "g-set");
    }

    #[test]
    fn broadcast_responses_follow_the_closed_schema() {
        let w = Broadcast::new(&opts(1, "grid"), Flavor::Broadcast).unwrap();
        let bc = Invocation::new("broadcast", json!(5));
        let read = Invocation::new("read", Value::Null);
        let ok = reply(json!({"type": "broadcast_ok", "in_reply_to": 1}));
        assert_eq!(w.response(&bc, &ok), Ok(json!(5)));
        let extra = reply(json!({"type": "broadcast_ok", "in_reply_to": 1, "x": 1}));
        assert!(w.response(&bc, &extra).is_err());
        let msgs =
            reply(json!({"type": "read_ok", "in_reply_to": 2, "msg_id": 9, "messages": [1, 2]}));
        assert_eq!(w.response(&read, &msgs), Ok(json!([1, 2])));
        // As in Prismatic Schema, null passes a sequence schema (Go's nil slice): empty set.
        let null = reply(json!({"type": "read_ok", "in_reply_to": 2, "messages": null}));
        assert_eq!(w.response(&read, &null), Ok(json!([])));
        let not_array = reply(json!({"type": "read_ok", "in_reply_to": 2, "messages": 3}));
        assert!(w.response(&read, &not_array).unwrap_err().contains("array"));
        let wrong_field = reply(json!({"type": "read_ok", "in_reply_to": 2, "value": [1]}));
        assert!(w.response(&read, &wrong_field).is_err());
        let wrong_type = reply(json!({"type": "add_ok", "in_reply_to": 1}));
        assert!(w.response(&bc, &wrong_type).is_err());
    }

    #[test]
    fn g_set_responses_use_add_ok_and_value() {
        let w = Broadcast::new(&opts(1, "grid"), Flavor::GSet).unwrap();
        let add = Invocation::new("add", json!(5));
        let read = Invocation::new("read", Value::Null);
        let ok = reply(json!({"type": "add_ok", "in_reply_to": 1}));
        assert_eq!(w.response(&add, &ok), Ok(json!(5)));
        let value = reply(json!({"type": "read_ok", "in_reply_to": 2, "value": [5]}));
        assert_eq!(w.response(&read, &value), Ok(json!([5])));
        let messages = reply(json!({"type": "read_ok", "in_reply_to": 2, "messages": [5]}));
        assert!(w.response(&read, &messages).is_err());
    }

    #[test]
    fn final_phase_and_error_handling_differ_by_flavour() {
        let mut b = Broadcast::new(&opts(2, "grid"), Flavor::Broadcast).unwrap();
        assert!(b.has_final_phase());
        assert_eq!(
            b.final_ops(),
            vec![Invocation::final_op("read", Value::Null)]
        );
        assert!(b.idempotent("read"));
        assert!(!b.idempotent("broadcast"));
        assert!(!b.errors_are_indeterminate());
        assert!(!b.reusable_client());
        assert_eq!(b.name(), "broadcast");

        let mut g = Broadcast::new(&opts(2, "grid"), Flavor::GSet).unwrap();
        assert!(g.has_final_phase());
        assert_eq!(g.final_ops(), vec![Invocation::new("read", Value::Null)]);
        assert!(!g.idempotent("read"));
        assert!(g.errors_are_indeterminate());
        assert!(!g.reusable_client());
    }

    #[test]
    fn each_flavour_checks_its_own_add() {
        let ops = |add: &str| {
            history(vec![
                op(0, OpType::Invoke, add, json!(0), 0),
                op(0, OpType::Ok, add, json!(0), 1),
                op(1, OpType::Invoke, "read", Value::Null, 2),
                op(1, OpType::Ok, "read", json!([]), 3),
                op(1, OpType::Invoke, "read", Value::Null, 4),
                op(1, OpType::Ok, "read", json!([0]), 5),
            ])
        };
        let b = Broadcast::new(&opts(1, "grid"), Flavor::Broadcast).unwrap();
        let g = Broadcast::new(&opts(1, "grid"), Flavor::GSet).unwrap();
        let r = b.check(&ops("broadcast"));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.figures["stale"], json!([0]));
        let r = g.check(&ops("add"));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.figures["stable_count"], json!(1));
        // A g-set check ignores broadcasts, so nothing is stable.
        assert_eq!(g.check(&ops("broadcast")).valid, Validity::Unknown);
    }
}
