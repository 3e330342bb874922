//! The store: `store/<workload>/<timestamp>/` with `results.json`, `history.jsonl`,
//! `messages.jsonl` and `node-logs/`, the `latest` links, and the human summary.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use serde_json::Value;

use crate::analysis::Results;
use crate::checkers::Validity;
use crate::net::{Addr, Journal, JournalEvent, BODY_KEY};
use crate::report_html::stored::{JournalBuilder, JournalMessage};
use crate::runner::{RunOutput, Severity, TestOptions};

/// One run's directory in the store.
pub struct RunDir {
    pub dir: PathBuf,
    root: PathBuf,
    workload: String,
    /// The first error writing `messages.jsonl`, if any (the run goes on without it).
    journal_error: Arc<Mutex<Option<std::io::Error>>>,
    /// The journal's messages as the run wrote them, once its writer is done (dropped) and if
    /// every line was written: the report takes them instead of reading the file back.
    journal_messages: Arc<Mutex<Option<Vec<JournalMessage>>>>,
}

/// The file a run directory holds when it has no results, naming why.
pub const FAILURE_FILE: &str = "failure.txt";

impl RunDir {
    /// Creates `root/<workload>/<timestamp>/node-logs` (a suffix keeps concurrent runs apart).
    /// The `latest` links move only once results are written ([`RunDir::write_results`]).
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
        let logs = dir.join("node-logs");
        std::fs::create_dir(&logs).with_context(|| format!("creating {}", logs.display()))?;
        Ok(RunDir {
            dir,
            root: root.to_path_buf(),
            workload: workload.to_string(),
            journal_error: Default::default(),
            journal_messages: Default::default(),
        })
    }

    pub fn node_logs(&self) -> PathBuf {
        self.dir.join("node-logs")
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.join("messages.jsonl")
    }

    /// `messages.jsonl`, for the network's journal. A write that fails (a full disk) does not
    /// stop the run: the error is kept for [`RunDir::write_results`] to report. The events are
    /// also kept as messages, for the report (see [`JournalBuilder`]).
    pub fn journal(&self) -> anyhow::Result<Box<dyn Journal>> {
        let path = self.journal_path();
        let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Box::new(KeepGoing::new(
            file,
            self.journal_error.clone(),
            self.journal_messages.clone(),
        )))
    }

    /// Writes `results.json` and `history.jsonl`, then points `root/latest` and
    /// `root/<workload>/latest` at this run. Every file that could not be written (the journal
    /// included) is returned, named, rather than stopping at the first.
    pub fn write_results(&self, results: &Value, run: &RunOutput) -> Vec<WriteFailure> {
        let mut failures = Vec::new();
        if let Some(e) = self.journal_error.lock().expect("journal lock").take() {
            failures.push(WriteFailure {
                path: self.journal_path(),
                error: e.to_string(),
            });
        }
        let results_path = self.dir.join("results.json");
        let text = serde_json::to_string_pretty(results).expect("results serialize") + "\n";
        let results_written = match std::fs::write(&results_path, text) {
            Ok(()) => true,
            Err(e) => {
                failures.push(WriteFailure {
                    path: results_path,
                    error: e.to_string(),
                });
                false
            }
        };
        // Streamed: a long run's history is far larger than anything else held in memory.
        let path = self.dir.join("history.jsonl");
        let written = File::create(&path).and_then(|file| {
            run.history
                .write_jsonl(&mut BufWriter::with_capacity(256 * 1024, file))
        });
        if let Err(e) = written {
            failures.push(WriteFailure {
                path,
                error: e.to_string(),
            });
        }
        // history.txt and report.html, from what was just written (the history and, when the
        // journal was written whole, its messages, as they are in memory).
        let messages = self.journal_messages.lock().expect("journal lock").take();
        if let Err(e) =
            crate::report_html::write_run_files_with(&self.dir, Some(&run.history), messages)
        {
            failures.push(WriteFailure {
                path: self.dir.join("report.html"),
                error: format!("{e:#}"),
            });
        }
        if results_written {
            let name = self.dir.file_name().expect("a name").to_owned();
            link(
                &self.root.join(&self.workload).join("latest"),
                Path::new(&name),
            );
            link(
                &self.root.join("latest"),
                &Path::new(&self.workload).join(&name),
            );
        } else {
            self.record_failure("results.json could not be written");
        }
        failures
    }

    /// Saves the printed summary in the run directory (the report shows it).
    pub fn save_summary(dir: &Path, summary: &str) -> anyhow::Result<()> {
        crate::report_html::save_summary(dir, summary)
    }

    /// Leaves `failure.txt` in a run directory that will hold no results, saying why. Best
    /// effort: what stopped the run may stop this write too.
    pub fn record_failure(&self, why: &str) {
        let _ = std::fs::write(
            self.dir.join(FAILURE_FILE),
            format!("This run has no results: {why}\n"),
        );
    }
}

