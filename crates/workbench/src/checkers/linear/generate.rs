//! Random lin-kv histories of a register that really is linearizable, for the checker's
//! benchmark and tests: processes run ops concurrently, each op takes effect at one random
//! moment between its invocation and its completion, and some ops end indeterminate (taking
//! effect or not).

use rand::{Rng as _, SeedableRng};
use serde_json::{json, Value};

use crate::history::{History, Op, OpType, OpValue, Process};
use crate::Rng;

#[derive(Clone, Debug)]
pub struct GenParams {
    pub keys: usize,
    /// Operations invoked per key.
    pub ops_per_key: usize,
    /// Processes working on each key at once.
    pub concurrency: usize,
    /// Chance that an op ends indeterminate (`info`).
    pub info_rate: f64,
    /// Share of reads; the rest are write:cas 1:2, as the lin-kv workload.
    pub read_share: f64,
    /// Values are 0..values.
    pub values: i64,
}

impl Default for GenParams {
    fn default() -> GenParams {
        GenParams {
            keys: 1,
            ops_per_key: 100,
            concurrency: 5,
            info_rate: 0.02,
            read_share: 0.5,
            values: 5,
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    /// Invoked, not yet taken effect.
    Running,
    /// Took effect, with this completion (ok or fail) and recorded value.
    Applied,
}

struct Worker {
    process: u64,
    phase: Phase,
    f: &'static str,
    invoke_value: Value,
    outcome: (OpType, Value),
}

/// A linearizable history: keys one after another, each key's ops interleaved at random.
pub fn linearizable_history(params: &GenParams, seed: u64) -> History {
    let mut rng = Rng::seed_from_u64(seed);
    let mut history = History::default();
    let mut time = 0;
    for key in 0..params.keys as i64 {
        one_key(params, key, &mut rng, &mut history, &mut time);
    }
    history
}

fn one_key(params: &GenParams, key: i64, rng: &mut Rng, history: &mut History, time: &mut u64) {
    let c = params.concurrency.max(1);
    let mut register = Value::Null;
    let mut workers: Vec<Worker> = (0..c)
        .map(|p| Worker {
            process: p as u64 + key as u64 * 1_000_000,
            phase: Phase::Idle,
            f: "read",
            invoke_value: Value::Null,
            outcome: (OpType::Ok, Value::Null),
        })
        .collect();
    let mut invoked = 0;
    let push = |history: &mut History, time: &mut u64, process, kind, f: &str, value| {
        *time += 1;
        history.push(Op {
            index: 0,
            time: *time,
            kind,
            process: Process::Client(process),
            f: f.into(),
            value: OpValue::Json(value),
            error: None,
            is_final: false,
        });
    };
    loop {
        let busy = workers.iter().any(|w| w.phase != Phase::Idle);
        if invoked >= params.ops_per_key && !busy {
            return;
        }
        let w = &mut workers[rng.gen_range(0..c)];
        match w.phase {
            Phase::Idle if invoked < params.ops_per_key => {
                invoked += 1;
                let (f, value) = if rng.gen_bool(params.read_share) {
                    ("read", Value::Null)
                } else if rng.gen_range(0..3) == 0 {
                    ("write", json!(rng.gen_range(0..params.values)))
                } else {
                    let from = rng.gen_range(0..params.values);
                    let to = rng.gen_range(0..params.values);
                    ("cas", json!([from, to]))
                };
                w.f = f;
                w.invoke_value = value.clone();
                w.phase = Phase::Running;
                push(
                    history,
                    time,
                    w.process,
                    OpType::Invoke,
                    f,
                    json!([key, value]),
                );
            }
            Phase::Idle => {}
            Phase::Running if rng.gen_bool(params.info_rate / 2.0) => {
                // Times out before taking effect, and never takes it.
                let recorded = if w.f == "read" {
                    Value::Null
                } else {
                    w.invoke_value.clone()
                };
                push(
                    history,
                    time,
                    w.process,
                    OpType::Info,
                    w.f,
                    json!([key, recorded]),
                );
                w.phase = Phase::Idle;
                w.process += c as u64;
            }
            Phase::Running => {
                // The op takes effect now.
                w.outcome = match w.f {
                    "read" => (OpType::Ok, register.clone()),
                    "write" => {
                        register = w.invoke_value.clone();
                        (OpType::Ok, w.invoke_value.clone())
                    }
                    _ => {
                        if register == w.invoke_value[0] {
                            register = w.invoke_value[1].clone();
                            (OpType::Ok, w.invoke_value.clone())
                        } else {
                            (OpType::Fail, w.invoke_value.clone())
                        }
                    }
                };
                w.phase = Phase::Applied;
            }
            Phase::Applied => {
                let (mut kind, value) = w.outcome.clone();
                if rng.gen_bool(params.info_rate) {
                    kind = OpType::Info;
                }
                let recorded = if kind == OpType::Info && w.f == "read" {
                    Value::Null
                } else {
                    value
                };
                push(history, time, w.process, kind, w.f, json!([key, recorded]));
                w.phase = Phase::Idle;
                if kind == OpType::Info {
                    // Jepsen gives the worker a new process after an indeterminate result.
                    w.process += c as u64;
                }
            }
        }
    }
}
