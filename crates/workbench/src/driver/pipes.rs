//! The threads of one node process: a stdin writer, a stdout reader, a stderr copier and an
//! exit watcher. Each reports to the cluster through one shared event channel, and every queue
//! between the workbench and a node is bounded in bytes, so no node can take the machine's
//! memory however much it writes or however little it reads.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

/// Bytes of messages queued for one node and not yet written to its stdin. Past this the node
/// is named (it does not read) and further messages to it are dropped.
pub const INPUT_QUEUE_BYTES: usize = 16 << 20;
/// Bytes of lines one node wrote that the runner has not taken yet. Past this the node's
/// reader stops reading, so the node blocks on its stdout as on a full pipe.
pub const OUTPUT_QUEUE_BYTES: usize = 16 << 20;
/// The longest stdout line accepted; a longer one is dropped whole and named.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// Characters kept of one stderr line for crash reports and `--log-stderr` (the log file gets
/// every byte).
const STDERR_LINE_CHARS: usize = 4096;
/// Lines of stderr kept per node for crash reports (as Maelstrom: 32).
const TAIL_LINES: usize = 32;

pub enum Event {
    Line(u32, Vec<u8>),
    /// A line longer than [`MAX_LINE_BYTES`] was dropped; how many bytes it had.
    TooLong(u32, u64),
    /// The node's stdout reached end of file.
    StdoutClosed(u32),
    /// The node's process exited (not reaped yet: its status is there to read).
    Exited(u32),
    /// A write to the node's stdin failed.
    StdinFailed(u32, std::io::Error),
}

/// What a node's threads share with the cluster.
#[derive(Default)]
pub struct Shared {
    /// Bytes queued for the stdin writer.
    pub queued_in: AtomicUsize,
    /// Bytes of lines sent to the cluster and not yet taken.
    pub queued_out: AtomicUsize,
    /// Length of a stdout line begun and not ended, and when its first byte came (ms since
    /// `epoch`, plus one; 0 when no line is pending).
    pub partial_len: AtomicU64,
    pub partial_since: AtomicU64,
    /// The stderr copier reached end of file.
    pub stderr_done: AtomicBool,
    /// The cluster is shutting down: threads stop reporting and waiting.
    pub closed: AtomicBool,
    pub stderr_tail: Mutex<VecDeque<String>>,
}

/// Writes each line plus a newline; flushes only when no more lines are queued. A failed write
/// is reported (the node closed its stdin, or died).
pub fn write_stdin(
    node: u32,
    stdin: ChildStdin,
    lines: Receiver<Vec<u8>>,
    shared: Arc<Shared>,
    events: Sender<Event>,
) {
    let mut out = BufWriter::with_capacity(64 * 1024, stdin);
    let mut write_all = || -> std::io::Result<()> {
        while let Ok(line) = lines.recv() {
            let mut next = Some(line);
            while let Some(line) = next {
                out.write_all(&line)?;
                out.write_all(b"\n")?;
                shared
                    .queued_in
                    .fetch_sub(line.len() + 1, Ordering::Relaxed);
                next = lines.try_recv().ok();
            }
            out.flush()?;
        }
        Ok(())
    };
    if let Err(e) = write_all() {
        if !shared.closed.load(Ordering::Relaxed) {
            let _ = events.send(Event::StdinFailed(node, e));
        }
    }
}

