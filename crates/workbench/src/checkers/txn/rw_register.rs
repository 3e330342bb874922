//! rw-register: version orders inferred as Elle does (the initial nil before every write, a
//! transaction's read before its own write of the same key), plus our final reads: after the
//! main phase every key is read once more, and the value it ends with was written after every
//! other write of that key. From those orders: ww, wr and rw dependencies.

use std::collections::BTreeSet;

use super::graph::{Graph, RW, WR, WW};
use super::txns::{IntMap, Mop, Outcome, Txns, NIL};
use super::{show, Found};

#[derive(Clone, Copy)]
struct Writer {
    txn: u32,
    /// The transaction's last write of the key (its external write).
    last: bool,
}

/// Finds the non-cyclic anomalies into `found` and returns the dependency graph.
pub fn analyze(txns: &Txns, prohibited: &BTreeSet<&str>, found: &mut Vec<Found>) -> Graph {
    let mut writers: IntMap<(i64, i64), Writer> = IntMap::default();
    writers.reserve(txns.mops.len());
    // (key, value, reader): reads of a key before the transaction wrote or read it.
    let mut ext_reads: Vec<(i64, i64, u32)> = Vec::new();
    // (key, value, writer): each ok or info transaction's last write per key.
    let mut ext_writes: Vec<(i64, i64, u32)> = Vec::new();
    // (key, earlier, later) version orders.
    let mut versions: Vec<(i64, i64, i64)> = Vec::new();
    let mut finals: Vec<(i64, i64, u32)> = Vec::new();
    let mut known: Vec<(i64, i64)> = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        let mops = txns.mops(t);
        for (i, mop) in mops.iter().enumerate() {
            if let Mop::Write(k, v) = *mop {
                let last = !mops[i + 1..]
                    .iter()
                    .any(|m| matches!(m, Mop::Write(k2, _) if *k2 == k));
                writers.entry((k, v)).or_insert(Writer {
                    txn: t as u32,
                    last,
                });
                if last && txn.outcome != Outcome::Fail {
                    ext_writes.push((k, v, t as u32));
                }
            }
        }
        if txn.outcome != Outcome::Ok {
            continue;
        }
        // Internal consistency, external reads, and writes that follow reads.
        known.clear();
        for mop in mops {
            match *mop {
                Mop::Read(k, v) => match known.iter_mut().find(|(k2, _)| *k2 == k) {
                    Some((_, expected)) => {
                        if *expected != v {
                            found.push(Found::new(
                                "internal",
                                format!(
                                    "T{} read k{k}={} after it had written or read k{k}={}",
                                    txn.id,
                                    show(v),
                                    show(*expected)
                                ),
                                vec![txn.id],
                            ));
                        }
                        *expected = v;
                    }
                    None => {
                        known.push((k, v));
                        ext_reads.push((k, v, t as u32));
                        if txn.is_final && v != NIL {
                            finals.push((k, v, t as u32));
                        }
                    }
                },
                Mop::Write(k, v) => match known.iter_mut().find(|(k2, _)| *k2 == k) {
                    Some((_, expected)) => {
                        if let Some(&(_, r, _)) = ext_reads
                            .iter()
                            .rev()
                            .take_while(|(_, _, reader)| *reader == t as u32)
                            .find(|(k2, _, _)| *k2 == k)
                        {
                            if r != v {
                                versions.push((k, r, v));
                            }
                        }
                        *expected = v;
                    }
                    None => known.push((k, v)),
                },
                Mop::ReadList(..) => {}
            }
        }
    }
    // Reads judged against their writers.
    for &(k, v, r) in &ext_reads {
        if v == NIL {
            continue;
        }
        let reader = txns.txns[r as usize].id;
        match writers.get(&(k, v)) {
            None => found.push(Found::new(
                "garbage-read",
                format!("T{reader} read k{k}={v}, a value no transaction wrote"),
                vec![reader],
            )),
            Some(w) => {
                let wt = &txns.txns[w.txn as usize];
                if w.txn == r {
                    found.push(Found::new(
                        "future-read",
                        format!("T{reader} read k{k}={v} before it wrote it itself"),
                        vec![reader],
                    ));
                } else if wt.outcome == Outcome::Fail {
                    found.push(Found::new(
                        "G1a",
                        format!(
                            "T{reader} read k{k}={v}, written by T{}, which failed (aborted read)",
                            wt.id
                        ),
                        vec![wt.id, reader],
                    ));
                } else if !w.last {
                    found.push(Found::new(
                        "G1b",
                        format!(
                            "T{reader} read k{k}={v}, an intermediate write of T{}, which wrote k{k} again later (intermediate read)",
                            wt.id
                        ),
                        vec![wt.id, reader],
                    ));
                }
            }
        }
    }
    // Version orders: nil first; the final value last.
    ext_writes.sort_unstable();
    for &(k, v, _) in &ext_writes {
        versions.push((k, NIL, v));
    }
    finals.sort_unstable();
    finals.dedup_by_key(|f| (f.0, f.1));
    for &(k, last, _) in &finals {
        let from = ext_writes.partition_point(|w| w.0 < k);
        for &(_, v, _) in ext_writes[from..].iter().take_while(|w| w.0 == k) {
            if v != last {
                versions.push((k, v, last));
            }
        }
    }
    versions.sort_unstable();
    versions.dedup();
    cyclic_versions(&versions, found);

    let mut graph = Graph::new(txns.txns.len());
    let writer_of = |k: i64, v: i64| -> Option<u32> {
        writers
            .get(&(k, v))
            .filter(|w| txns.txns[w.txn as usize].outcome != Outcome::Fail)
            .map(|w| w.txn)
    };
    for &(k, v, r) in &ext_reads {
        if v != NIL {
            if let Some(w) = writer_of(k, v) {
                graph.add(w, r, WR, k, v, v);
            }
        }
    }
    let want_rw = [
        "G-single",
        "G2-item",
        "G2-item-realtime",
        "G-single-realtime",
    ]
    .iter()
    .any(|a| prohibited.contains(a));
    if want_rw {
        ext_reads.sort_unstable();
    }
    for &(k, a, b) in &versions {
        let Some(wb) = writer_of(k, b) else { continue };
        if a != NIL {
            if let Some(wa) = writer_of(k, a) {
                graph.add(wa, wb, WW, k, a, b);
            }
        }
        if want_rw {
            let from = ext_reads.partition_point(|r| (r.0, r.1) < (k, a));
            for &(_, _, r) in ext_reads[from..]
                .iter()
                .take_while(|r| (r.0, r.1) == (k, a))
            {
                graph.add(r, wb, RW, k, a, b);
            }
        }
    }
    graph
}

