//! The process driver: spawns any binary that speaks the Maelstrom protocol, one process per
//! node, and talks to it over pipes in real time, as Maelstrom does (without the JVM).
//!
//! Each node gets four threads (see `driver::pipes`): a stdin writer (so a node that stops
//! reading can never block the runner), a stdout reader feeding one shared channel, a stderr
//! copier that writes `node-logs/<node>.log` and keeps the last lines for crash reports, and an
//! exit watcher, so a node is seen to die even while a child of its own holds its stdout.
//!
//! Whatever a node does is a fact about that node, reported to the runner: it exits, closes
//! its stdout or stdin, leaves a line unterminated, writes a line too long, or stops reading.
//! The run goes on (or ends, for a dead node) with its verdict, and the workbench itself never
//! dies of it (SIGPIPE stays ignored).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::pipes::{self, Event, Shared, INPUT_QUEUE_BYTES, MAX_LINE_BYTES};
use crate::history::Nanos;
use crate::runner::{Cluster, NodeOutput, Severity};
use crate::signals;

/// Lines read from the nodes' stdout and not yet routed, over all nodes.
const OUTPUT_QUEUE_LINES: usize = 16 * 1024;
/// How often `wait` looks at what no event announces: signals, unterminated lines, nodes that
/// closed a pipe and have not exited.
const POLL: Duration = Duration::from_millis(100);
/// How long a line may stay unterminated before it is named.
const UNTERMINATED_AFTER: Duration = Duration::from_secs(1);
/// After a node closes its stdout or a write to it fails, how long its exit is awaited (to
/// report its status) before the closed pipe is reported alone.
const EXIT_GRACE: Duration = Duration::from_millis(500);
/// How long a dead node's last stderr lines are awaited for its crash report.
const STDERR_GRACE: Duration = Duration::from_millis(100);

/// A pipe the node closed while its process still ran, waiting for the exit that may follow.
enum Closed {
    Stdout,
    Stdin(std::io::Error),
}

struct NodeProcess {
    child: Child,
    stdin: Option<Sender<Vec<u8>>>,
    shared: Arc<Shared>,
    /// The node's exit (or closed stdout) was reported: nothing more is said about it.
    gone: bool,
    /// A closed pipe, and until when its process's exit is awaited.
    closed: Option<(Instant, Closed)>,
    /// Messages dropped because the node did not read them (reported once).
    dropped_input: u64,
    /// `partial_since` of the unterminated line already named.
    partial_named: u64,
}

pub struct ProcessCluster {
    nodes: Vec<NodeProcess>,
    events: Receiver<Event>,
    start: Instant,
    /// When the cluster was created: the readers' clock for unterminated lines.
    epoch: Instant,
    threads: Vec<JoinHandle<()>>,
    /// Reports made outside `wait` (by `deliver`), handed over at the next `wait`.
    pending: Vec<NodeOutput>,
    next_poll: Instant,
    interrupt_reported: bool,
}