/// A file of a run that could not be written.
#[derive(Debug)]
pub struct WriteFailure {
    pub path: PathBuf,
    pub error: String,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "could not write {}: {}", self.path.display(), self.error)
    }
}

/// The store's journal: writes each line to `messages.jsonl`, keeping its first error and
/// swallowing the rest (a journal on a full disk costs the journal, not the run), and keeps
/// each event's message for the report, handed to the run directory when the journal is
/// dropped (if nothing failed).
///
/// The lines are written once, into chunks of text that go to the file as each fills; the
/// report's messages keep the chunks, their bodies ranges of them (no copy of each body).
struct KeepGoing<W: Write = File> {
    out: W,
    failed: bool,
    error: Arc<Mutex<Option<std::io::Error>>>,
    /// The chunk of journal text being written, and how much of it is in the file. Every line
    /// in it is UTF-8 (checked as it is added; a line that is not goes to the file apart).
    text: Vec<u8>,
    written: usize,
    kept: KeptMessages,
    messages: Arc<Mutex<Option<Vec<JournalMessage>>>>,
}

impl<W: Write> KeepGoing<W> {
    /// Bytes of text in a chunk (a longer line has a chunk of its own length).
    const CHUNK: usize = 1 << 20;

    fn new(
        out: W,
        error: Arc<Mutex<Option<std::io::Error>>>,
        messages: Arc<Mutex<Option<Vec<JournalMessage>>>>,
    ) -> KeepGoing<W> {
        KeepGoing {
            out,
            failed: false,
            error,
            text: Vec::new(),
            written: 0,
            kept: KeptMessages::default(),
            messages,
        }
    }

    fn keep(&mut self, result: std::io::Result<()>) {
        if let Err(e) = result {
            self.failed = true;
            *self.error.lock().expect("journal lock") = Some(e);
        }
    }

    /// Writes what the file does not have yet of the current chunk.
    fn write_out(&mut self) {
        if self.written < self.text.len() && !self.failed {
            let result = self.out.write_all(&self.text[self.written..]);
            self.keep(result);
        }
        self.written = self.text.len();
    }

    /// Starts a chunk with room for `len` bytes: the current one is written, and kept by the
    /// messages while they are kept.
    fn next_chunk(&mut self, len: usize) {
        self.write_out();
        let room = len.max(KeepGoing::<W>::CHUNK);
        if self.kept.gave_up {
            self.text.clear();
            self.text.reserve(room);
        } else {
            let full = self.take_chunk(room);
            self.kept.journal.chunk_done(&Arc::new(full));
        }
        self.written = 0;
    }

    /// The chunk of text, as text, leaving an empty one with room for `room` bytes.
    fn take_chunk(&mut self, room: usize) -> String {
        let full = std::mem::replace(&mut self.text, Vec::with_capacity(room));
        // SAFETY: every line in the chunk was checked to be UTF-8 as it was added (`event`
        // takes back a line that is not), so the chunk is.
        unsafe { String::from_utf8_unchecked(full) }
    }

