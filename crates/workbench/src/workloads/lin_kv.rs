//! `lin-kv`, Maelstrom's default workload: a linearizable key-value store of registers.
//!
//! Clients `read` a key, `write` a value to it, or `cas` it from one value to another. Keys are
//! the integers 0, 1, 2, ...; each key is worked on by a group of 2N workers (N the node
//! count): the group's first N workers only read, the others write or cas, one write for two
//! cas, with values 0 to 4. A group moves to the next unused key once 20 distinct processes
//! have touched its key (a worker becomes a new process after each indeterminate result).
//! So `--concurrency` must be a multiple of 2N. A client waits max(10 x latency, 1 s) for a
//! reply. Reads are idempotent: a read that times out failed. Errors 20 (key does not exist)
//! and 22 (precondition failed) are definite.
//!
//! The history records Jepsen's independent tuples: `read` is invoked with `[k, null]` and
//! completes with `[k, value]`; `write` carries `[k, v]`; `cas` carries `[k, [from, to]]`. The
//! checker ([`crate::checkers::linear`]) checks each key for linearizability against a
//! compare-and-set register that starts as null.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::Rng as _;
use serde_json::{json, Map, Value};

use super::{closed_schema, Invocation, Request, Workload, WorkloadOptions};
use crate::checkers::linear::{check_register_history, LinearOptions};
use crate::checkers::CheckResult;
use crate::history::{History, Nanos, OpType, NANOS_PER_MS};
use crate::Rng;

/// Distinct processes that may touch a key before its group moves on (Jepsen's default).
pub const PROCESS_LIMIT: usize = 20;

pub struct LinKv {
    /// N: readers per group; a group is 2N workers.
    readers: usize,
    concurrency: usize,
    /// Per group: its current key and the processes that touched it.
    groups: Vec<(i64, BTreeSet<u64>)>,
    next_key: i64,
    /// Per worker: its current process number.
    process: Vec<u64>,
    timeout: Nanos,
    checker: LinearOptions,
}

impl LinKv {
    pub fn new(opts: &WorkloadOptions) -> anyhow::Result<LinKv> {
        let n = opts.node_ids.len();
        let group = 2 * n;
        anyhow::ensure!(
            opts.concurrency.is_multiple_of(group),
            "lin-kv needs --concurrency to be a multiple of 2 x the node count ({group} for {n} \
             nodes): each key is worked on by a group of {group} workers, {n} of them reading; \
             got {}",
            opts.concurrency
        );
        let groups = opts.concurrency / group;
        Ok(LinKv {
            readers: n,
            concurrency: opts.concurrency,
            groups: (0..groups as i64).map(|k| (k, BTreeSet::new())).collect(),
            next_key: groups as i64,
            process: (0..opts.concurrency as u64).collect(),
            timeout: (10 * opts.latency_ms).max(1000) * NANOS_PER_MS,
            checker: LinearOptions {
                timeout: Duration::from_secs_f64(opts.checker_timeout_secs),
                ..LinearOptions::default()
            },
        })
    }

    /// The key worker `w` works on now, moving its group to a fresh key when a new process
    /// would be the 21st to touch the current one.
    fn key_for(&mut self, w: usize) -> i64 {
        let process = self.process[w];
        let (key, touched) = &mut self.groups[w / (2 * self.readers)];
        if !touched.contains(&process) && touched.len() >= PROCESS_LIMIT {
            *key = self.next_key;
            self.next_key += 1;
            touched.clear();
        }
        touched.insert(process);
        *key
    }
}

