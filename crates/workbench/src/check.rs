//! `glomers check <run-dir>`: re-runs the analysis of a stored run from its files (Jepsen's
//! `analyze`), giving the same verdict and the same `results.json` the run wrote, and rebuilds
//! the report. It also checks a history written by hand or by another tool: a directory (or a
//! file) holding `history.jsonl` in the documented format, with `--workload` naming the checker
//! when there is no `results.json` to say it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use crate::analysis::{analyze, Results};
use crate::checkers::availability::Availability;
use crate::history::{History, Nanos};
use crate::net::{Counts, Latency, LatencyDist, NetStats};
use crate::report::summary;
use crate::report_html::stored::{is_client, read_journal, Fate};
use crate::runner::{build_workload, Diagnostic, RunOutput, Severity, TestOptions};

/// A finished check.
pub struct Checked {
    pub dir: PathBuf,
    pub results: Results,
    /// The new `results.json` map.
    pub json: Value,
    /// The stored `results.json`'s text, if there was one.
    pub previous: Option<String>,
    /// The new `results.json`'s text.
    pub text: String,
    pub summary: String,
}

impl Checked {
    /// Whether the analysis gave what the run had stored.
    pub fn matches_stored(&self) -> Option<bool> {
        self.previous.as_ref().map(|p| *p == self.text)
    }
}

/// Re-analyses the run at `path` (its directory, or its `history.jsonl`). `workload` and
/// `node_count` are needed only when there is no `results.json` naming them.
pub fn check(
    path: &Path,
    workload: Option<&str>,
    node_count: Option<usize>,
) -> anyhow::Result<Checked> {
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    let history_path = dir.join("history.jsonl");
    let text = std::fs::read_to_string(&history_path)
        .with_context(|| format!("reading {}", history_path.display()))?;
    let mut history = match History::from_jsonl(&text) {
        Ok(h) => h,
        // A hand-written line may leave out `index`: number it and try again.
        Err(e) => History::from_jsonl(&with_indices(&text)).map_err(|_| e)?,
    };
    // A hand-written history may number its ops loosely; ours are numbered by line already.
    for (i, op) in history.ops.iter_mut().enumerate() {
        op.index = i;
    }
    let previous: Option<String> = match std::fs::read_to_string(dir.join("results.json")) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).context("reading results.json"),
    };
    let stored: Value = match &previous {
        Some(t) => serde_json::from_str(t).context("parsing results.json")?,
        None => Value::Null,
    };
    let test = &stored["test"];
    let workload = workload
        .or_else(|| test["workload"].as_str())
        .context("no results.json names the workload: pass --workload")?;
    let journal = dir.join("messages.jsonl");
    let messages = if journal.exists() {
        read_journal(&journal)?
    } else {
        Vec::new()
    };
    let node_count = node_count
        .or_else(|| test["node_count"].as_u64().map(|n| n as usize))
        .unwrap_or_else(|| count_nodes(&messages).max(1));
    let opts = options_from(test, workload, node_count)?;

    let mut net = NetStats::default();
    for m in &messages {
        let client = is_client(&m.src) || is_client(&m.dest);
        let delivered = matches!(m.fate, Fate::Delivered(_));
        count(&mut net.all, delivered);
        count(
            if client {
                &mut net.clients
            } else {
                &mut net.servers
            },
            delivered,
        );
        if matches!(m.fate, Fate::Dropped(_)) {
            net.dropped += 1;
        }
    }
    let diagnostics = diagnostics_from(&stored["errors"]);
    let error_count = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let end_time = match stored["perf"]["test_time_s"].as_f64() {
        Some(s) => (s * 1e9).round() as Nanos,
        None => history.ops.iter().map(|op| op.time).max().unwrap_or(0),
    };
    let run = RunOutput {
        history,
        net,
        diagnostics,
        diagnostics_dropped: stored["errors_not_shown"].as_u64().unwrap_or(0) as usize,
        error_count,
        end_time,
        aborted: stored["aborted"] == Value::Bool(true),
    };
    let workload = build_workload(&opts)?;
    let results = analyze(&opts, &run, workload.as_ref());
    let mut json = results.to_json(&opts, &run);
    if test.is_object() {
        // The options are the run's, not the analysis's: keep them as stored, whole.
        json["test"] = test.clone();
    }
    let text = serde_json::to_string_pretty(&json)? + "\n";
    if let Some(prev) = previous.as_ref().filter(|p| **p != text) {
        let keep = dir.join("results.prev.json");
        std::fs::write(&keep, prev).with_context(|| format!("writing {}", keep.display()))?;
    }
    let path = dir.join("results.json");
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    let summary = summary(&opts, &run, &results, Some(&dir));
    crate::report_html::save_summary(&dir, &summary)?;
    crate::report_html::write_run_files(&dir, Some(&run.history))?;
    Ok(Checked {
        dir,
        results,
        json,
        previous,
        text,
        summary,
    })
}

