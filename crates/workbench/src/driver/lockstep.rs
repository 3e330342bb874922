//! The lockstep driver: any node binary that speaks the lockstep protocol (every binary built
//! on glomers-node does) runs as a process over its pipes, but in virtual time, exactly as the
//! sim driver runs an in-process engine. `docs/lockstep.md` describes the protocol.
//!
//! Every step is synchronous: the workbench writes `!deliver <t>` and a message, or
//! `!advance <t>`, and reads the node's messages up to its `!idle <deadline>` line before it
//! does anything else. Nodes are seeded from the test seed (the same per-node seeds as the sim
//! driver) and stepped in the same order as [`super::sim::SimCluster`] steps its engines, so a
//! binary and the same node type from the catalog produce the same bytes.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::process::{kill_group, resolve_bin, spawn_named, spawn_node};
use super::sim::node_seed;
use crate::history::Nanos;
use crate::runner::{Cluster, NodeOutput};
use crate::signals;

/// How long (wall time) a node may take to announce lockstep mode or to finish one step.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// The line a node opens with.
const HELLO: &[u8] = b"!lockstep 1";
/// The longest stdout line taken whole; a longer one is cut there (and then is not JSON).
const MAX_LINE_BYTES: usize = 64 << 20;
/// How much one `read` of a node's stdout asks for.
const READ_SIZE: usize = 64 * 1024;
/// Lines of stderr kept per node for crash reports.
const TAIL_LINES: usize = 32;

/// A node's last stderr lines.
type Tail = Arc<Mutex<VecDeque<String>>>;

struct LockstepNode {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    /// Stdout, read on the runner's thread (a reader thread would add a thread hand-over to
    /// every step).
    stdout: LineReader,
    stderr_tail: Tail,
    /// The earliest timer or RPC deadline the node announced in its last `!idle`.
    next_deadline: Option<Nanos>,
}

pub struct LockstepCluster {
    nodes: Vec<LockstepNode>,
    now: Nanos,
    /// What nodes wrote in the steps at `now`, not yet handed to the runner.
    pending: Vec<NodeOutput>,
    interrupt_reported: bool,
}

impl LockstepCluster {
    /// Starts `node_count` copies of `bin` with `args` in lockstep mode, node `i` seeded from
    /// `seed` and `i`, stderr going to `log_dir/nX.log` when given (and discarded otherwise).
    /// Fails unless every node announces lockstep mode within ten seconds.
    pub fn spawn(
        bin: &Path,
        args: &[String],
        node_count: usize,
        seed: u64,
        log_dir: Option<&Path>,
    ) -> anyhow::Result<LockstepCluster> {
        let bin = resolve_bin(bin)?;
        let mut cluster = LockstepCluster {
            nodes: Vec::new(),
            now: 0,
            pending: Vec::new(),
            interrupt_reported: false,
        };
        for node in 0..node_count as u32 {
            let mut command = Command::new(&bin);
            command.args(args).env(glomers_node::LOCKSTEP_ENV, "1").env(
                glomers_node::SEED_ENV,
                node_seed(seed, node as u64).to_string(),
            );
            let (child, stdin, stdout, stderr) = spawn_node(command, node)?;
            let log = match log_dir {
                Some(dir) => {
                    let path = dir.join(format!("n{node}.log"));
                    Some(
                        File::create(&path)
                            .with_context(|| format!("creating {}", path.display()))?,
                    )
                }
                None => None,
            };
            let tail: Tail = Default::default();
            let stderr_tail = tail.clone();
            let stderr_thread = spawn_named(format!("n{node}-stderr"), move || {
                copy_stderr(stderr, log, stderr_tail)
            });
            cluster.nodes.push(LockstepNode {
                child,
                stdin: Some(BufWriter::with_capacity(64 * 1024, stdin)),
                stdout: LineReader::new(stdout),
                stderr_tail: tail,
                next_deadline: None,
            });
            // The node is in the cluster now, so dropping the cluster kills it if this failed.
            stderr_thread?;
        }
        for node in 0..node_count {
            cluster.expect_hello(node)?;
        }
        Ok(cluster)
    }

