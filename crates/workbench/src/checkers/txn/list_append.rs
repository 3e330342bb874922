//! list-append: every read shows a prefix of the key's version order, so the longest read of
//! a key orders its appends; reads that are not prefixes of it are incompatible. From that
//! order: ww, wr and rw dependencies.

use std::collections::BTreeSet;

use super::graph::{Graph, RW, WR, WW};
use super::models::needs_anti_dependencies;
use super::txns::{Mop, Outcome, Txns};
use super::{show_list, Found};
use crate::checkers::fast_hash::FastMap;

#[derive(Clone, Copy)]
struct Writer {
    txn: u32,
    /// The transaction's last append to the key.
    last: bool,
}

struct Read {
    key: i64,
    list: (u32, u32),
    txn: u32,
    /// Before the transaction appended to the key itself.
    external: bool,
}

/// Finds the non-cyclic anomalies into `found` and returns the dependency graph.
pub fn analyze(txns: &Txns, prohibited: &BTreeSet<&str>, found: &mut Vec<Found>) -> Graph {
    let mut writers: FastMap<(i64, i64), Writer> = FastMap::default();
    let mut reads: Vec<Read> = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        let mops = txns.mops(t);
        for (i, mop) in mops.iter().enumerate() {
            if let Mop::Write(k, e) = *mop {
                let last = !mops[i + 1..]
                    .iter()
                    .any(|m| matches!(m, Mop::Write(k2, _) if *k2 == k));
                if writers
                    .insert(
                        (k, e),
                        Writer {
                            txn: t as u32,
                            last,
                        },
                    )
                    .is_some()
                {
                    found.push(Found::new(
                        "duplicate-append",
                        format!(
                            "T{} appended {e} to k{k}, which was appended before",
                            txn.id
                        ),
                        vec![txn.id],
                    ));
                }
            }
        }
        if txn.outcome == Outcome::Ok {
            internal(txns, t, &mut reads, found);
        }
    }
    reads.sort_by_key(|r| r.key);
    let mut graph = Graph::new(txns.txns.len());
    let want_rw = needs_anti_dependencies(prohibited);
    let writer_of = |k: i64, e: i64| -> Option<u32> {
        writers
            .get(&(k, e))
            .filter(|w| txns.txns[w.txn as usize].outcome != Outcome::Fail)
            .map(|w| w.txn)
    };
    let mut i = 0;
    while i < reads.len() {
        let key = reads[i].key;
        let j = i + reads[i..].iter().take_while(|r| r.key == key).count();
        let group = &reads[i..j];
        i = j;
        let longest_read = group
            .iter()
            .max_by_key(|r| r.list.1)
            .expect("a group has a read");
        let longest = txns.list(longest_read.list);
        check_elements(txns, key, longest, longest_read.txn, &writers, found);
        // Appends in the order the longest read shows.
        for pair in longest.windows(2) {
            if let (Some(a), Some(b)) = (writer_of(key, pair[0]), writer_of(key, pair[1])) {
                graph.add(a, b, WW, key, pair[0], pair[1]);
            }
        }
        for read in group {
            let list = txns.list(read.list);
            let reader = txns.txns[read.txn as usize].id;
            if list != &longest[..list.len()] {
                found.push(Found::new(
                    "incompatible-order",
                    format!(
                        "T{reader} read k{key}={}, which is not a prefix of {} (read by another transaction)",
                        show_list(list),
                        show_list(longest)
                    ),
                    vec![reader],
                ));
                check_elements(txns, key, list, read.txn, &writers, found);
                continue;
            }
            if !read.external {
                continue;
            }
            if let Some(&e) = list.last() {
                if let Some(w) = writers.get(&(key, e)) {
                    let wt = &txns.txns[w.txn as usize];
                    if w.txn != read.txn && !w.last && wt.outcome != Outcome::Fail {
                        found.push(Found::new(
                            "G1b",
                            format!(
                                "T{reader} read k{key}={}, ending in {e}, an intermediate append of T{}, which appended to k{key} again later (intermediate read)",
                                show_list(list),
                                wt.id
                            ),
                            vec![wt.id, reader],
                        ));
                    }
                }
                if let Some(w) = writer_of(key, e) {
                    graph.add(w, read.txn, WR, key, e, e);
                }
            }
            if want_rw && list.len() < longest.len() {
                if let Some(w) = writer_of(key, longest[list.len()]) {
                    let before = list.last().copied().unwrap_or(super::txns::NIL);
                    graph.add(read.txn, w, RW, key, before, longest[list.len()]);
                }
            }
        }
    }
    graph
}