impl Workload for LinKv {
    fn name(&self) -> &'static str {
        "lin-kv"
    }

    fn next_op(&mut self, worker: usize, rng: &mut Rng) -> Invocation {
        let key = self.key_for(worker);
        if worker % (2 * self.readers) < self.readers {
            return Invocation::new("read", json!([key, null]));
        }
        if rng.gen_range(0..3) == 0 {
            Invocation::new("write", json!([key, rng.gen_range(0..5)]))
        } else {
            let from: i64 = rng.gen_range(0..5);
            let to: i64 = rng.gen_range(0..5);
            Invocation::new("cas", json!([key, [from, to]]))
        }
    }

    fn request(&self, op: &Invocation) -> Request {
        let op_value = op.value.to_json();
        let key = &op_value[0];
        let value = &op_value[1];
        match op.f {
            "read" => Request::writer("read").field("key", key).finish(),
            "write" => Request::writer("write")
                .field("key", key)
                .field("value", value)
                .finish(),
            _ => Request::writer("cas")
                .field("from", &value[0])
                .field("key", key)
                .field("to", &value[1])
                .finish(),
        }
    }

    /// `read_ok` has `value` (any JSON); `write_ok` and `cas_ok` have no fields.
    fn response(&self, op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String> {
        match op.f {
            "read" => {
                closed_schema(reply, "read_ok", &["value"])?;
                Ok(json!([op.value.to_json()[0], reply["value"]]))
            }
            "write" => {
                closed_schema(reply, "write_ok", &[])?;
                Ok(op.value.to_json().into_owned())
            }
            _ => {
                closed_schema(reply, "cas_ok", &[])?;
                Ok(op.value.to_json().into_owned())
            }
        }
    }

    fn completed(&mut self, worker: usize, _op: &Invocation, kind: OpType) {
        if kind == OpType::Info {
            self.process[worker] += self.concurrency as u64;
        }
    }

    fn timeout(&self) -> Nanos {
        self.timeout
    }

    fn idempotent(&self, f: &str) -> bool {
        f == "read"
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn check(&self, history: &History) -> CheckResult {
        check_register_history(history, &self.checker)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn lin_kv(nodes: usize, concurrency: usize) -> anyhow::Result<LinKv> {
        LinKv::new(&WorkloadOptions {
            concurrency,
            ..WorkloadOptions::new(nodes)
        })
    }

    fn reply(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn concurrency_must_be_a_multiple_of_twice_the_node_count() {
        assert!(lin_kv(3, 6).is_ok());
        assert!(lin_kv(3, 12).is_ok());
        let err = lin_kv(3, 3).err().unwrap().to_string();
        assert!(
            err.contains("multiple of 2 x the node count (6 for 3 nodes)"),
            "{err}"
        );
        assert!(lin_kv(5, 15).is_err());
    }

    #[test]
    fn groups_of_2n_workers_n_readers_each_on_their_own_key() {
        let mut w = lin_kv(2, 8).unwrap();
        let mut rng = Rng::seed_from_u64(1);
        let mut writes = 0;
        let mut cas = 0;
        for round in 0..3000 {
            let worker = round % 8;
            let op = w.next_op(worker, &mut rng);
            let value = op.value.to_json();
            let key = value[0].as_i64().unwrap();
            // Workers 0-3 are group 0 (key 0), 4-7 group 1 (key 1); no info, so no retirement.
            assert_eq!(key, (worker / 4) as i64);
            match (worker % 4 < 2, op.f) {
                (true, "read") => assert_eq!(value[1], Value::Null),
                (false, "write") => {
                    writes += 1;
                    assert!((0..5).contains(&value[1].as_i64().unwrap()));
                }
                (false, "cas") => {
                    cas += 1;
                    let [from, to] = [&value[1][0], &value[1][1]].map(|v| v.as_i64().unwrap());
                    assert!((0..5).contains(&from) && (0..5).contains(&to));
                }
                other => panic!("worker {worker} got {other:?}"),
            }
        }
        let share = cas as f64 / (cas + writes) as f64;
        assert!((share - 2.0 / 3.0).abs() < 0.03, "cas share {share}");
    }

    #[test]
    fn a_key_retires_when_a_21st_process_would_touch_it() {
        let mut w = lin_kv(1, 2).unwrap();
        let mut rng = Rng::seed_from_u64(1);
        let mut keys = Vec::new();
        // Worker 1 writes; every op ends info, so each is a new process.
        for _ in 0..25 {
            let op = w.next_op(1, &mut rng);
            keys.push(op.value.to_json()[0].as_i64().unwrap());
            w.completed(1, &op, OpType::Info);
        }
        // Worker 0's process touched key 0 first, so worker 1 brings 19 processes to key 0.
        let reader = w.next_op(0, &mut rng);
        assert_eq!(reader.value.to_json()[0], json!(1));
        assert!(keys[..20].iter().all(|&k| k == 0), "{keys:?}");
        assert!(keys[20..].iter().all(|&k| k == 1), "{keys:?}");
    }

    #[test]
    fn requests_responses_and_outcomes() {
        let w = lin_kv(1, 2).unwrap();
        let read = Invocation::new("read", json!([3, null]));
        let write = Invocation::new("write", json!([3, 4]));
        let cas = Invocation::new("cas", json!([3, [1, 2]]));
        assert_eq!(
            w.request(&read).to_value(),
            json!({"type": "read", "key": 3})
        );
        assert_eq!(
            w.request(&write).to_value(),
            json!({"type": "write", "key": 3, "value": 4})
        );
        assert_eq!(
            w.request(&cas).to_value(),
            json!({"type": "cas", "key": 3, "from": 1, "to": 2})
        );
        let ok = reply(json!({"type": "read_ok", "in_reply_to": 1, "value": 2}));
        assert_eq!(w.response(&read, &ok), Ok(json!([3, 2])));
        let extra = reply(json!({"type": "read_ok", "in_reply_to": 1, "value": 2, "x": 0}));
        assert!(w.response(&read, &extra).is_err());
        let ok = reply(json!({"type": "cas_ok", "in_reply_to": 1}));
        assert_eq!(w.response(&cas, &ok), Ok(json!([3, [1, 2]])));
        assert!(w.response(&write, &ok).is_err());
        assert!(w.idempotent("read") && !w.idempotent("cas") && !w.idempotent("write"));
        assert!(w.reusable_client());
        assert_eq!(w.timeout(), 1000 * NANOS_PER_MS);
        let slow = LinKv::new(&WorkloadOptions {
            concurrency: 2,
            latency_ms: 250,
            ..WorkloadOptions::new(1)
        })
        .unwrap();
        assert_eq!(slow.timeout(), 2500 * NANOS_PER_MS);
    }
}