/// A key whose versions are ordered both ways (e.g. replicas that ended with different
/// values, or a read-then-write order contradicting the final value).
fn cyclic_versions(versions: &[(i64, i64, i64)], found: &mut Vec<Found>) {
    let mut i = 0;
    while i < versions.len() {
        let k = versions[i].0;
        let j = i + versions[i..].iter().take_while(|v| v.0 == k).count();
        let edges: Vec<(i64, i64)> = versions[i..j]
            .iter()
            .filter(|v| v.1 != NIL)
            .map(|v| (v.1, v.2))
            .collect();
        if !edges.is_empty() {
            // Kahn's algorithm: whatever cannot be ordered lies on a cycle.
            let mut nodes: Vec<i64> = edges.iter().flat_map(|&(a, b)| [a, b]).collect();
            nodes.sort_unstable();
            nodes.dedup();
            let mut indegree: IntMap<i64, usize> = IntMap::default();
            for &(_, b) in &edges {
                *indegree.entry(b).or_default() += 1;
            }
            let mut ready: Vec<i64> = nodes
                .iter()
                .copied()
                .filter(|n| !indegree.contains_key(n))
                .collect();
            let mut done = 0;
            while let Some(n) = ready.pop() {
                done += 1;
                for &(_, b) in edges.iter().filter(|e| e.0 == n) {
                    let d = indegree.get_mut(&b).expect("counted");
                    *d -= 1;
                    if *d == 0 {
                        ready.push(b);
                    }
                }
            }
            if done < nodes.len() {
                let stuck: Vec<String> = nodes
                    .iter()
                    .filter(|n| indegree.get(n).is_some_and(|d| *d > 0))
                    .map(|n| n.to_string())
                    .collect();
                found.push(Found::new(
                    "cyclic-versions",
                    format!(
                        "the versions of k{k} are ordered both ways among {{{}}} (did replicas end with different values?)",
                        stuck.join(", ")
                    ),
                    Vec::new(),
                ));
            }
        }
        i = j;
    }
}