    fn expect_hello(&mut self, i: usize) -> anyhow::Result<()> {
        let not_lockstep = "`glomers sim --bin` runs nodes built on glomers-node, or nodes that \
                            speak its lockstep protocol (docs/lockstep.md)";
        match self.nodes[i].stdout.next_line(STEP_TIMEOUT) {
            Ok(Some(line)) if line == HELLO => Ok(()),
            Ok(Some(line)) => anyhow::bail!(
                "n{i} opened with {:?} instead of {:?}: {not_lockstep}",
                String::from_utf8_lossy(&line),
                String::from_utf8_lossy(HELLO)
            ),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => anyhow::bail!(
                "n{i} did not announce lockstep mode within {} s: {not_lockstep}",
                STEP_TIMEOUT.as_secs()
            ),
            Ok(None) | Err(_) => {
                let detail = self.exit_detail(i, "closed its stdout while still running");
                anyhow::bail!("n{i} ended before announcing lockstep mode: it {detail}")
            }
        }
    }

    /// Sends one step to node `i` and collects what it wrote up to its `!idle` line.
    fn step(&mut self, i: usize, control: &str, message: Option<&[u8]>) {
        let Some(stdin) = self.nodes[i].stdin.as_mut() else {
            return; // the node is gone (already reported)
        };
        let written = stdin
            .write_all(control.as_bytes())
            .and_then(|_| match message {
                Some(line) => stdin.write_all(line).and_then(|_| stdin.write_all(b"\n")),
                None => Ok(()),
            })
            .and_then(|_| stdin.flush());
        // A failed write means the node is gone: its stdout closes too, reported below.
        let _ = written;
        loop {
            match self.nodes[i].stdout.next_line(STEP_TIMEOUT) {
                Ok(Some(line)) => {
                    if let Some(rest) = line.strip_prefix(b"!idle ") {
                        self.nodes[i].next_deadline = parse_deadline(rest);
                        return;
                    }
                    self.pending.push(NodeOutput::Line {
                        node: i as u32,
                        line,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    let running = format!(
                        "did not end a step with `!idle` within {} s of wall time and is killed",
                        STEP_TIMEOUT.as_secs()
                    );
                    let detail = self.exit_detail(i, &running);
                    return self.gone(i, detail);
                }
                Ok(None) | Err(_) => {
                    let detail = self.exit_detail(i, "closed its stdout while still running");
                    return self.gone(i, detail);
                }
            }
        }
    }

    fn gone(&mut self, i: usize, detail: String) {
        let node = &mut self.nodes[i];
        node.stdin = None;
        node.next_deadline = None;
        kill_group(&mut node.child);
        self.pending.push(NodeOutput::Exited {
            node: i as u32,
            detail,
        });
    }

    /// What became of the node, to follow its name: its exit status (waiting briefly for
    /// it) or `running` if it has not exited, and its last stderr lines.
    fn exit_detail(&mut self, i: usize, running: &str) -> String {
        let node = &mut self.nodes[i];
        let mut status = None;
        for _ in 0..50 {
            match node.child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_millis(20));
        let tail = node.stderr_tail.lock().expect("tail lock");
        let status = match status {
            Some(s) => format!("exited with {s}"),
            None => running.to_string(),
        };
        if tail.is_empty() {
            format!("{status} (nothing on stderr)")
        } else {
            let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
            format!("{status}; last stderr lines:\n    {}", lines.join("\n    "))
        }
    }

    /// Ends every node: closes its stdin (a lockstep node then exits by itself), kills its
    /// process group and reaps it.
    pub fn shutdown(&mut self) {
        for node in &mut self.nodes {
            node.stdin = None;
            kill_group(&mut node.child);
            let _ = node.child.wait();
            signals::unregister_group(node.child.id());
        }
        // Not `signals::reap_orphans`: in a sweep on several threads it would kill the nodes of
        // the other runs too (they are all our children). Killing each node's process group
        // takes what it started with it.
        self.nodes.clear();
    }
}

impl Drop for LockstepCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Cluster for LockstepCluster {
    fn deliver(&mut self, node: u32, line: Vec<u8>, now: Nanos) {
        self.now = self.now.max(now);
        let control = format!("!deliver {}\n", self.now);
        self.step(node as usize, &control, Some(&line));
    }

    fn wait(&mut self, deadline: Nanos, out: &mut Vec<NodeOutput>) -> Nanos {
        if let (Some(signal), false) = (signals::received(), self.interrupt_reported) {
            self.interrupt_reported = true;
            out.push(NodeOutput::Interrupted { signal });
        }
        if !self.pending.is_empty() {
            out.append(&mut self.pending);
            return self.now;
        }
        // As the sim driver: the earliest node deadline (ties: the lowest index) if it comes
        // first.
        let next = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.next_deadline.map(|d| (d, i)))
            .min();
        match next {
            Some((at, i)) if at <= deadline => {
                self.now = self.now.max(at);
                let control = format!("!advance {}\n", self.now);
                self.step(i, &control, None);
                out.append(&mut self.pending);
            }
            _ => self.now = self.now.max(deadline),
        }
        self.now
    }
}

/// `<nanos>` or `none`; anything else is read as no deadline.
fn parse_deadline(text: &[u8]) -> Option<Nanos> {
    std::str::from_utf8(text).ok()?.trim().parse().ok()
}

/// Copies a node's stderr to its log (if any), keeping the last lines for crash reports.
fn copy_stderr(stderr: ChildStderr, log: Option<File>, tail: Tail) {
    let mut log = log.map(BufWriter::new);
    for line in BufReader::new(stderr).split(b'\n') {
        let Ok(line) = line else { break };
        if let Some(log) = log.as_mut() {
            let _ = log
                .write_all(&line)
                .and_then(|_| log.write_all(b"\n"))
                .and_then(|_| log.flush());
        }
        let mut tail = tail.lock().expect("tail lock");
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(String::from_utf8_lossy(&line).into_owned());
    }
}

/// A node's stdout as lines, read on the calling thread with a wall-clock timeout.
struct LineReader {
    stdout: ChildStdout,
    buf: Vec<u8>,
    /// Where the unread part of `buf` starts.
    start: usize,
}

impl LineReader {
    fn new(stdout: ChildStdout) -> LineReader {
        LineReader {
            stdout,
            buf: Vec::with_capacity(READ_SIZE),
            start: 0,
        }
    }

