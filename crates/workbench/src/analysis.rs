//! Composes the checkers over a finished run into Maelstrom's results map: `workload`,
//! `stats`, `availability`, `net`, `perf`, plus the workbench's own diagnostics, and the
//! overall verdict (the worst of them).

use serde_json::{json, Map, Value};

use crate::checkers::availability::{availability_of, Availability};
use crate::checkers::op_summary::OpSummary;
use crate::checkers::stats::stats_of;
use crate::checkers::{quantiles, CheckResult, Validity};
use crate::history::NANOS_PER_MS;
use crate::net::NetStats;
use crate::runner::{RunOutput, TestOptions};
use crate::workloads::Workload;

/// The verdict and everything `results.json` holds.
pub struct Results {
    pub valid: Validity,
    pub workload: CheckResult,
    pub stats: CheckResult,
    pub availability: CheckResult,
    pub net: Value,
    pub perf: Value,
}

impl Results {
    /// Servers messages per client operation (the figure the 3d/3e criteria read).
    pub fn servers_msgs_per_op(&self) -> f64 {
        self.net["servers"]["msgs_per_op"].as_f64().unwrap_or(0.0)
    }

    pub fn to_json(&self, opts: &TestOptions, run: &RunOutput) -> Value {
        json!({
            "valid": self.valid.to_json(),
            "workload": self.workload.to_json(),
            "stats": self.stats.to_json(),
            "availability": self.availability.to_json(),
            "net": self.net,
            "perf": self.perf,
            "errors": run.diagnostics,
            "errors_not_shown": run.diagnostics_dropped,
            "aborted": run.aborted,
            "test": test_json(opts),
        })
    }
}

pub fn analyze(opts: &TestOptions, run: &RunOutput, workload: &dyn Workload) -> Results {
    let history = &run.history;
    let workload_result = workload.check(history);
    // Stats, availability and latencies from one pass over the ops.
    let summary = OpSummary::of(history);
    let mut stats = stats_of(&summary);
    let availability = availability_of(&summary, history, opts.availability);
    let invocations = summary.invocations();
    if invocations == 0 {
        // Jepsen's stats checker calls an empty history valid; a run that checked nothing is
        // not (rate, time limit or concurrency left no room for one operation).
        stats.valid = stats.valid.worst(Validity::Unknown);
        stats.anomaly(
            "nothing-checked",
            "no client operation was invoked, so nothing was checked: raise --rate or \
             --time-limit",
            Vec::new(),
        );
    }
    let net = net_json(&run.net, invocations);
    let perf = perf_json(run, &summary);
    let mut valid = workload_result
        .valid
        .worst(stats.valid)
        .worst(availability.valid);
    if run.error_count > 0 || run.aborted {
        valid = Validity::Invalid;
    }
    Results {
        valid,
        workload: workload_result,
        stats,
        availability,
        net,
        perf,
    }
}

/// Maelstrom's `:net` map: all / clients / servers counts, msgs-per-op for all and servers.
pub fn net_json(stats: &NetStats, invocations: usize) -> Value {
    let per_op = |count: u64| {
        if invocations == 0 {
            Value::Null
        } else {
            json!(count as f64 / invocations as f64)
        }
    };
    let mut all = serde_json::to_value(stats.all).expect("counts serialize");
    all["msgs_per_op"] = per_op(stats.all.msg_count);
    let mut servers = serde_json::to_value(stats.servers).expect("counts serialize");
    servers["msgs_per_op"] = per_op(stats.servers.msg_count);
    json!({
        "all": all,
        "clients": stats.clients,
        "servers": servers,
        "dropped_by_partitions": stats.dropped,
        "valid": true,
    })
}

/// Latency quantiles (ms) of ok ops per `f`, and the run's timing.
fn perf_json(run: &RunOutput, summary: &OpSummary<'_>) -> Value {
    let latency: Map<String, Value> = summary
        .by_f
        .iter()
        .filter(|s| !s.ok_latencies.is_empty())
        .map(|s| {
            let mut latencies = s.ok_latencies.clone();
            let quantiles = quantiles(&mut latencies, NANOS_PER_MS);
            (s.f.to_string(), Value::Object(quantiles))
        })
        .collect();
    json!({
        "latency_ms": latency,
        "test_time_s": run.end_time as f64 / 1e9,
        "valid": true,
    })
}

fn test_json(opts: &TestOptions) -> Value {
    json!({
        "workload": opts.workload,
        "node_count": opts.node_count,
        "time_limit": opts.time_limit_secs,
        "rate": opts.rate,
        "concurrency": opts.concurrency,
        "latency": opts.latency.mean_ms,
        "latency_dist": format!("{:?}", opts.latency.dist).to_lowercase(),
        "nemesis": if opts.partitions { vec!["partition"] } else { vec![] },
        "nemesis_interval": opts.nemesis_interval_secs,
        "topology": opts.topology,
        "availability": match opts.availability {
            None => Value::Null,
            Some(Availability::Total) => json!("total"),
            Some(Availability::Fraction(p)) => json!(p),
        },
        "seed": opts.seed,
        // What `glomers check` needs to judge a txn run again as it was judged.
        "consistency_models": opts.consistency_models,
        "key_count": opts.key_count,
        "max_txn_length": opts.max_txn_length,
        "max_writes_per_key": opts.max_writes_per_key,
    })
}