/// The history's lines with an `index` (the line's number among ops) where one is missing.
fn with_indices(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(mut op)) => {
                op.entry("index").or_insert(i.into());
                out.push_str(&Value::Object(op).to_string());
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// One message in a class of traffic, as the network counts it.
fn count(c: &mut Counts, delivered: bool) {
    c.send_count += 1;
    c.msg_count += 1;
    if delivered {
        c.recv_count += 1;
    }
}

/// Server nodes named in the journal.
fn count_nodes(messages: &[crate::report_html::stored::JournalMessage]) -> usize {
    let mut max = None;
    for m in messages {
        for p in [&m.src, &m.dest] {
            if let Some(n) = p.strip_prefix('n').and_then(|n| n.parse::<usize>().ok()) {
                max = max.max(Some(n));
            }
        }
    }
    max.map_or(0, |n| n + 1)
}

/// The test's options from `results.json`'s `test` map (Maelstrom's defaults where absent).
fn options_from(test: &Value, workload: &str, node_count: usize) -> anyhow::Result<TestOptions> {
    let mut opts = TestOptions::new(workload, node_count);
    if let Some(v) = test["time_limit"].as_f64() {
        opts.time_limit_secs = v;
    }
    if let Some(v) = test["rate"].as_f64() {
        opts.rate = v;
    }
    opts.concurrency = test["concurrency"]
        .as_u64()
        .map_or(node_count, |c| c as usize);
    let dist = match test["latency_dist"].as_str() {
        Some("uniform") => LatencyDist::Uniform,
        Some("exponential") => LatencyDist::Exponential,
        _ => LatencyDist::Constant,
    };
    let mean = test["latency"].as_u64().unwrap_or(0);
    opts.latency =
        Latency::new(mean, dist).or_else(|_| Latency::new(mean, LatencyDist::Constant))?;
    opts.partitions = test["nemesis"]
        .as_array()
        .is_some_and(|n| n.iter().any(|x| x == "partition"));
    if let Some(v) = test["nemesis_interval"].as_f64() {
        opts.nemesis_interval_secs = v;
    }
    if let Some(v) = test["topology"].as_str() {
        opts.topology = v.to_string();
    }
    opts.availability = match &test["availability"] {
        Value::String(s) if s == "total" => Some(Availability::Total),
        Value::Number(n) => n.as_f64().map(Availability::Fraction),
        _ => None,
    };
    opts.key_count = test["key_count"].as_u64().map(|k| k as usize);
    if let Some(v) = test["max_txn_length"].as_u64() {
        opts.max_txn_length = v as usize;
    }
    if let Some(v) = test["max_writes_per_key"].as_u64() {
        opts.max_writes_per_key = v as usize;
    }
    if let Some(v) = test["consistency_models"].as_str() {
        opts.consistency_models = v.to_string();
    }
    opts.seed = test["seed"].as_u64().unwrap_or(0);
    Ok(opts)
}

fn diagnostics_from(errors: &Value) -> Vec<Diagnostic> {
    errors
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| Diagnostic {
            severity: if e["severity"] == "warning" {
                Severity::Warning
            } else {
                Severity::Error
            },
            node: e["node"].as_str().map(str::to_string),
            message: e["message"].as_str().unwrap_or("").to_string(),
        })
        .collect()
}
