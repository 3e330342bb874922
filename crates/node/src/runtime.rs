//! The real-time driver: stdin/stdout around an [`Engine`].
//!
//! Two threads. A reader thread reads the input in large chunks and sends whole lines (many per
//! chunk) over a bounded channel. The calling thread owns the engine: it splits chunks into
//! lines, feeds them to the engine, fires timers and RPC timeouts by deadline while waiting for
//! input (`recv_deadline`), and writes the engine's output through one buffer that is written
//! out when it grows large and flushed only when no input is queued. So a burst of requests
//! costs a handful of write calls, not one per reply.

use std::io::{self, Read, Write};
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError};

use crate::engine::{Engine, Node};

/// How much the reader asks for per `read` call.
const READ_SIZE: usize = 64 * 1024;
/// Output is written out (without flushing) once this much is buffered.
const WRITE_THRESHOLD: usize = 64 * 1024;
/// The longest input line kept whole (64 MiB, the workbench's own cap on a node's output
/// line). Of a longer line only the first and last 64 KiB are kept, so memory
/// stays bounded whatever the input; the engine logs it and answers it with error 12 when its
/// `src` and `msg_id` can still be read ([`Engine::handle_long_line`]).
pub const MAX_LINE: usize = 64 << 20;
/// How much of each end of an over-long line is kept.
const LONG_LINE_KEEP: usize = 64 * 1024;
/// A chunk buffer larger than this is not reused (it held a long line): memory goes back.
const SPARE_CAPACITY: usize = 4 * READ_SIZE;
/// Chunks in flight between the reader and the loop; bounds memory when the node falls behind
/// (a chunk holds up to two reads, so about 2 MiB here). 64 doubled the node's peak RSS under a
/// long burst without making it any faster.
const CHANNEL_CHUNKS: usize = 16;

/// Runs `node` on stdin/stdout until stdin closes. The RNG seed comes from the OS and is logged
/// to stderr, where all node logs go. With `GLOMERS_LOCKSTEP=1` in the environment the node
/// runs in the workbench's virtual time instead ([`crate::run_lockstep`]). Exits the process with status 1 if stdin or stdout fail.
pub fn run<N: Node>(node: N) {
    // `glomers sim --bin`: virtual time over the pipes (see `lockstep`).
    if crate::lockstep::requested() {
        return crate::lockstep::run_from_env(node);
    }
    let seed: u64 = rand::random();
    eprintln!("glomers-node: rng seed {seed}");
    let stdout = io::stdout();
    if let Err(e) = run_with_io(node, io::stdin(), stdout.lock(), seed) {
        eprintln!("glomers-node: stopping: {e}");
        std::process::exit(1);
    }
}

/// Runs `node` on any input and output until the input ends, then flushes and returns. Logs go
/// to stderr. Returns the first read or write error.
pub fn run_with_io<N: Node>(
    node: N,
    input: impl Read + Send + 'static,
    mut output: impl Write,
    seed: u64,
) -> io::Result<()> {
    let (chunk_tx, chunk_rx) = crossbeam_channel::bounded(CHANNEL_CHUNKS);
    let (spare_tx, spare_rx) = crossbeam_channel::bounded(CHANNEL_CHUNKS + 2);
    let reader = thread::Builder::new()
        .name("glomers-input".into())
        .spawn(move || read_chunks(input, chunk_tx, spare_rx, MAX_LINE))?;

    let mut engine = Engine::new(node, seed);
    let result = drive(&mut engine, &chunk_rx, &spare_tx, &mut output);
    engine.report_unanswered();
    drain_logs(&mut engine);
    if result.is_ok() {
        // The input ended, so the reader has returned or is about to.
        let _ = reader.join();
    }
    // Otherwise the reader may be blocked in `read`; it ends when its next send fails.
    result
}

fn drive<N: Node>(
    engine: &mut Engine<N>,
    chunks: &Receiver<io::Result<Input>>,
    spare: &Sender<Vec<u8>>,
    output: &mut impl Write,
) -> io::Result<()> {
    let start = Instant::now();
    loop {
        engine.advance(start.elapsed());
        drain_logs(engine);
        let received = match chunks.try_recv() {
            Ok(chunk) => chunk,
            Err(TryRecvError::Disconnected) => break,
            Err(TryRecvError::Empty) => {
                // Nothing queued: this is the moment to get replies out.
                write_output(engine, output)?;
                output.flush()?;
                let deadline = engine.next_deadline().and_then(|d| start.checked_add(d));
                match deadline {
                    Some(deadline) => match chunks.recv_deadline(deadline) {
                        Ok(chunk) => chunk,
                        Err(RecvTimeoutError::Timeout) => continue,
                        Err(RecvTimeoutError::Disconnected) => break,
                    },
                    None => match chunks.recv() {
                        Ok(chunk) => chunk,
                        Err(_) => break,
                    },
                }
            }
        };
        let now = start.elapsed();
        let mut chunk = match received? {
            Input::Lines(chunk) => chunk,
            Input::Long(long) => {
                engine.handle_long_line(&long.head, &long.tail, long.len, now);
                continue;
            }
        };
        for line in chunk.split(|&b| b == b'\n') {
            if !line.is_empty() {
                engine.handle_line(line, now);
            }
        }
        if engine.output().len() >= WRITE_THRESHOLD {
            write_output(engine, output)?;
        }
        chunk.clear();
        if chunk.capacity() <= SPARE_CAPACITY {
            let _ = spare.try_send(chunk);
        }
    }
    write_output(engine, output)?;
    output.flush()
}