impl ProcessCluster {
    /// Starts `node_count` copies of `bin` with `args`, stderr going to `log_dir/nX.log` (and
    /// to our stderr too with `echo_stderr`).
    pub fn spawn(
        bin: &Path,
        args: &[String],
        node_count: usize,
        log_dir: &Path,
        echo_stderr: bool,
    ) -> anyhow::Result<ProcessCluster> {
        let bin = resolve_bin(bin)?;
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("creating {}", log_dir.display()))?;
        // Bounded in lines here, and per node in bytes by the readers.
        let (tx, events) = crossbeam_channel::bounded(OUTPUT_QUEUE_LINES);
        let now = Instant::now();
        let mut cluster = ProcessCluster {
            nodes: Vec::new(),
            events,
            start: now,
            epoch: now,
            threads: Vec::new(),
            pending: Vec::new(),
            next_poll: now,
            interrupt_reported: false,
        };
        for node in 0..node_count as u32 {
            cluster.spawn_node(node, &bin, args, log_dir, echo_stderr, &tx)?;
        }
        cluster.start = Instant::now();
        Ok(cluster)
    }

    fn spawn_node(
        &mut self,
        node: u32,
        bin: &Path,
        args: &[String],
        log_dir: &Path,
        echo_stderr: bool,
        events: &Sender<Event>,
    ) -> anyhow::Result<()> {
        let log_path = log_dir.join(format!("n{node}.log"));
        let log =
            File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        let mut command = Command::new(bin);
        command
            .args(args)
            // Real time, even if the caller's environment asks glomers-node for lockstep.
            .env_remove(glomers_node::LOCKSTEP_ENV);
        let (mut child, stdin, stdout, stderr) = spawn_node(command, node)?;
        let shared = Arc::new(Shared::default());
        let (stdin_tx, stdin_rx) = crossbeam_channel::unbounded();
        let pid = child.id();
        // A thread that cannot start (the machine's thread or memory limit) ends the test with
        // a sentence: this node is killed here, those already started by Drop.
        let started = (|| -> anyhow::Result<()> {
            let (s, ev) = (shared.clone(), events.clone());
            self.threads
                .push(spawn_named(format!("n{node}-stdin"), move || {
                    pipes::write_stdin(node, stdin, stdin_rx, s, ev)
                })?);
            let (s, ev, epoch) = (shared.clone(), events.clone(), self.epoch);
            self.threads
                .push(spawn_named(format!("n{node}-stdout"), move || {
                    pipes::read_stdout(node, stdout, epoch, s, ev)
                })?);
            let s = shared.clone();
            self.threads
                .push(spawn_named(format!("n{node}-stderr"), move || {
                    pipes::copy_stderr(node, stderr, log, s, echo_stderr)
                })?);
            let (s, ev) = (shared.clone(), events.clone());
            self.threads
                .push(spawn_named(format!("n{node}-exit"), move || {
                    pipes::watch_exit(node, pid, s, ev)
                })?);
            Ok(())
        })();
        if let Err(e) = started {
            kill_group(&mut child);
            let _ = child.wait();
            signals::unregister_group(pid);
            return Err(e.context(format!(
                "cannot run n{node}: {node} node{} started, and the machine refuses more \
                 threads (each node needs four); try a smaller --node-count",
                if node == 1 { "" } else { "s" }
            )));
        }
        self.nodes.push(NodeProcess {
            child,
            stdin: Some(stdin_tx),
            shared,
            gone: false,
            closed: None,
            dropped_input: 0,
            partial_named: 0,
        });
        Ok(())
    }

    fn elapsed(&self) -> Nanos {
        self.start.elapsed().as_nanos() as Nanos
    }

    /// Reports `node`'s end: its exit status when it has exited, else the pipe it closed, with
    /// its last stderr lines.
    fn report_gone(&mut self, node: u32, out: &mut Vec<NodeOutput>) {
        let process = &mut self.nodes[node as usize];
        if process.gone {
            return;
        }
        process.gone = true;
        process.closed = None;
        let status = process.child.try_wait().ok().flatten();
        if status.is_some() {
            // The last stderr lines, unless a child of the node holds stderr open.
            let waited = Instant::now();
            while !process.shared.stderr_done.load(Ordering::Relaxed)
                && waited.elapsed() < STDERR_GRACE
            {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        let what = match status {
            Some(s) => format!("exited with {s}"),
            None => "closed its stdout while still running, so it can send nothing more".into(),
        };
        let tail = process.shared.stderr_tail.lock().expect("tail lock");
        let detail = if tail.is_empty() {
            format!("{what} (nothing on stderr)")
        } else {
            let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
            format!("{what}; last stderr lines:\n    {}", lines.join("\n    "))
        };
        out.push(NodeOutput::Exited { node, detail });
    }

    fn on_event(&mut self, event: Event, out: &mut Vec<NodeOutput>) {
        match event {
            Event::Line(node, line) => {
                let shared = &self.nodes[node as usize].shared;
                shared.queued_out.fetch_sub(line.len(), Ordering::Relaxed);
                out.push(NodeOutput::Line { node, line });
            }
            Event::TooLong(node, len) => out.push(problem(
                node,
                Severity::Error,
                "too-long",
                format!(
                    "n{node} wrote a line of {len} bytes, longer than the {} MiB accepted: it \
                     was dropped",
                    MAX_LINE_BYTES >> 20
                ),
            )),
            Event::Exited(node) => self.report_gone(node, out),
            Event::StdoutClosed(node) => self.on_closed(node, Closed::Stdout, out),
            Event::StdinFailed(node, e) => self.on_closed(node, Closed::Stdin(e), out),
        }
    }

    /// A pipe closed: report the node's exit if it has exited, else wait a little for it.
    fn on_closed(&mut self, node: u32, pipe: Closed, out: &mut Vec<NodeOutput>) {
        let process = &mut self.nodes[node as usize];
        if process.gone {
            return;
        }
        if let Closed::Stdin(_) = pipe {
            process.stdin = None; // the writer has ended
        }
        if matches!(process.child.try_wait(), Ok(Some(_))) {
            return self.report_gone(node, out);
        }
        // A closed stdout outranks a closed stdin (it ends the node's part in the test).
        if !matches!(process.closed, Some((_, Closed::Stdout))) {
            process.closed = Some((Instant::now() + EXIT_GRACE, pipe));
        }
    }

    /// What no event announces: a signal, the end of an exit grace, a line left unterminated.
    fn poll(&mut self, out: &mut Vec<NodeOutput>) {
        if let (Some(signal), false) = (signals::received(), self.interrupt_reported) {
            self.interrupt_reported = true;
            out.push(NodeOutput::Interrupted { signal });
        }
        let now = Instant::now();
        for node in 0..self.nodes.len() as u32 {
            let process = &mut self.nodes[node as usize];
            if process.gone {
                continue;
            }
            match process.closed.take() {
                Some((until, pipe)) if until <= now => match pipe {
                    Closed::Stdout => self.report_gone(node, out),
                    Closed::Stdin(e) => out.push(problem(
                        node,
                        Severity::Error,
                        "stdin-closed",
                        format!(
                            "n{node} stopped reading its stdin (writing to it failed: {e}); \
                             messages to it are lost"
                        ),
                    )),
                },
                other => process.closed = other,
            }
            let process = &mut self.nodes[node as usize];
            let since = process.shared.partial_since.load(Ordering::Relaxed);
            if since != 0 && since != process.partial_named {
                let began = self.epoch + Duration::from_millis(since - 1);
                if now.saturating_duration_since(began) >= UNTERMINATED_AFTER {
                    process.partial_named = since;
                    let len = process.shared.partial_len.load(Ordering::Relaxed);
                    out.push(problem(
                        node,
                        Severity::Warning,
                        "unterminated",
                        format!(
                            "n{node} wrote {len} bytes without ending the line for over {} s: \
                             a message must end with a newline (\\n), and be flushed",
                            UNTERMINATED_AFTER.as_secs()
                        ),
                    ));
                }
            }
        }
    }

    /// Kills every node, with everything it started (each node is the leader of its own
    /// process group, so a wrapper script's children go too; descendants that left the group
    /// are re-parented to the workbench, a subreaper, and killed too), and reaps the
    /// processes. The pipe threads end by themselves once the pipes close; they are not
    /// joined, so a descendant that escaped and holds a pipe open cannot hang the workbench.
    pub fn shutdown(&mut self) {
        // Once only: a second kill by pid could hit a reused pid's group.
        let mut killed = false;
        for mut process in self.nodes.drain(..) {
            process.shared.closed.store(true, Ordering::Relaxed);
            process.stdin = None; // ends the writer thread
            kill_group(&mut process.child);
            let _ = process.child.wait();
            signals::unregister_group(process.child.id());
            killed = true;
        }
        if killed {
            signals::reap_orphans();
        }
        self.threads.clear();
    }
}

impl Drop for ProcessCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Cluster for ProcessCluster {
    fn deliver(&mut self, node: u32, line: Vec<u8>, _now: Nanos) {
        let process = &mut self.nodes[node as usize];
        let Some(stdin) = &process.stdin else { return };
        let size = line.len() + 1;
        let queued = process.shared.queued_in.load(Ordering::Relaxed);
        if queued + size > INPUT_QUEUE_BYTES {
            process.dropped_input += 1;
            if process.dropped_input == 1 {
                self.pending.push(problem(
                    node,
                    Severity::Error,
                    "not-reading",
                    format!(
                        "n{node} does not read its stdin fast enough: {} MiB of messages wait \
                         for it; messages to it are dropped while that lasts",
                        INPUT_QUEUE_BYTES >> 20
                    ),
                ));
            }
            return;
        }
        process.shared.queued_in.fetch_add(size, Ordering::Relaxed);
        // A closed channel means the writer found the pipe broken: it reports that.
        let _ = stdin.send(line);
    }

    fn wait(&mut self, deadline: Nanos, out: &mut Vec<NodeOutput>) -> Nanos {
        out.append(&mut self.pending);
        if !out.is_empty() {
            return self.elapsed();
        }
        let at = (self.start + Duration::from_nanos(deadline)).min(self.next_poll);
        let first = match self.events.recv_deadline(at) {
            Ok(event) => Some(event),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                None
            }
        };
        // Take what else is already there, a bounded batch so timers stay on time.
        let mut next = first;
        let mut taken = 0;
        while let Some(event) = next {
            self.on_event(event, out);
            taken += 1;
            next = if taken < 4096 {
                self.events.try_recv().ok()
            } else {
                None
            };
        }
        if Instant::now() >= self.next_poll {
            self.poll(out);
            self.next_poll = Instant::now() + POLL;
        }
        self.elapsed()
    }
}

