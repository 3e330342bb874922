//! The process driver: spawns any binary that speaks the Maelstrom protocol, one process per
//! node, and talks to it over pipes in real time, as Maelstrom does (without the JVM).
//!
//! Each node gets three threads: a writer (so a node that stops reading its stdin can never
//! block the runner), a stdout reader feeding one shared channel, and a stderr copier that
//! writes `node-logs/<node>.log` and keeps the last lines for crash reports.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::history::Nanos;
use crate::runner::{Cluster, NodeOutput};

/// Lines of stderr kept per node for crash reports (as Maelstrom: 32).
const TAIL_LINES: usize = 32;
/// Lines read from the nodes' stdout and not yet routed, over all nodes.
const OUTPUT_QUEUE_LINES: usize = 16 * 1024;
/// The longest stdout line taken whole; a longer one is cut there (and then is not JSON).
const MAX_LINE_BYTES: u64 = 64 << 20;

enum Event {
    Line(u32, Vec<u8>),
    Eof(u32),
}

pub(super) type Tail = Arc<Mutex<VecDeque<String>>>;

struct NodeProcess {
    child: Child,
    stdin: Option<Sender<Vec<u8>>>,
    stderr_tail: Tail,
    exited: bool,
}

pub struct ProcessCluster {
    nodes: Vec<NodeProcess>,
    events: Receiver<Event>,
    start: Instant,
    threads: Vec<JoinHandle<()>>,
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
        // Bounded: a node that floods stdout blocks on its pipe (as it would under Maelstrom)
        // instead of filling the workbench's memory.
        let (tx, events) = crossbeam_channel::bounded(OUTPUT_QUEUE_LINES);
        let mut cluster = ProcessCluster {
            nodes: Vec::new(),
            events,
            start: Instant::now(),
            threads: Vec::new(),
        };
        for node in 0..node_count as u32 {
            let mut command = Command::new(&bin);
            command
                .args(args)
                // Real time, even if the caller's environment asks glomers-node for lockstep.
                .env_remove(glomers_node::LOCKSTEP_ENV)
                // As Maelstrom: nodes run in the temp directory, not wherever glomers was started.
                .current_dir(std::env::temp_dir())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let mut child = command
                .spawn()
                .with_context(|| format!("starting {} for n{node}", bin.display()))?;
            let stdin = child.stdin.take().expect("piped stdin");
            let stdout = child.stdout.take().expect("piped stdout");
            let stderr = child.stderr.take().expect("piped stderr");
            let log_path = log_dir.join(format!("n{node}.log"));
            let log = File::create(&log_path)
                .with_context(|| format!("creating {}", log_path.display()))?;
            let tail: Tail = Default::default();
            let (stdin_tx, stdin_rx) = crossbeam_channel::unbounded();
            cluster
                .threads
                .push(spawn_named(format!("n{node}-stdin"), move || {
                    write_stdin(stdin, stdin_rx)
                }));
            let events = tx.clone();
            cluster
                .threads
                .push(spawn_named(format!("n{node}-stdout"), move || {
                    read_stdout(node, stdout, events)
                }));
            let stderr_tail = tail.clone();
            cluster
                .threads
                .push(spawn_named(format!("n{node}-stderr"), move || {
                    copy_stderr(node, stderr, log, stderr_tail, echo_stderr)
                }));
            cluster.nodes.push(NodeProcess {
                child,
                stdin: Some(stdin_tx),
                stderr_tail: tail,
                exited: false,
            });
        }
        cluster.start = Instant::now();
        Ok(cluster)
    }

    fn elapsed(&self) -> Nanos {
        self.start.elapsed().as_nanos() as Nanos
    }

    /// Why a node's stdout closed: its exit status (waiting briefly for it) and its last
    /// stderr lines.
    fn exit_detail(&mut self, node: u32) -> String {
        let process = &mut self.nodes[node as usize];
        process.exited = true;
        let mut status = None;
        for _ in 0..50 {
            match process.child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(_) => break,
            }
        }
        // Give the stderr copier a moment to catch the last lines.
        std::thread::sleep(Duration::from_millis(20));
        let tail = process.stderr_tail.lock().expect("tail lock");
        let status = match status {
            Some(s) => format!("it exited with {s}"),
            None => "it closed its stdout".to_string(),
        };
        if tail.is_empty() {
            format!("{status} (nothing on stderr)")
        } else {
            let lines: Vec<&str> = tail.iter().map(String::as_str).collect();
            format!("{status}; last stderr lines:\n    {}", lines.join("\n    "))
        }
    }

    /// Kills every node, with everything it started (each node is the leader of its own
    /// process group, so a wrapper script's children go too), and reaps the processes. The pipe
    /// threads end by themselves once the pipes close; they are not joined, so a descendant
    /// that escaped the group and holds a pipe open cannot hang the workbench.
    pub fn shutdown(&mut self) {
        for process in &mut self.nodes {
            process.stdin = None; // ends the writer thread
            kill_group(&mut process.child);
            let _ = process.child.wait();
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
        if let Some(stdin) = &self.nodes[node as usize].stdin {
            // A closed channel means the writer found the pipe broken: the node is gone, and
            // the stdout reader reports that.
            let _ = stdin.send(line);
        }
    }

    fn wait(&mut self, deadline: Nanos, out: &mut Vec<NodeOutput>) -> Nanos {
        let at = self.start + Duration::from_nanos(deadline);
        let first = match self.events.recv_deadline(at) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => return self.elapsed(),
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                return self.elapsed();
            }
        };
        // Take what else is already there, a bounded batch so timers stay on time.
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(event) = next {
            match event {
                Event::Line(node, line) => out.push(NodeOutput::Line { node, line }),
                Event::Eof(node) => {
                    if !self.nodes[node as usize].exited {
                        let detail = self.exit_detail(node);
                        out.push(NodeOutput::Exited { node, detail });
                    }
                }
            }
            taken += 1;
            next = if taken < 4096 {
                self.events.try_recv().ok()
            } else {
                None
            };
        }
        self.elapsed()
    }
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