    /// A line whose body is not UTF-8 (not reached: the wire check validated it, or the
    /// workbench wrote it): written as it is, the message kept as its text reads.
    fn raw_line(&mut self, event: &JournalEvent<'_>) {
        self.write_out();
        let mut line = Vec::new();
        event.write_line(&mut line);
        if !self.failed {
            let result = self.out.write_all(&line);
            self.keep(result);
        }
        self.kept.line(&line);
    }
}

impl<W: Write> Journal for KeepGoing<W> {
    fn event(&mut self, event: &JournalEvent<'_>) {
        if self.failed {
            return;
        }
        let len = event.line_len();
        if self.text.capacity() - self.text.len() < len {
            self.next_chunk(len);
        }
        let start = self.text.len();
        self.text.extend_from_slice(event.head);
        let body = event.body.map(|body| {
            self.text.extend_from_slice(BODY_KEY);
            let at = self.text.len();
            self.text.extend_from_slice(body);
            (at, self.text.len())
        });
        self.text.extend_from_slice(b"}\n");
        // The line stays in the chunk only if it is UTF-8 (see `take_chunk`).
        let Some(line) = utf8(&self.text[start..]) else {
            self.text.truncate(start);
            return self.raw_line(event);
        };
        let body = body.map(|(at, end)| (&line[at - start..end - start], at, end));
        self.kept.event(event, body, line);
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.write_out();
        if !self.failed {
            let result = self.out.flush();
            self.keep(result);
        }
        Ok(())
    }
}

impl<W: Write> Drop for KeepGoing<W> {
    fn drop(&mut self) {
        self.write_out();
        let result = self.out.flush();
        self.keep(result);
        if !self.failed {
            let mut kept = std::mem::take(&mut self.kept);
            if !kept.gave_up {
                let last = self.take_chunk(0);
                kept.journal.chunk_done(&Arc::new(last));
            }
            *self.messages.lock().expect("journal lock") = kept.finish();
        }
    }
}

/// The journal's messages built from the network's events as they come (nothing is read
/// back), up to [`KeptMessages::MAX_BYTES`] of journal.
#[derive(Default)]
struct KeptMessages {
    journal: JournalBuilder,
    /// The names of the nodes, clients and services met so far, by number (the journal's
    /// names, found once).
    names: [Vec<Option<Arc<str>>>; 3],
    /// Bytes journaled so far; past [`KeptMessages::MAX_BYTES`] the messages are let go (a
    /// long run's journal is not held in memory beside the run: the report reads the file).
    read: usize,
    gave_up: bool,
}

impl KeptMessages {
    const MAX_BYTES: usize = 256 << 20;

    /// Counts `len` more bytes of journal; false once past the limit.
    fn count(&mut self, len: usize) -> bool {
        if self.gave_up {
            return false;
        }
        self.read += len;
        if self.read > KeptMessages::MAX_BYTES {
            self.gave_up = true;
            self.journal = JournalBuilder::default();
            return false;
        }
        true
    }

    /// An event whose line is `line`, its body (if any) at `at..end` of the chunk of text
    /// being written.
    fn event(&mut self, event: &JournalEvent<'_>, body: Option<(&str, usize, usize)>, line: &str) {
        if !self.count(line.len()) {
            return;
        }
        let added = match event.kind {
            "recv" | "drop" => {
                self.journal
                    .push_fate(event.time, event.kind == "recv", event.id);
                true
            }
            "send" => {
                let names = (
                    self.name(event.src_addr, event.src),
                    self.name(event.dest_addr, event.dest),
                );
                match (names, body) {
                    ((Some(src), Some(dest)), Some((body, at, end))) => {
                        match (u32::try_from(at), u32::try_from(end)) {
                            (Ok(at), Ok(end)) => {
                                let names = (src, dest);
                                self.journal.push_send_kept(
                                    event.time,
                                    event.id,
                                    names,
                                    body,
                                    (at, end),
                                );
                                true
                            }
                            _ => self.journal.push_send(
                                event.time,
                                event.id,
                                event.src,
                                event.dest,
                                Some(body),
                            ),
                        }
                    }
                    (_, body) => self.journal.push_send(
                        event.time,
                        event.id,
                        event.src,
                        event.dest,
                        body.map(|(body, ..)| body),
                    ),
                }
            }
            _ => false,
        };
        if !added {
            self.journal.push_line(line);
        }
    }

