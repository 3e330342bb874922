//! The transactional checker for `txn-rw-register` and `txn-list-append`, after Elle: the
//! history becomes transactions ([`txns`]); each workload infers version orders and the
//! non-cyclic anomalies ([`rw_register`], [`list_append`]); the dependency graph (ww, wr, rw,
//! process, real-time edges) is searched for cycles ([`graph`]); and what was found is judged
//! against the anomalies the chosen consistency models prohibit ([`models`]).
//!
//! Each anomaly is explained: a cycle as its transactions (`T<history index>`) and, for each
//! edge, the key and values that make it.

use std::collections::{BTreeMap, BTreeSet};

use crate::checkers::{CheckResult, Validity};
use crate::history::History;

pub mod graph;
pub mod list_append;
pub mod models;
pub mod rw_register;
pub mod txns;

use graph::{Cycle, Edge, PROCESS, REALTIME, RW, WR, WW};
use txns::{Txns, NIL};

pub use models::{parse_models, prohibited};

/// How many examples of each anomaly type the result lists (all are counted).
const EXAMPLES_PER_TYPE: usize = 8;

/// One anomaly found, before judging.
#[derive(Clone, Debug)]
pub struct Found {
    pub kind: String,
    pub message: String,
    pub ops: Vec<usize>,
}

impl Found {
    pub fn new(kind: &str, message: String, ops: Vec<usize>) -> Found {
        Found {
            kind: kind.to_string(),
            message,
            ops,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    RwRegister,
    ListAppend,
}

/// Checks a txn history against `models` (Elle names; unknown ones must have been refused
/// with [`parse_models`] before the run).
pub fn check(history: &History, flavor: Flavor, models: &[String]) -> CheckResult {
    let prohibited = prohibited(models);
    let wants = |variant: &str| prohibited.iter().any(|a| a.ends_with(variant));
    let order = wants("-process") || wants("-realtime");
    let txns = Txns::from_history(history, flavor == Flavor::ListAppend, order);
    let mut found = Vec::new();
    let mut graph = match flavor {
        Flavor::RwRegister => rw_register::analyze(&txns, &prohibited, &mut found),
        Flavor::ListAppend => list_append::analyze(&txns, &prohibited, &mut found),
    };
    graph
        .edges
        .reserve(txns.process.len() + txns.realtime.len());
    if wants("-process") {
        for &(a, b) in &txns.process {
            let process = txns.txns[a as usize].process as i64;
            graph.add(a, b, PROCESS, process, 0, 0);
        }
    }
    if wants("-realtime") {
        for &(a, b) in &txns.realtime {
            graph.add(a, b, REALTIME, 0, 0, 0);
        }
    }
    let (cycles, out_of_budget) = graph.find_cycles(&|class| prohibited.contains(class));
    for cycle in &cycles {
        found.push(Found::new(
            cycle.class,
            explain(&txns, flavor, cycle),
            cycle
                .edges
                .iter()
                .map(|e| txns.txns[e.from as usize].id)
                .collect(),
        ));
    }
    judge(&txns, models, &prohibited, found, out_of_budget)
}

fn judge(
    txns: &Txns,
    models: &[String],
    prohibited: &BTreeSet<&str>,
    found: Vec<Found>,
    out_of_budget: bool,
) -> CheckResult {
    let ok = txns
        .txns
        .iter()
        .filter(|t| t.outcome == txns::Outcome::Ok)
        .count();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut allowed: BTreeSet<String> = BTreeSet::new();
    let mut result = CheckResult::new(Validity::Valid);
    for f in found {
        if !prohibited.contains(f.kind.as_str()) {
            allowed.insert(f.kind);
            continue;
        }
        let n = counts.entry(f.kind.clone()).or_default();
        *n += 1;
        if *n <= EXAMPLES_PER_TYPE {
            result.anomaly(&f.kind, f.message, f.ops);
        }
    }
    if ok == 0 {
        counts.insert("empty-transaction-graph".into(), 1);
        result.anomaly(
            "empty-transaction-graph",
            "no transaction completed ok: there is nothing to check",
            Vec::new(),
        );
    }
    result.valid = if !counts.is_empty() {
        Validity::Invalid
    } else if out_of_budget {
        Validity::Unknown
    } else {
        Validity::Valid
    };
    result.set("consistency_models", models);
    result.set("txn_count", txns.txns.len());
    result.set("ok_count", ok);
    result.set("anomaly_types", counts.keys().collect::<Vec<_>>());
    result.set("anomaly_counts", &counts);
    if !allowed.is_empty() {
        result.set("allowed_anomaly_types", &allowed);
    }
    if out_of_budget {
        result.set("cycle_search_timeout", true);
    }
    if !txns.malformed.is_empty() {
        result.set("malformed_ops", txns.malformed.len());
    }
    result
}

/// "G1c: T12 wrote k3=5, T40 read k3=5; T40 wrote k1=2, T12 wrote k1=7 after it".
fn explain(txns: &Txns, flavor: Flavor, cycle: &Cycle) -> String {
    let steps: Vec<String> = cycle
        .edges
        .iter()
        .map(|e| explain_edge(txns, flavor, e))
        .collect();
    format!(
        "{} cycle over {} transactions: {}",
        cycle.class,
        cycle.edges.len(),
        steps.join("; ")
    )
}

fn explain_edge(txns: &Txns, flavor: Flavor, e: &Edge) -> String {
    let from = txns.txns[e.from as usize].id;
    let to = txns.txns[e.to as usize].id;
    let k = e.key;
    match (e.kind, flavor) {
        (WW, Flavor::RwRegister) => {
            // The two sources of rw-register version orders: writes follow reads, and the
            // value the key ends with (the final reads).
            let read_first = txns.mops(e.to as usize).contains(&txns::Mop::Read(k, e.a));
            let why = if read_first {
                format!("T{to} read k{k}={} before writing it", e.a)
            } else {
                format!("k{k} ends with {}", e.b)
            };
            format!(
                "T{from} wrote k{k}={}, T{to} wrote k{k}={}, a later version: {why} (ww)",
                e.a, e.b
            )
        }
        (WR, Flavor::RwRegister) => {
            format!("T{from} wrote k{k}={}, T{to} read k{k}={} (wr)", e.a, e.b)
        }
        (RW, Flavor::RwRegister) => format!(
            "T{from} read k{k}={}, T{to} wrote k{k}={}, a later version (rw)",
            show(e.a),
            e.b
        ),
        (WW, Flavor::ListAppend) => format!(
            "T{from} appended {} to k{k}, T{to} appended {} right after (ww)",
            e.a, e.b
        ),
        (WR, Flavor::ListAppend) => format!(
            "T{from} appended {} to k{k}, T{to} read k{k} ending in {} (wr)",
            e.a, e.b
        ),
        (RW, Flavor::ListAppend) => format!(
            "T{from} read k{k} {}, T{to} appended {} after that (rw)",
            if e.a == NIL {
                "empty".to_string()
            } else {
                format!("ending in {}", e.a)
            },
            e.b
        ),
        (PROCESS, _) => format!("T{from} then T{to} on process {k} (process)"),
        _ => format!("T{from} completed before T{to} was invoked (realtime)"),
    }
}

/// A register value as the history shows it.
pub fn show(v: i64) -> String {
    if v == NIL {
        "nil".into()
    } else {
        v.to_string()
    }
}

pub fn show_list(list: &[i64]) -> String {
    let items: Vec<String> = list.iter().map(|v| v.to_string()).collect();
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests;