pub(super) fn spawn_named(name: String, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .expect("spawning a thread")
}

/// Writes each line plus a newline; flushes only when no more lines are queued.
fn write_stdin(stdin: ChildStdin, lines: Receiver<Vec<u8>>) {
    let mut out = BufWriter::with_capacity(64 * 1024, stdin);
    while let Ok(line) = lines.recv() {
        let mut next = Some(line);
        while let Some(line) = next {
            if out
                .write_all(&line)
                .and_then(|_| out.write_all(b"\n"))
                .is_err()
            {
                return;
            }
            next = lines.try_recv().ok();
        }
        if out.flush().is_err() {
            return;
        }
    }
}

fn read_stdout(node: u32, stdout: std::process::ChildStdout, events: Sender<Event>) {
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut line = Vec::new();
    loop {
        line.clear();
        match (&mut reader)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                if line.last() == Some(&b'\n') {
                    line.pop();
                }
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if events
                    .send(Event::Line(node, std::mem::take(&mut line)))
                    .is_err()
                {
                    return;
                }
            }
        }
    }
    let _ = events.send(Event::Eof(node));
}

pub(super) fn copy_stderr(
    node: u32,
    stderr: std::process::ChildStderr,
    log: impl Write,
    tail: Tail,
    echo: bool,
) {
    let mut log = BufWriter::new(log);
    let reader = BufReader::new(stderr);
    for line in reader.split(b'\n') {
        let Ok(line) = line else { break };
        let _ = log.write_all(&line).and_then(|_| log.write_all(b"\n"));
        let _ = log.flush();
        if echo {
            eprintln!("n{node}: {}", String::from_utf8_lossy(&line));
        }
        let mut tail = tail.lock().expect("tail lock");
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(String::from_utf8_lossy(&line).into_owned());
    }
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
