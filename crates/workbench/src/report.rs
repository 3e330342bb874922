//! The store: `store/<workload>/<timestamp>/` with `results.json`, `history.jsonl`,
//! `messages.jsonl` and `node-logs/`, the `latest` links, and the human summary.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::Value;

use crate::analysis::Results;
use crate::checkers::Validity;
use crate::runner::{RunOutput, Severity, TestOptions};

/// One run's directory in the store.
pub struct RunDir {
    pub dir: PathBuf,
}

impl RunDir {
    /// Creates `root/<workload>/<timestamp>/node-logs` (a suffix keeps concurrent runs apart)
    /// and points `root/latest` and `root/<workload>/latest` at it.
    pub fn create(root: &Path, workload: &str) -> anyhow::Result<RunDir> {
        let parent = root.join(workload);
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("creating {}", parent.display()))?;
        let stamp = chrono::Local::now()
            .format("%Y%m%dT%H%M%S%.3f%z")
            .to_string();
        let mut dir = parent.join(&stamp);
        let mut suffix = 1;
        loop {
            match std::fs::create_dir(&dir) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    dir = parent.join(format!("{stamp}-{suffix}"));
                    suffix += 1;
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
            }
        }
        std::fs::create_dir(dir.join("node-logs"))?;
        let name = dir.file_name().expect("a name").to_owned();
        link(&parent.join("latest"), Path::new(&name));
        link(&root.join("latest"), &Path::new(workload).join(&name));
        Ok(RunDir { dir })
    }

    pub fn node_logs(&self) -> PathBuf {
        self.dir.join("node-logs")
    }

    pub fn journal(&self) -> anyhow::Result<Box<dyn Write>> {
        let path = self.dir.join("messages.jsonl");
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Box::new(BufWriter::with_capacity(256 * 1024, file)))
    }

    pub fn write_results(&self, results: &Value, run: &RunOutput) -> anyhow::Result<()> {
        let path = self.dir.join("results.json");
        std::fs::write(&path, serde_json::to_string_pretty(results)? + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
        let path = self.dir.join("history.jsonl");
        std::fs::write(&path, run.history.to_jsonl())
            .with_context(|| format!("writing {}", path.display()))?;
        // history.txt and report.html, from the files just written.
        crate::report_html::write_run_files(&self.dir, Some(&run.history))
    }

    /// Saves the printed summary in the run directory (the report shows it).
    pub fn save_summary(dir: &Path, summary: &str) -> anyhow::Result<()> {
        crate::report_html::save_summary(dir, summary)
    }
}

/// Points `link_path` at `target` (relative), replacing an older link. Best effort: a store
/// on a filesystem without symlinks still gets its runs.
fn link(link_path: &Path, target: &Path) {
    #[cfg(unix)]
    {
        let tmp = link_path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(target, &tmp).is_ok() {
            let _ = std::fs::rename(&tmp, link_path);
        }
    }
}

/// Maelstrom's closing banners.
pub fn verdict_line(valid: Validity) -> &'static str {
    match valid {
        Validity::Valid => "Everything looks good! ヽ(‘ー`)ノ",
        Validity::Invalid => "Analysis invalid! (ﾉಥ益ಥ）ﾉ ┻━┻",
        Validity::Unknown => "Errors occurred during analysis, but no anomalies found. ಠ~ಠ",
    }
}

/// The short human summary, ending in the verdict line.
pub fn summary(
    opts: &TestOptions,
    run: &RunOutput,
    results: &Results,
    dir: Option<&Path>,
) -> String {
    let mut s = String::new();
    let stats = &results.stats.figures;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let _ = writeln!(
        s,
        "{} · {} node{} · {} s at rate {} · seed {}",
        opts.workload,
        opts.node_count,
        if opts.node_count == 1 { "" } else { "s" },
        opts.time_limit_secs,
        opts.rate,
        opts.seed
    );
    let _ = writeln!(
        s,
        "ops: {} (ok {}, fail {}, info {}) · ok fraction {:.4}",
        n(&stats["count"]),
        n(&stats["ok_count"]),
        n(&stats["fail_count"]),
        n(&stats["info_count"]),
        results.availability.figures["ok_fraction"]
            .as_f64()
            .unwrap_or(1.0)
    );
    let net = &results.net;
    let _ = writeln!(
        s,
        "net: servers {} msgs ({:.2}/op) · all {} msgs ({:.2}/op) · {} dropped by partitions",
        n(&net["servers"]["msg_count"]),
        results.servers_msgs_per_op(),
        n(&net["all"]["msg_count"]),
        net["all"]["msgs_per_op"].as_f64().unwrap_or(0.0),
        n(&net["dropped_by_partitions"]),
    );
    if let Some(latency) = results.perf["latency_ms"].as_object() {
        for (f, q) in latency {
            let _ = writeln!(
                s,
                "latency {f} (ms): p50 {} · p99 {} · max {}",
                q["0.5"], q["0.99"], q["1"]
            );
        }
    }
    let workload_figures = &results.workload.figures;
    if let Some(q) = workload_figures.get("stable_latencies") {
        let _ = writeln!(
            s,
            "stable latency (ms): p50 {} · p99 {} · max {} · lost {} · stale {}",
            q["0.5"],
            q["0.99"],
            q["1"],
            workload_figures.get("lost_count").unwrap_or(&Value::Null),
            workload_figures.get("stale_count").unwrap_or(&Value::Null)
        );
    }
    for d in &run.diagnostics {
        let tag = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(s, "{tag}: {}", d.message);
    }
    if run.diagnostics_dropped > 0 {
        let _ = writeln!(
            s,
            "({} more diagnostics not shown)",
            run.diagnostics_dropped
        );
    }
    for (name, check) in [
        ("workload", &results.workload),
        ("stats", &results.stats),
        ("availability", &results.availability),
    ] {
        if check.valid != Validity::Valid {
            let _ = writeln!(s, "{name}: {}", check.valid.to_json());
        }
        for a in check.anomalies.iter().take(10) {
            let _ = writeln!(s, "  {}: {}", a.kind, a.message);
        }
        if check.anomalies.len() > 10 {
            let _ = writeln!(
                s,
                "  ... {} more in results.json",
                check.anomalies.len() - 10
            );
        }
    }
    if let Some(dir) = dir {
        let _ = writeln!(s, "store: {}", dir.display());
    }
    s.push_str(verdict_line(results.valid));
    s
}