/// Reads stdout line by line, holding at most [`OUTPUT_QUEUE_BYTES`] of lines the runner has
/// not taken, and notes a line left unterminated so the cluster can name it.
pub fn read_stdout(
    node: u32,
    stdout: ChildStdout,
    epoch: Instant,
    shared: Arc<Shared>,
    events: Sender<Event>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line: Vec<u8> = Vec::new();
    // Bytes of the current line, counting those dropped past MAX_LINE_BYTES.
    let mut line_len: u64 = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok([]) | Err(_) => break,
            Ok(chunk) => chunk,
        };
        let (piece, ended) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        line_len += piece.len() as u64;
        if line_len <= MAX_LINE_BYTES as u64 {
            line.extend_from_slice(piece);
        } else if !line.is_empty() {
            line = Vec::new(); // too long: stop holding it
        }
        let consumed = piece.len() + usize::from(ended);
        reader.consume(consumed);
        if !ended {
            if shared.partial_since.load(Ordering::Relaxed) == 0 {
                let ms = epoch.elapsed().as_millis() as u64 + 1;
                shared.partial_since.store(ms, Ordering::Relaxed);
            }
            shared.partial_len.store(line_len, Ordering::Relaxed);
            continue;
        }
        shared.partial_since.store(0, Ordering::Relaxed);
        let event = if line_len > MAX_LINE_BYTES as u64 {
            Event::TooLong(node, line_len)
        } else {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if !wait_for_room(&shared, line.len()) {
                return;
            }
            Event::Line(node, std::mem::take(&mut line))
        };
        line_len = 0;
        if events.send(event).is_err() {
            return;
        }
    }
    // A last line without its newline still counts, as under Maelstrom.
    if !line.is_empty() && line_len <= MAX_LINE_BYTES as u64 && wait_for_room(&shared, line.len()) {
        let _ = events.send(Event::Line(node, line));
    }
    let _ = events.send(Event::StdoutClosed(node));
}

/// Waits until the node's unread lines leave room (the node meanwhile blocks on its stdout,
/// as on a full pipe), then counts `len` more. False when the cluster is shutting down.
fn wait_for_room(shared: &Shared, len: usize) -> bool {
    while shared.queued_out.load(Ordering::Relaxed) > OUTPUT_QUEUE_BYTES {
        if shared.closed.load(Ordering::Relaxed) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    shared.queued_out.fetch_add(len, Ordering::Relaxed);
    true
}

/// Copies stderr to the node's log as it comes, keeping the last lines (each cut at
/// [`STDERR_LINE_CHARS`]) for crash reports, and echoing them with `echo`.
pub fn copy_stderr(node: u32, stderr: ChildStderr, log: File, shared: Arc<Shared>, echo: bool) {
    let mut log = BufWriter::new(log);
    let mut stderr = stderr;
    let mut buf = vec![0u8; 64 * 1024];
    let mut line: Vec<u8> = Vec::new();
    let mut cut = false;
    let finish_line = |line: &mut Vec<u8>, cut: &mut bool| {
        let mut text = String::from_utf8_lossy(line).into_owned();
        if *cut {
            text.push_str(" …(cut)");
        }
        if echo {
            eprintln!("n{node}: {text}");
        }
        let mut tail = shared.stderr_tail.lock().expect("tail lock");
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text);
        line.clear();
        *cut = false;
    };
    loop {
        let n = match stderr.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let _ = log.write_all(&buf[..n]).and_then(|_| log.flush());
        for piece in buf[..n].split_inclusive(|&b| b == b'\n') {
            let (text, ended) = match piece.strip_suffix(b"\n") {
                Some(text) => (text, true),
                None => (piece, false),
            };
            let room = STDERR_LINE_CHARS.saturating_sub(line.len());
            line.extend_from_slice(&text[..text.len().min(room)]);
            cut |= text.len() > room;
            if ended {
                finish_line(&mut line, &mut cut);
            }
        }
    }
    if !line.is_empty() {
        finish_line(&mut line, &mut cut);
    }
    shared.stderr_done.store(true, Ordering::Relaxed);
}

/// Blocks until the process `pid` exits, then reports it without reaping it (`WNOWAIT`), so
/// its status stays there for `Child::try_wait`. A node whose stdout is held open by a child
/// of its own is seen to die all the same.
pub fn watch_exit(node: u32, pid: u32, shared: Arc<Shared>, events: Sender<Event>) {
    #[cfg(unix)]
    loop {
        // SAFETY: waitid(2) writes only into `info`, which lives for the call.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 {
            break;
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return; // already reaped (shutdown)
        }
    }
    #[cfg(not(unix))]
    let _ = pid;
    if !shared.closed.load(Ordering::Relaxed) {
        let _ = events.send(Event::Exited(node));
    }
}
