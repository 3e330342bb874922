//! `report.html`: one self-contained page per run (no network, no external program) built from
//! the run's stored files, plus `history.txt`. It shows the verdict and the findings in words,
//! the trail of each anomaly, Maelstrom's three performance plots, the op timeline per process
//! and the Lamport diagram of the messages (zoom, scroll, filters, jump from an op or a finding
//! to its messages).
//!
//! Everything is read back from the run directory (`results.json`, `history.jsonl`,
//! `messages.jsonl`, `summary.txt`), so `glomers check` rebuilds the same page from the files.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

pub mod anomaly_trails;
pub mod data;
pub mod findings;
pub mod html;
mod json_out;
mod json_scan;
pub mod kafka_trails;
pub mod opgraph;
pub mod plots;
pub mod stored;
pub mod trails;

use crate::history::{History, OpType};
use glomers_node::put_u64;
use html::{escape, script_text, validity_class, validity_word};
pub use stored::StoredRun;

/// The file names this module writes into a run directory.
pub const REPORT: &str = "report.html";
pub const HISTORY_TXT: &str = "history.txt";
pub const SUMMARY: &str = "summary.txt";

const CSS: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");
/// Installed before anything else, so that the page's own checks see every script error.
const ERROR_TRAP: &str = "window.__errors=[];window.addEventListener('error',function(e){\
window.__errors.push(String(e.message||e));var s=document.getElementById('selfcheck');\
if(s){s.dataset.errors=window.__errors.length;s.dataset.status='error';s.textContent=\
'script error: '+window.__errors.join('; ');}});";

/// Writes `history.txt` and `report.html` into a run directory from its stored files. The one
/// call the store makes after writing `results.json` and `history.jsonl`; pass the run's
/// history when it is at hand, so that it is not read back.
pub fn write_run_files(dir: &Path, history: Option<&History>) -> anyhow::Result<()> {
    write_run_files_with(dir, history, None)
}

/// [`write_run_files`], with the journal's messages when they are at hand too (the store
/// reads them as the run writes `messages.jsonl`), so that the file is not read back.
pub fn write_run_files_with(
    dir: &Path,
    history: Option<&History>,
    messages: Option<Vec<stored::JournalMessage>>,
) -> anyhow::Result<()> {
    let run = StoredRun::load_with(dir, history, messages)?;
    let history_txt = write_history_txt(&run)?;
    let page = render_with(&run, Some(&history_txt))?;
    let path = dir.join(REPORT);
    std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))
}

/// Where the summary goes in a report rendered before it was printed.
const SUMMARY_SLOT: &str = "<!--summary-->";