/// Internal consistency of one ok transaction (each read shows what the transaction read
/// and appended before), collecting its reads.
fn internal(txns: &Txns, t: usize, reads: &mut Vec<Read>, found: &mut Vec<Found>) {
    let txn = &txns.txns[t];
    // Per key: the list the transaction expects, known fully or only its appended tail.
    let mut state: Vec<(i64, bool, Vec<i64>)> = Vec::new();
    for mop in txns.mops(t) {
        match *mop {
            Mop::Write(k, e) => match state.iter_mut().find(|s| s.0 == k) {
                Some(s) => s.2.push(e),
                None => state.push((k, false, vec![e])),
            },
            Mop::ReadList(k, Some(range)) => {
                let list = txns.list(range);
                let entry = state.iter_mut().find(|s| s.0 == k);
                let external = entry.is_none();
                if let Some((_, complete, expected)) = entry {
                    let ok = if *complete {
                        list == expected.as_slice()
                    } else {
                        list.ends_with(expected)
                    };
                    if !ok {
                        found.push(Found::new(
                            "internal",
                            format!(
                                "T{} read k{k}={} but expected {}{} from its own earlier reads and appends",
                                txn.id,
                                show_list(list),
                                if *complete { "" } else { "a list ending in " },
                                show_list(expected)
                            ),
                            vec![txn.id],
                        ));
                    }
                    *complete = true;
                    *expected = list.to_vec();
                } else {
                    state.push((k, true, list.to_vec()));
                }
                reads.push(Read {
                    key: k,
                    list: range,
                    txn: t as u32,
                    external,
                });
            }
            _ => {}
        }
    }
}

/// Elements read that nobody appended, that a failed transaction appended, read twice, or
/// (dirty update) appended by a failed transaction and followed by others.
fn check_elements(
    txns: &Txns,
    key: i64,
    list: &[i64],
    reader: u32,
    writers: &FastMap<(i64, i64), Writer>,
    found: &mut Vec<Found>,
) {
    let reader = txns.txns[reader as usize].id;
    let mut sorted = list.to_vec();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        found.push(Found::new(
            "duplicate-elements",
            format!(
                "T{reader} read k{key}={}, with an element twice",
                show_list(list)
            ),
            vec![reader],
        ));
    }
    for (i, &e) in list.iter().enumerate() {
        match writers.get(&(key, e)) {
            None => found.push(Found::new(
                "garbage-read",
                format!("T{reader} read {e} in k{key}, an element no transaction appended"),
                vec![reader],
            )),
            Some(w) if txns.txns[w.txn as usize].outcome == Outcome::Fail => {
                let writer = txns.txns[w.txn as usize].id;
                found.push(Found::new(
                    "G1a",
                    format!(
                        "T{reader} read {e} in k{key}, appended by T{writer}, which failed (aborted read)"
                    ),
                    vec![writer, reader],
                ));
                if i + 1 < list.len() {
                    found.push(Found::new(
                        "dirty-update",
                        format!(
                            "k{key}={} has {e}, appended by T{writer}, which failed, followed by later appends",
                            show_list(list)
                        ),
                        vec![writer, reader],
                    ));
                }
            }
            Some(_) => {}
        }
    }
}
