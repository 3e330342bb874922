//! Synthetic kafka histories for the checker's tests and benchmark: clients of a perfect
//! log (every send gets the next offset, every poll returns all messages from its position),
//! with ops of several processes interleaved, in the value format the workload records.

use std::collections::BTreeMap;

use rand::{Rng as _, SeedableRng};
use serde_json::{json, Value};

use crate::history::{History, Op, OpType, Process, NANOS_PER_MS};
use crate::Rng;

#[derive(Default)]
struct Client {
    /// The op it has invoked and not completed: (f, key for a send).
    pending: Option<(&'static str, String, i64)>,
    positions: BTreeMap<String, i64>,
}

/// `ops` client operations (each an invocation and an ok completion) by `processes` processes
/// over a pool of 10 keys retired after 16 sends, seeded.
pub fn history(ops: usize, processes: usize, seed: u64) -> History {
    let mut rng = Rng::seed_from_u64(seed);
    let mut logs: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut committed: BTreeMap<String, i64> = BTreeMap::new();
    let mut active: Vec<String> = (0..10).map(|k| k.to_string()).collect();
    let mut next_key = 10;
    let mut writes: BTreeMap<String, i64> = BTreeMap::new();
    let mut clients: Vec<Client> = (0..processes).map(|_| Client::default()).collect();
    let mut h = History::default();
    let mut invoked = 0;
    let mut time = 0;
    let push = |h: &mut History, p: usize, kind, f: &str, value: Value, time: u64| {
        h.push(Op {
            index: 0,
            time: time * NANOS_PER_MS / 10,
            kind,
            process: Process::Client(p as u64),
            f: f.into(),
            value: value.into(),
            error: None,
            is_final: false,
        });
    };
    while invoked < ops || clients.iter().any(|c| c.pending.is_some()) {
        time += 1;
        let p = rng.gen_range(0..processes);
        let client = &mut clients[p];
        match client.pending.take() {
            None if invoked < ops => {
                invoked += 1;
                let roll = rng.gen_range(0..64);
                if roll == 0 {
                    let keys = active.clone();
                    push(
                        &mut h,
                        p,
                        OpType::Invoke,
                        "assign",
                        json!({ "keys": keys }),
                        time,
                    );
                    client.pending = Some(("assign", String::new(), 0));
                } else if roll % 2 == 0 {
                    let slot = rng.gen_range(0..active.len());
                    let key = active[slot].clone();
                    let n = writes.entry(key.clone()).or_default();
                    *n += 1;
                    let msg = *n;
                    if *n >= 16 {
                        active[slot] = next_key.to_string();
                        next_key += 1;
                    }
                    push(
                        &mut h,
                        p,
                        OpType::Invoke,
                        "send",
                        json!([["send", key, msg]]),
                        time,
                    );
                    client.pending = Some(("send", key, msg));
                } else {
                    push(&mut h, p, OpType::Invoke, "poll", json!([["poll"]]), time);
                    client.pending = Some(("poll", String::new(), 0));
                }
            }
            None => {}
            Some(("send", key, msg)) => {
                let log = logs.entry(key.clone()).or_default();
                log.push(msg);
                let offset = log.len() as i64 - 1;
                push(
                    &mut h,
                    p,
                    OpType::Ok,
                    "send",
                    json!([["send", key, [offset, msg]]]),
                    time,
                );
            }
            Some(("assign", _, _)) => {
                let keys = active.clone();
                let answer: BTreeMap<&String, i64> = keys
                    .iter()
                    .filter_map(|k| committed.get(k).map(|&o| (k, o)))
                    .collect();
                let mut positions = BTreeMap::new();
                for k in &keys {
                    let at = client
                        .positions
                        .get(k)
                        .copied()
                        .or_else(|| committed.get(k).copied())
                        .unwrap_or(0);
                    positions.insert(k.clone(), at);
                }
                client.positions = positions;
                let value = json!({"keys": keys, "committed": answer});
                push(&mut h, p, OpType::Ok, "assign", value, time);
            }
            Some(_) => {
                let mut msgs = BTreeMap::new();
                for (key, position) in client.positions.iter_mut() {
                    let log = logs.get(key).map(Vec::as_slice).unwrap_or(&[]);
                    let from = (*position).max(0) as usize;
                    if from >= log.len() {
                        continue;
                    }
                    let read: Vec<[i64; 2]> = (from..log.len().min(from + 20))
                        .map(|o| [o as i64, log[o]])
                        .collect();
                    let last = read[read.len() - 1][0];
                    *position = last + 1;
                    let c = committed.entry(key.clone()).or_insert(last);
                    *c = (*c).max(last);
                    msgs.insert(key.clone(), read);
                }
                push(&mut h, p, OpType::Ok, "poll", json!([["poll", msgs]]), time);
            }
        }
    }
    // The final phase: a fresh process reads every log from offset 0, so nothing is unseen.
    let p = processes;
    let keys: Vec<&String> = logs.keys().collect();
    push(
        &mut h,
        p,
        OpType::Invoke,
        "assign",
        json!({ "keys": keys }),
        time + 1,
    );
    push(
        &mut h,
        p,
        OpType::Ok,
        "assign",
        json!({"keys": keys, "committed": {}}),
        time + 2,
    );
    push(
        &mut h,
        p,
        OpType::Invoke,
        "poll",
        json!([["poll"]]),
        time + 3,
    );
    let all: BTreeMap<&String, Vec<[i64; 2]>> = logs
        .iter()
        .map(|(k, log)| {
            (
                k,
                log.iter()
                    .enumerate()
                    .map(|(o, &m)| [o as i64, m])
                    .collect(),
            )
        })
        .collect();
    push(
        &mut h,
        p,
        OpType::Ok,
        "poll",
        json!([["poll", all]]),
        time + 4,
    );
    h
}