/// Saves the printed summary beside the run's files, and puts it into the report's slot.
pub fn save_summary(dir: &Path, summary: &str) -> anyhow::Result<()> {
    let path = dir.join(SUMMARY);
    std::fs::write(&path, format!("{summary}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    let report = dir.join(REPORT);
    if let Ok(page) = std::fs::read_to_string(&report) {
        if page.contains(SUMMARY_SLOT) {
            let page = page.replacen(SUMMARY_SLOT, &summary_section(summary), 1);
            std::fs::write(&report, page)
                .with_context(|| format!("writing {}", report.display()))?;
        }
    }
    Ok(())
}

fn summary_section(summary: &str) -> String {
    format!(
        "<details><summary>The printed summary (<a href=\"{SUMMARY}\">{SUMMARY}</a>)</summary>\
         <pre>{}</pre></details>",
        escape(summary)
    )
}

/// `history.txt` as written, with where each op's value and error are in it: the page shows
/// the same texts (cut), so they are written once.
pub struct HistoryText {
    text: Vec<u8>,
    /// Per op, by position: its value's span, and its error's.
    spans: Vec<(Span, Option<Span>)>,
    /// Whether every op's index is its position (as in any history the runner wrote or
    /// `glomers check` read); otherwise the spans are not used.
    indexed: bool,
}

type Span = (usize, usize);

impl HistoryText {
    fn text_of(&self, (start, end): Span) -> Option<&str> {
        std::str::from_utf8(&self.text[start..end]).ok()
    }

    /// The op's value as JSON text (`json_text` of it), if it was written here.
    pub fn value(&self, op: &crate::history::Op) -> Option<&str> {
        let (value, _) = self.spans.get(op.index).filter(|_| self.indexed)?;
        self.text_of(*value)
    }

    /// The op's error as JSON text: `Some(None)` when it has none, `None` when unknown here.
    pub fn error(&self, op: &crate::history::Op) -> Option<Option<&str>> {
        let (_, error) = self.spans.get(op.index).filter(|_| self.indexed)?;
        Some(match error {
            Some(span) => Some(self.text_of(*span)?),
            None => None,
        })
    }
}

/// `history.txt`: one op per line, tab-separated as Jepsen's: index, time (s), process, type,
/// f, value, and the error if any.
pub fn write_history_txt(run: &StoredRun<'_>) -> anyhow::Result<HistoryText> {
    let mut out: Vec<u8> = Vec::with_capacity(64 * run.history.ops.len());
    let mut spans = Vec::with_capacity(run.history.ops.len());
    let mut indexed = true;
    for (position, op) in run.history.ops.iter().enumerate() {
        indexed &= op.index == position;
        // The numbers and fixed pieces written in place into one buffer, copied once.
        let mut head = [0u8; 128];
        let mut len = put_u64(&mut head, 0, op.index as u64);
        head[len] = b'\t';
        len = match put_secs(&mut head, len + 1, op.time) {
            Some(len) => len,
            None => {
                out.extend_from_slice(&head[..len + 1]);
                push_secs(&mut out, op.time);
                0
            }
        };
        head[len] = b'\t';
        len += 1;
        len = match op.process {
            crate::history::Process::Client(n) => put_u64(&mut head, len, n),
            crate::history::Process::Nemesis(_) => put_piece(&mut head, len, b"nemesis"),
        };
        len = put_piece(
            &mut head,
            len,
            match op.kind {
                OpType::Invoke => b"\t:invoke\t:",
                OpType::Ok => b"\t:ok\t:",
                OpType::Fail => b"\t:fail\t:",
                OpType::Info => b"\t:info\t:",
            },
        );
        out.extend_from_slice(&head[..len]);
        out.extend_from_slice(op.f.as_bytes());
        out.push(b'\t');
        let start = out.len();
        op.value.write_json(&mut out);
        let value = (start, out.len());
        let mut error = None;
        if let Some(e) = &op.error {
            out.push(b'\t');
            let start = out.len();
            serde_json::to_writer(&mut out, e)?;
            error = Some((start, out.len()));
        }
        spans.push((value, error));
        if op.is_final {
            out.extend_from_slice(b"\tfinal");
        }
        out.push(b'\n');
    }
    let path = run.dir.join(HISTORY_TXT);
    std::fs::write(&path, &out).with_context(|| format!("writing {}", path.display()))?;
    Ok(HistoryText {
        text: out,
        spans,
        indexed,
    })
}

/// Nanoseconds as seconds with nine decimals, as `{:.9}` of the seconds as an `f64` writes
/// them: exactly, from the integer, below 10^15 ns (11 days), where that float is closer to
/// the exact decimal than half its last digit.
fn push_secs(out: &mut Vec<u8>, t: crate::history::Nanos) {
    let mut text = [0u8; 40];
    match put_secs(&mut text, 0, t) {
        Some(len) => out.extend_from_slice(&text[..len]),
        None => out.extend_from_slice(format!("{:.9}", t as f64 / 1e9).as_bytes()),
    }
}

/// Copies `piece` into `out` at `at`; where it ends.
#[inline]
fn put_piece(out: &mut [u8], at: usize, piece: &[u8]) -> usize {
    out[at..at + piece.len()].copy_from_slice(piece);
    at + piece.len()
}

/// [`push_secs`] in place at `at` (room for 31 bytes is needed); where the text ends. None
/// past the times it writes exactly (the caller then asks `format!`).
#[inline]
fn put_secs(out: &mut [u8], at: usize, t: crate::history::Nanos) -> Option<usize> {
    const EXACT_BELOW: crate::history::Nanos = 1_000_000_000_000_000;
    if t >= EXACT_BELOW {
        return None;
    }
    let at = put_u64(out, at, t / 1_000_000_000);
    // The nine decimals with their zeros: the digits of 10^9 + the fraction, whose leading
    // `1` becomes the point.
    let end = put_u64(out, at, 1_000_000_000 + t % 1_000_000_000);
    out[at] = b'.';
    Some(end)
}

/// The nemesis's fault periods: from each `start-X` to the next `stop-X` (or the end).
pub fn fault_periods(run: &StoredRun<'_>, end: u64) -> Vec<plots::Period> {
    let mut open: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut out = Vec::new();
    for op in run.history.ops.iter().filter(|op| !op.is_client()) {
        if let Some(fault) = op.f.strip_prefix("start-") {
            let label = match op.value.as_json() {
                Some(Value::Object(m)) => m
                    .get("shape")
                    .and_then(Value::as_str)
                    .map_or(fault.to_string(), |s| format!("{fault} ({s})")),
                _ => fault.to_string(),
            };
            if let Some((start, label)) = open.insert(fault.to_string(), (op.time, label)) {
                out.push(plots::Period {
                    start: start as f64 / 1e9,
                    end: op.time as f64 / 1e9,
                    label,
                });
            }
        } else if let Some(fault) = op.f.strip_prefix("stop-") {
            if let Some((start, label)) = open.remove(fault) {
                out.push(plots::Period {
                    start: start as f64 / 1e9,
                    end: op.time as f64 / 1e9,
                    label,
                });
            }
        }
    }
    for (_, (start, label)) in open {
        out.push(plots::Period {
            start: start as f64 / 1e9,
            end: end as f64 / 1e9,
            label,
        });
    }
    out.sort_by(|a, b| a.start.total_cmp(&b.start));
    out
}

/// The whole page.
pub fn render(run: &StoredRun<'_>) -> anyhow::Result<String> {
    Ok(String::from_utf8(render_with(run, None)?).expect("the page is UTF-8"))
}

/// [`render`] as bytes (UTF-8), taking the ops' value texts from `history.txt` as it was just
/// written.
pub fn render_with(
    run: &StoredRun<'_>,
    history_txt: Option<&HistoryText>,
) -> anyhow::Result<Vec<u8>> {
    let end = run.end_time();
    let periods = fault_periods(run, end);
    let op_messages = stored::op_messages_of(&run.history, &run.pairs(), &run.messages);
    let trails = trails::trails(run, &op_messages);
    let mut trail_of_op: HashMap<usize, String> = HashMap::new();
    let mut trail_of_finding: HashMap<String, String> = HashMap::new();
    for t in &trails {
        match &t.finding {
            Some(f) => {
                trail_of_finding.insert(f.clone(), t.id.clone());
            }
            None => {
                for &op in &t.ops {
                    trail_of_op.entry(op).or_insert_with(|| t.id.clone());
                }
            }
        }
    }
    let [raw, quantiles, rate] = plots::plots(&run.pairs(), end, &periods)?;
    let data = data::page_data(run, end, &periods, &op_messages, &trails, history_txt);

    let results = &run.results;
    let test = &results["test"];
    let valid = &results["valid"];
    let workload = test["workload"].as_str().unwrap_or("run");
    let title = format!(
        "{} · {} · {}",
        workload,
        run.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        validity_word(valid)
    );
    // Sized at once for all of it (the data is most of it).
    let mut p = String::with_capacity(
        64 * 1024
            + CSS.len()
            + SCRIPT.len()
            + trails.iter().map(|t| t.html.len()).sum::<usize>()
            + raw.len()
            + quantiles.len()
            + rate.len()
            + data.size_hint(),
    );
    let _ = write!(
        p,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{CSS}</style><script>{ERROR_TRAP}</script></head><body>",
        escape(&title)
    );
    let _ = write!(
        p,
        "<header class=\"{}\"><h1>{} <span class=\"badge {}\">{}</span></h1><p>{}</p></header>",
        validity_class(valid),
        escape(workload),
        validity_class(valid),
        validity_word(valid),
        escape(&headline(results))
    );
    p.push_str(
        "<nav><a href=\"#findings\">Findings</a> <a href=\"#trails\">Trails</a> \
         <a href=\"#plots\">Plots</a> <a href=\"#timeline\">Timeline</a> \
         <a href=\"#diagram\">Messages</a> <a href=\"#files\">Files</a></nav><main>",
    );
    let summary = std::fs::read_to_string(run.dir.join(SUMMARY)).map_or_else(
        |_| SUMMARY_SLOT.to_string(),
        |s| summary_section(s.trim_end()),
    );
    let _ = write!(p, "<section id=\"summary\">{summary}</section>");
    let _ = write!(
        p,
        "<section id=\"findings\"><h2>Verdict and findings</h2><p class=\"verdict {}\">{}</p>{}</section>",
        validity_class(valid),
        escape(verdict_sentence(valid)),
        findings::render(results, &trail_of_op, &trail_of_finding)
    );
    p.push_str("<section id=\"trails\"><h2>Trails</h2>");
    if trails.is_empty() {
        p.push_str(
            "<p>No anomaly with a trail: trails are drawn for lost or stale set elements \
             (broadcast, g-set), wrong final counter reads, and the kafka and txn findings.</p>",
        );
    }
    for t in &trails {
        p.push_str(&t.html);
    }
    p.push_str("</section>");
    let _ = write!(
        p,
        "<section id=\"plots\"><h2>Performance</h2><p>Shaded: nemesis periods{}.</p>\
         <div class=\"plot\">{raw}</div><div class=\"plot\">{quantiles}</div>\
         <div class=\"plot\">{rate}</div></section>",
        if periods.is_empty() {
            " (none in this run)"
        } else {
            ""
        }
    );
    p.push_str(
        "<section id=\"timeline\"><h2>Timeline of ops per process</h2>\
         <p class=\"hint\">Wheel: zoom · drag: scroll in time · click an op: its messages on the \
         diagram. The timeline and the diagram share one time window.</p>\
         <div class=\"range\"></div><canvas id=\"tl\"></canvas></section>",
    );
    p.push_str(
        "<section id=\"diagram\"><h2>Messages (Lamport diagram)</h2>\
         <div class=\"controls\">\
         <button id=\"fit\">Fit</button><button id=\"zin\">+</button><button id=\"zout\">−</button>\
         <label>Nodes <input id=\"fnodes\" placeholder=\"all, or n1,n4\" size=\"14\"></label>\
         <label>Carries value <input id=\"fvalue\" placeholder=\"e.g. 42\" size=\"8\"></label>\
         <label><input type=\"checkbox\" id=\"fclients\" checked> client traffic</label>\
         <button id=\"clear\">Clear filters</button> <span id=\"mcount\"></span>\
         <details id=\"ftypes\"><summary>Message types</summary><div id=\"typelist\"></div></details>\
         </div><div class=\"range\"></div><canvas id=\"lamport\"></canvas>\
         <p class=\"hint\">Black: between servers · grey-blue: client traffic · red: error \
         replies · red dashed with ✕: dropped by a partition · grey dashed: in flight at the end · \
         orange: selected. Hover an arrow for its body, click to keep it.</p></section>",
    );
    p.push_str("<section id=\"files\"><h2>Files</h2><ul>");
    for (name, what) in [
        ("results.json", "the results map"),
        ("history.jsonl", "the history, one op per line"),
        (HISTORY_TXT, "the history as text"),
        ("messages.jsonl", "every message sent, received and dropped"),
        ("node-logs/", "each node's stderr"),
    ] {
        if run.dir.join(name.trim_end_matches('/')).exists() {
            let _ = write!(
                p,
                "<li><a href=\"{name}\">{name}</a>: {what}</li>",
                name = escape(name)
            );
        }
    }
    p.push_str("</ul></section></main>");
    p.push_str(
        "<aside id=\"inspector\" hidden><button id=\"close\">×</button><div id=\"inspect\"></div></aside>\
         <div id=\"tip\" hidden></div>\
         <div id=\"selfcheck\" data-status=\"pending\" data-errors=\"0\"></div>",
    );
    // The data is written in place, the largest part of the page by far; the page is sized
    // for it at once.
    p.push_str("<script type=\"application/json\" id=\"data\">");
    let mut page = p.into_bytes();
    page.reserve(data.size_hint() + SCRIPT.len() + 64);
    let at = page.len();
    data.write_json(&mut page);
    if memchr::memmem::find(&page[at..], b"</").is_some() {
        let text = String::from_utf8(page.split_off(at)).expect("JSON text is UTF-8");
        page.extend_from_slice(script_text(text).as_bytes());
    }
    page.extend_from_slice(b"</script><script>");
    page.extend_from_slice(SCRIPT.as_bytes());
    page.extend_from_slice(b"</script></body></html>");
    Ok(page)
}

fn verdict_sentence(valid: &Value) -> &'static str {
    match valid {
        Value::Bool(true) => "Valid: every checker passed.",
        Value::Bool(false) => "Invalid: at least one checker found the run wrong. The findings below say what and where.",
        Value::Null => "Not checked.",
        _ => "Unknown: no anomaly was found, but the checkers could not show the run correct.",
    }
}

/// One line under the title: the options and the key figures.
fn headline(results: &Value) -> String {
    let t = &results["test"];
    let mut parts = Vec::new();
    if let Some(n) = t["node_count"].as_u64() {
        parts.push(format!("{n} node{}", if n == 1 { "" } else { "s" }));
    }
    if let (Some(l), Some(r)) = (t["time_limit"].as_f64(), t["rate"].as_f64()) {
        parts.push(format!("{l} s at rate {r}"));
    }
    if let Some(l) = t["latency"].as_u64() {
        parts.push(format!("latency {l} ms"));
    }
    if let Some(n) = t["nemesis"].as_array().filter(|n| !n.is_empty()) {
        let names: Vec<String> = n
            .iter()
            .map(|x| x.as_str().unwrap_or("?").to_string())
            .collect();
        parts.push(format!("nemesis {}", names.join(",")));
    }
    if let Some(s) = t["seed"].as_u64() {
        parts.push(format!("seed {s}"));
    }
    if let Some(c) = results["stats"]["count"].as_u64() {
        parts.push(format!("{c} ops"));
    }
    if let Some(m) = results["net"]["servers"]["msgs_per_op"].as_f64() {
        parts.push(format!("{m:.2} server msgs/op"));
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact seconds are what `{:.9}` of the float writes.
    #[test]
    fn seconds_are_written_as_the_float_would_be() {
        let mut t: u64 = 1;
        let mut times = vec![0, 1, 999_999_999, 1_000_000_000, 30_000_000_001];
        while t < 1_000_000_000_000_000 {
            times.extend([t, t + 1, t.wrapping_mul(7) / 3, t * 3 + 123_456_789]);
            t = t * 10 + 9;
        }
        for t in times {
            let mut exact = Vec::new();
            push_secs(&mut exact, t);
            assert_eq!(
                String::from_utf8(exact).unwrap(),
                format!("{:.9}", t as f64 / 1e9),
                "{t}"
            );
        }
    }
}
