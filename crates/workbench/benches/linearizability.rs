//! The lin-kv checker on generated histories of a linearizable cas register: sizes and
//! concurrency in the table, time as the median of three runs.
//!
//! `cargo bench -p glomers-workbench --bench linearizability`
//!
//! With `LINEAR_BENCH_EXPORT=DIR` each history is also written to `DIR/<case>.txt`, one op per
//! line (`key process call return f a b`, indices in history order, return -1 for an
//! indeterminate op, `a b` = value, or from and to, -1 for null), to feed other checkers the
//! very same histories.

use std::time::{Duration, Instant};

use glomers_workbench::checkers::linear::budget::Budget;
use glomers_workbench::checkers::linear::ops::split_by_key;
use glomers_workbench::checkers::linear::wgl;

use glomers_workbench::checkers::linear::generate::{linearizable_history, GenParams};
use glomers_workbench::checkers::linear::{check_register_history, LinearOptions};
use glomers_workbench::checkers::Validity;
use glomers_workbench::history::{History, Op, OpType, Process};
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    params: GenParams,
    /// End key 0 with a write of 7 and then a read of 8: the history is not linearizable,
    /// and the search finds out only after exhausting the orders of everything before.
    impossible_end: bool,
}

fn cases() -> Vec<Case> {
    let p = |keys, ops_per_key, concurrency, info_rate| GenParams {
        keys,
        ops_per_key,
        concurrency,
        info_rate,
        ..GenParams::default()
    };
    vec![
        // What a lin-kv run looks like: many short keys.
        Case {
            name: "linkv-200x100-c10",
            params: p(200, 100, 10, 0.02),
            impossible_end: false,
        },
        Case {
            name: "1x10000-c5",
            params: p(1, 10_000, 5, 0.0),
            impossible_end: false,
        },
        Case {
            name: "1x5000-c10",
            params: p(1, 5_000, 10, 0.0),
            impossible_end: false,
        },
        Case {
            name: "1x2000-c20",
            params: p(1, 2_000, 20, 0.0),
            impossible_end: false,
        },
        Case {
            name: "1x1000-c10-info5",
            params: p(1, 1_000, 10, 0.05),
            impossible_end: false,
        },
        Case {
            name: "8x2000-c10-info1",
            params: p(8, 2_000, 10, 0.01),
            impossible_end: false,
        },
        Case {
            name: "bad-1x2000-c10",
            params: p(1, 2_000, 10, 0.0),
            impossible_end: true,
        },
        Case {
            name: "bad-1x1000-c10-info5",
            params: p(1, 1_000, 10, 0.05),
            impossible_end: true,
        },
    ]
}

fn main() {
    let export = std::env::var_os("LINEAR_BENCH_EXPORT").map(std::path::PathBuf::from);
    if let Some(dir) = &export {
        std::fs::create_dir_all(dir).expect("export directory");
    }
    println!(
        "{:<22} {:>5} {:>8} {:>5} {:>6} {:>10} {:>12} {:>8}",
        "case", "keys", "ops/key", "conc", "info", "median ms", "search-only", "verdict"
    );
    for case in cases() {
        let mut history = linearizable_history(&case.params, 1);
        if case.impossible_end {
            append_impossible_read(&mut history);
        }
        if let Some(dir) = &export {
            std::fs::write(
                dir.join(format!("{}.txt", case.name)),
                export_text(&history),
            )
            .expect("export");
        }
        let mut times = Vec::new();
        let mut verdict = Validity::Valid;
        for _ in 0..3 {
            let start = Instant::now();
            let result = check_register_history(&history, &LinearOptions::default());
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            verdict = result.valid;
        }
        times.sort_by(f64::total_cmp);
        // The verdict alone (the search, no explanation), one thread, as Porcupine reports.
        let keys = split_by_key(&history).keys;
        let mut search = Vec::new();
        for _ in 0..3 {
            let budget = Budget::new(Duration::from_secs(60), 2 << 30);
            let start = Instant::now();
            for key in &keys {
                wgl::check(key, &budget);
            }
            search.push(start.elapsed().as_secs_f64() * 1000.0);
        }
        search.sort_by(f64::total_cmp);
        let p = &case.params;
        println!(
            "{:<22} {:>5} {:>8} {:>5} {:>6} {:>10.2} {:>12.2} {:>8}",
            case.name,
            p.keys,
            p.ops_per_key,
            p.concurrency,
            p.info_rate,
            times[1],
            search[1],
            verdict.to_json()
        );
    }
}

/// Appends, on key 0 and after everything else, a write of 7 and then a read of 8.
fn append_impossible_read(history: &mut History) {
    let time = history.ops.last().map_or(0, |op| op.time);
    let process = Process::Client(u64::MAX / 2);
    for (kind, f, value) in [
        (OpType::Invoke, "write", json!([0, 7])),
        (OpType::Ok, "write", json!([0, 7])),
        (OpType::Invoke, "read", json!([0, null])),
        (OpType::Ok, "read", json!([0, 8])),
    ] {
        history.push(Op {
            index: 0,
            time: time + 1,
            kind,
            process,
            f: f.into(),
            value: value.into(),
            error: None,
            is_final: false,
        });
    }
}

fn export_text(history: &History) -> String {
    let num = |v: &Value| v.as_i64().unwrap_or(-1);
    let mut out = String::new();
    for pair in history.pairs() {
        let outcome = pair.outcome();
        if outcome == OpType::Fail || (outcome != OpType::Ok && pair.invoke.f == "read") {
            continue;
        }
        let invoked = pair.invoke.value.to_json();
        let key = num(&invoked[0]);
        let ret = match outcome {
            OpType::Ok => pair.completion.map_or(-1, |c| c.index as i64),
            _ => -1,
        };
        let (a, b) = match pair.invoke.f.as_str() {
            "read" => (num(&pair.completion.expect("ok").value.to_json()[1]), -1),
            "write" => (num(&invoked[1]), -1),
            _ => (num(&invoked[1][0]), num(&invoked[1][1])),
        };
        let process = match pair.invoke.process {
            Process::Client(p) => p as i64,
            _ => -1,
        };
        out.push_str(&format!(
            "{key} {process} {} {ret} {} {a} {b}\n",
            pair.invoke.index, pair.invoke.f
        ));
    }
    out
}