    /// The journal's name of an address, whose text is `text`: found once per address.
    fn name(&mut self, addr: Addr, text: &[u8]) -> Option<Arc<str>> {
        let (kind, i) = match addr {
            Addr::Node(i) => (0, i as usize),
            Addr::Client(i) => (1, i as usize),
            Addr::Service(i) => (2, usize::from(i)),
        };
        if let Some(Some(name)) = self.names[kind].get(i) {
            return Some(name.clone());
        }
        let name = self.journal.name(text)?;
        // Numbers are small (a run's clients are numbered from 0).
        if i < 1 << 16 {
            let names = &mut self.names[kind];
            if names.len() <= i {
                names.resize(i + 1, None);
            }
            names[i] = Some(name.clone());
        }
        Some(name)
    }

    /// A line that is not UTF-8, kept as its text reads.
    fn line(&mut self, line: &[u8]) {
        if self.count(line.len()) {
            self.journal.push_line(&String::from_utf8_lossy(line));
        }
    }

    /// The messages (None when it gave up).
    fn finish(self) -> Option<Vec<JournalMessage>> {
        if self.gave_up {
            return None;
        }
        Some(self.journal.finish("messages.jsonl"))
    }
}

/// `bytes` as text, if UTF-8: ASCII (every body a node writes in the plain form) is seen
/// 64 bytes at a time, the rest left to `from_utf8`.
fn utf8(bytes: &[u8]) -> Option<&str> {
    if is_ascii(bytes) {
        // SAFETY: ASCII is UTF-8.
        return Some(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).ok()
}

/// No byte with its high bit set: 64 bytes a step, then words, then bytes.
#[inline]
fn is_ascii(bytes: &[u8]) -> bool {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut blocks = bytes.chunks_exact(64);
    for block in &mut blocks {
        if any_high_64(block.try_into().expect("64 bytes")) {
            return false;
        }
    }
    let mut words = blocks.remainder().chunks_exact(8);
    let mut high = 0;
    for word in &mut words {
        high |= u64::from_le_bytes(word.try_into().expect("8 bytes"));
    }
    high & HIGH == 0 && words.remainder().is_ascii()
}

/// Whether any of sixty-four bytes has its high bit set: with SSE2, one mask of four vectors.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
fn any_high_64(block: &[u8; 64]) -> bool {
    use std::arch::x86_64::*;
    // SAFETY: the sixty-four bytes are readable (an array of sixty-four); SSE2 is there (cfg).
    unsafe {
        let p = block.as_ptr();
        let v = |at: usize| _mm_loadu_si128(p.add(at).cast());
        let all = _mm_or_si128(_mm_or_si128(v(0), v(16)), _mm_or_si128(v(32), v(48)));
        _mm_movemask_epi8(all) != 0
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
#[inline(always)]
fn any_high_64(block: &[u8; 64]) -> bool {
    !block.is_ascii()
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Text is read as `from_utf8` reads it: ASCII at every length (past the 32-byte steps
    /// too), and with a byte that is not ASCII anywhere, valid or not.
    #[test]
    fn bodies_are_utf8_as_from_utf8_says() {
        let mut texts: Vec<Vec<u8>> = Vec::new();
        // Past two 64-byte blocks, with the odd byte anywhere.
        for len in 0..150 {
            let ascii: Vec<u8> = (0..len).map(|i| b' ' + (i * 7 % 95) as u8).collect();
            texts.push(ascii.clone());
            for at in 0..len {
                for odd in [&[0x80u8][..], &[0xff], &"é".as_bytes()[..1], "é".as_bytes()] {
                    let mut t = ascii.clone();
                    t.splice(at..at + 1, odd.iter().copied());
                    texts.push(t);
                }
            }
        }
        for t in &texts {
            assert_eq!(utf8(t), std::str::from_utf8(t).ok(), "{t:?}");
        }
    }

    /// A writer whose bytes the test reads after the journal is dropped.
    #[derive(Clone, Default)]
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Feeds `count` events (a send, then its delivery or drop) to a journal; the lines the
    /// journal wrote, and the messages it kept.
    fn journal_of(count: usize, read: usize) -> (Vec<u8>, Option<Vec<JournalMessage>>, Vec<u8>) {
        use rand::{Rng as _, SeedableRng};
        let mut rng = crate::Rng::seed_from_u64(11);
        let out = Shared::default();
        let messages = Arc::new(Mutex::new(None));
        let mut journal = KeepGoing::new(out.clone(), Default::default(), messages.clone());
        journal.kept.read = read;
        let mut expected = Vec::new();
        for i in 0..count {
            let id = i as u64 / 2;
            let (kind, body) = if i % 2 == 0 {
                // Bodies of every size up to past a chunk, a few not UTF-8.
                let len = match rng.gen_range(0..1000) {
                    0 => rng.gen_range(
                        KeepGoing::<Shared>::CHUNK - 200..2 * KeepGoing::<Shared>::CHUNK,
                    ),
                    _ => rng.gen_range(0..400),
                };
                let mut body = format!(
                    r#"{{"type":"read","msg_id":{id},"x":"{}"}}"#,
                    "é".repeat(len / 2)
                )
                .into_bytes();
                if rng.gen_range(0..200) == 0 {
                    let at = body.len() - 4;
                    body[at] = 0xff;
                }
                ("send", Some(body))
            } else {
                (["recv", "drop"][rng.gen_range(0..2)], None)
            };
            let head = format!(r#"{{"time":{i},"type":"{kind}","id":{id},"src":"c1","dest":"n0""#);
            let event = JournalEvent {
                time: i as u64,
                kind,
                id,
                src: b"c1",
                dest: b"n0",
                src_addr: Addr::Client(1),
                dest_addr: Addr::Node(0),
                body: body.as_deref(),
                head: head.as_bytes(),
            };
            event.write_line(&mut expected);
            journal.event(&event);
            if i % 5000 == 0 {
                journal.flush().unwrap();
            }
        }
        drop(journal);
        let written = out.0.borrow().clone();
        let kept = messages.lock().unwrap().take();
        (written, kept, expected)
    }

    /// Every line is written as the network hands it over, across chunks; events are kept as
    /// messages whose bodies are the lines' (a body that is not UTF-8 as its text reads);
    /// past the limit the messages are let go.
    #[test]
    fn the_journal_writes_and_keeps_its_events() {
        let (written, kept, expected) = journal_of(12_000, 0);
        assert_eq!(written, expected);
        let messages = kept.expect("under the limit");
        assert_eq!(messages.len(), 6_000);
        let lines: Vec<&[u8]> = expected.split(|&b| b == b'\n').collect();
        let mut lossy = 0;
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m.id, i as u64);
            assert_eq!(m.msg_id(), Some(i as u64));
            assert_eq!(m.kind(), "read");
            let line = lines[2 * i];
            let body = &line
                [line.windows(8).position(|w| w == b",\"body\":").unwrap() + 8..line.len() - 1];
            match std::str::from_utf8(body) {
                Ok(body) => assert_eq!(m.body(), body),
                Err(_) => {
                    lossy += 1;
                    assert_eq!(m.body(), String::from_utf8_lossy(body));
                }
            }
            let fate = if lines[2 * i + 1].windows(6).any(|w| w == b"\"recv\"") {
                crate::report_html::stored::Fate::Delivered(2 * i as u64 + 1)
            } else {
                crate::report_html::stored::Fate::Dropped(2 * i as u64 + 1)
            };
            assert_eq!(m.fate, fate);
        }
        assert!(lossy > 0);
        let (written, kept, expected) = journal_of(3000, KeptMessages::MAX_BYTES - 100_000);
        assert_eq!(written, expected);
        assert!(kept.is_none());
    }
}