fn problem(node: u32, severity: Severity, kind: &'static str, message: String) -> NodeOutput {
    NodeOutput::Problem {
        node,
        severity,
        kind,
        message,
    }
}

/// Starts node `node` from `command` (program, arguments and environment set) as Maelstrom
/// does: in the temp directory, with piped stdin/stdout/stderr, leading its own process group
/// (registered, so a signal to glomers kills it).
pub(super) fn spawn_node(
    mut command: Command,
    node: u32,
) -> anyhow::Result<(Child, ChildStdin, ChildStdout, ChildStderr)> {
    command
        // As Maelstrom: nodes run in the temp directory, not wherever glomers was started.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().with_context(|| {
        format!(
            "starting {} for n{node}",
            command.get_program().to_string_lossy()
        )
    })?;
    signals::register_group(child.id());
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    Ok((child, stdin, stdout, stderr))
}

/// Kills the process group `child` leads (falling back to the child alone).
pub(super) fn kill_group(child: &mut Child) {
    #[cfg(unix)]
    {
        let pid = child.id() as libc::pid_t;
        // SAFETY: kill(2) with a negative pid signals the group that `child` leads; it only
        // reads its arguments.
        if unsafe { libc::kill(-pid, libc::SIGKILL) } == 0 {
            return;
        }
    }
    let _ = child.kill();
}

pub(super) fn spawn_named(
    name: String,
    f: impl FnOnce() + Send + 'static,
) -> anyhow::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .with_context(|| format!("starting thread {name}"))
}

/// The binary as given, checked to exist and be a file (a clear error instead of a spawn
/// failure per node).
pub(super) fn resolve_bin(bin: &Path) -> anyhow::Result<PathBuf> {
    if bin.components().count() == 1 && !bin.exists() {
        // A bare name: let the OS search PATH.
        return Ok(bin.to_path_buf());
    }
    anyhow::ensure!(bin.exists(), "--bin {}: no such file", bin.display());
    anyhow::ensure!(bin.is_file(), "--bin {}: not a file", bin.display());
    Ok(bin.canonicalize().unwrap_or_else(|_| bin.to_path_buf()))
}