fn write_output<N: Node>(engine: &mut Engine<N>, output: &mut impl Write) -> io::Result<()> {
    let out = engine.output();
    if !out.is_empty() {
        output.write_all(out)?;
        out.clear();
    }
    Ok(())
}

fn drain_logs<N: Node>(engine: &mut Engine<N>) {
    let logs = engine.logs();
    if !logs.is_empty() {
        // eprint! (not io::stderr()) so that test harnesses capture it.
        eprint!("{}", String::from_utf8_lossy(logs));
        logs.clear();
    }
}

/// What the reader hands the loop.
pub(crate) enum Input {
    /// Whole lines, each ending in a newline (but perhaps the last line of the input).
    Lines(Vec<u8>),
    /// A line longer than the cap: its ends and its length.
    Long(LongLine),
}

/// What is kept of an over-long line.
pub(crate) struct LongLine {
    pub(crate) head: Vec<u8>,
    pub(crate) tail: Vec<u8>,
    pub(crate) len: u64,
}

impl LongLine {
    fn start(line: &[u8]) -> Self {
        LongLine {
            head: line[..LONG_LINE_KEEP.min(line.len())].to_vec(),
            tail: line[line.len().saturating_sub(LONG_LINE_KEEP)..].to_vec(),
            len: line.len() as u64,
        }
    }

    fn extend(&mut self, more: &[u8]) {
        self.len += more.len() as u64;
        self.tail.extend_from_slice(more);
        if self.tail.len() > 2 * LONG_LINE_KEEP {
            let cut = self.tail.len() - LONG_LINE_KEEP;
            self.tail.drain(..cut);
        }
    }
}

/// The reader thread: sends chunks that end on a line boundary (a final unterminated line is
/// sent at end of input), and over-long lines as [`Input::Long`]. Reuses the buffers the loop
/// hands back.
pub(crate) fn read_chunks(
    mut input: impl Read,
    chunks: Sender<io::Result<Input>>,
    spare: Receiver<Vec<u8>>,
    max_line: usize,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(2 * READ_SIZE);
    // Set while skipping the rest of an over-long line (`buf` then holds nothing older).
    let mut long: Option<LongLine> = None;
    loop {
        let filled = buf.len();
        buf.resize(filled + READ_SIZE, 0);
        let n = match input.read(&mut buf[filled..]) {
            Ok(0) => {
                buf.truncate(filled);
                if let Some(long) = long.take() {
                    let _ = chunks.send(Ok(Input::Long(long)));
                } else if !buf.is_empty() {
                    let _ = chunks.send(Ok(Input::Lines(buf)));
                }
                return;
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                buf.truncate(filled);
                continue;
            }
            Err(e) => {
                let _ = chunks.send(Err(e));
                return;
            }
        };
        buf.truncate(filled + n);
        let mut fresh = filled;
        if let Some(mut skipped) = long.take() {
            match memchr::memchr(b'\n', &buf) {
                None => {
                    skipped.extend(&buf);
                    buf.clear();
                    long = Some(skipped);
                    continue;
                }
                Some(end) => {
                    skipped.extend(&buf[..end]);
                    if chunks.send(Ok(Input::Long(skipped))).is_err() {
                        return;
                    }
                    buf.drain(..=end);
                    fresh = 0;
                }
            }
        }
        if let Some(pos) = memchr::memrchr(b'\n', &buf[fresh..]) {
            let cut = fresh + pos + 1;
            let mut next = spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(2 * READ_SIZE));
            next.extend_from_slice(&buf[cut..]);
            buf.truncate(cut);
            if chunks.send(Ok(Input::Lines(buf))).is_err() {
                return;
            }
            buf = next;
        }
        if buf.len() > max_line {
            long = Some(LongLine::start(&buf));
            // Let the big buffer go rather than keep its capacity.
            buf = Vec::with_capacity(2 * READ_SIZE);
        }
    }
}