    /// The next line without its newline (or `\r\n`); `None` once stdout is closed (a last
    /// unterminated line is returned first); a `TimedOut` error when no whole line came within
    /// `timeout`.
    fn next_line(&mut self, timeout: Duration) -> io::Result<Option<Vec<u8>>> {
        let deadline = Instant::now() + timeout;
        loop {
            let unread = &self.buf[self.start..];
            let cut = match unread.iter().position(|&b| b == b'\n') {
                Some(pos) => Some((pos, pos + 1)),
                None if unread.len() >= MAX_LINE_BYTES => Some((unread.len(), unread.len())),
                None => None,
            };
            if let Some((end, next)) = cut {
                let mut line = unread[..end].to_vec();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.start += next;
                return Ok(Some(line));
            }
            self.buf.drain(..self.start);
            self.start = 0;
            wait_readable(&self.stdout, deadline)?;
            let filled = self.buf.len();
            self.buf.resize(filled + READ_SIZE, 0);
            let read = self.stdout.read(&mut self.buf[filled..]);
            self.buf.truncate(filled + *read.as_ref().unwrap_or(&0));
            match read {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) => {
                    let line = std::mem::take(&mut self.buf);
                    return Ok(Some(line));
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Waits until `stdout` has something to read (or is closed), at the latest until `deadline`.
#[cfg(unix)]
fn wait_readable(stdout: &ChildStdout, deadline: Instant) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let mut fds = libc::pollfd {
            fd: stdout.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = left.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
        // SAFETY: poll(2) gets one valid pollfd that lives for the duration of the call.
        let ready = unsafe { libc::poll(&mut fds, 1, millis) };
        match ready {
            0 => continue,
            n if n > 0 => return Ok(()),
            _ => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Elsewhere the read just blocks: a node that stops answering hangs the run instead of
/// timing out.
#[cfg(not(unix))]
fn wait_readable(_: &ChildStdout, _: Instant) -> io::Result<()> {
    Ok(())
}
