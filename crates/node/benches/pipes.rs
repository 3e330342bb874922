//! Echo nodes over real pipes: our `echo` binary against echo nodes on the other Rust Maelstrom
//! runtimes (bench/peers: nebkor-maelstrom 1.1, maelstrom-node 0.1.6), built in the same run.
//!
//! ```text
//! cargo bench -p glomers-node --bench pipes
//! cargo bench -p glomers-node --bench pipes -- 100000       # N requests per run
//! GLOMERS_BENCH_RUNS=5 cargo bench -p glomers-node --bench pipes
//! ```
//!
//! It builds our `echo` (`cargo build --release -p glomers-challenges --bin echo`) and the peers
//! (`cargo build --release --manifest-path bench/peers/Cargo.toml`, into target/bench-peers); a
//! node that does not build is reported and left out.
//!
//! For each node and run: spawn it, send `init` and wait for `init_ok`, then one thread writes N
//! echo requests (pre-generated, one in eight holding quotes, backslashes, control characters,
//! non-ASCII and `\u` escapes) while this thread reads every reply and checks it: valid JSON,
//! `echo_ok` from `n0` to the right client, an `in_reply_to` that is one of ours and not seen
//! before, and an `echo` equal (as a decoded string) to what was sent. Replies may come in any
//! order (maelstrom-node answers each request in a task of its own). The clock runs from the
//! first request written to the last reply read. Runs alternate between the nodes so that a
//! drift in the machine's speed hits them alike; the median of the runs is reported, with the
//! ratios ours/peer. Any wrong or missing reply fails the run and the bench (exit status 1).
//!
//! Then the peak RSS (VmHWM) of our node after 10 000 and after 1 000 000 requests, read from
//! /proc just before its stdin is closed.
//!
//! Environment: GLOMERS_BENCH_REQUESTS (default 300 000; a numeric argument wins),
//! GLOMERS_BENCH_RUNS (3), GLOMERS_BENCH_SLOW_REQUESTS (requests per run for maelstrom-node,
//! default 30 000: it answers about 13 000 a second whatever N, and at 300 000 a run takes
//! 25 s and grows past 1 GiB), GLOMERS_BENCH_RSS=0 to skip the memory runs.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde::de::IgnoredAny;
use serde::Deserialize;

/// Give up on a node that has not answered anything for this long.
const STALL: Duration = Duration::from_secs(30);
/// How long a node gets to exit after its stdin closes before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
const INIT: &[u8] = b"{\"id\":0,\"src\":\"c0\",\"dest\":\"n0\",\"body\":{\"type\":\"init\",\"msg_id\":1,\"node_id\":\"n0\",\"node_ids\":[\"n0\"]}}\n";
/// Request `i` (from 0) has msg_id `i + FIRST_ID`; the init has msg_id 1.
const FIRST_ID: u64 = 2;
const CLIENTS: u64 = 5;

struct Runtime {
    name: &'static str,
    bin: PathBuf,
    /// Requests per timed run.
    requests: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then this is no place for
    // a minute of building and timing.
    if !args.iter().any(|a| a == "--bench") {
        println!("pipes: skipped (not run by `cargo bench`; run `cargo bench -p glomers-node --bench pipes`)");
        return;
    }
    // A filter (`cargo bench -p glomers-node -- echo`) that does not name this bench skips it.
    if let Some(filter) = args
        .iter()
        .find(|a| !a.starts_with('-') && a.replace('_', "").parse::<u64>().is_err())
    {
        if !"pipes".contains(filter.as_str()) {
            return;
        }
    }
    let settings = Settings::from_env();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let peers_target = target.join("bench-peers");

    let mut runtimes = Vec::new();
    println!("building our echo node (release)");
    if build(&root, &["-p", "glomers-challenges", "--bin", "echo"], None) {
        runtimes.push(Runtime {
            name: "glomers (ours)",
            bin: target.join("release/echo"),
            requests: settings.requests,
        });
    } else {
        println!("  our echo node did not build: no ratios this time");
    }
    println!("building the peer nodes in bench/peers (release; the first build takes a minute)");
    let manifest = root.join("bench/peers/Cargo.toml");
    for (name, bin, requests) in [
        ("nebkor-maelstrom 1.1", "nebkor-echo", settings.requests),
        (
            "maelstrom-node 0.1.6",
            "maelstrom-node-echo",
            settings.slow_requests,
        ),
    ] {
        let args = [
            "--manifest-path".as_ref(),
            manifest.as_os_str(),
            "--bin".as_ref(),
            bin.as_ref(),
        ];
        if build(&root, &args, Some(&peers_target)) {
            runtimes.push(Runtime {
                name,
                bin: peers_target.join("release").join(bin),
                requests,
            });
        } else {
            println!("  {name} ({bin}) did not build: skipped");
        }
    }

    let mut failed = false;
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); runtimes.len()];
    let mut peaks: Vec<Option<u64>> = vec![None; runtimes.len()];
    let mut inputs = std::collections::HashMap::new();
    for rt in &runtimes {
        inputs
            .entry(rt.requests)
            .or_insert_with(|| Arc::new(requests(rt.requests)));
    }
    println!(
        "\necho over pipes: {} runs, each: init, then N requests written by one thread while another checks every reply",
        settings.runs
    );
    for run in 1..=settings.runs {
        for (k, rt) in runtimes.iter().enumerate() {
            if rates[k].len() < run - 1 {
                continue; // failed before
            }
            match drive(&rt.bin, &inputs[&rt.requests], rt.requests) {
                Ok(outcome) => {
                    println!(
                        "  run {run}  {:<22} {:>9} requests in {:>8.3} s: {:>9.0} req/s   peak RSS {}{}",
                        rt.name,
                        rt.requests,
                        outcome.elapsed.as_secs_f64(),
                        outcome.rate(),
                        kib(outcome.peak_kib),
                        if outcome.exited { "" } else { "   (did not exit on EOF: killed)" },
                    );
                    rates[k].push(outcome.rate());
                    peaks[k] = peaks[k].max(outcome.peak_kib);
                }
                Err(e) => {
                    println!("  run {run}  {:<22} FAILED: {e}", rt.name);
                    failed = true;
                }
            }
        }
    }

    println!("\nmedian of {} runs:", settings.runs);
    let medians: Vec<Option<f64>> = rates.iter().map(|r| median(r)).collect();
    for (k, rt) in runtimes.iter().enumerate() {
        match medians[k] {
            Some(m) => println!(
                "  {:<22} {:>9.0} req/s   (runs: {})",
                rt.name,
                m,
                rates[k]
                    .iter()
                    .map(|r| format!("{r:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => println!("  {:<22} no successful run", rt.name),
        }
    }
    let ours = runtimes
        .iter()
        .position(|rt| rt.name.ends_with("(ours)"))
        .and_then(|k| medians[k]);
    if let Some(ours) = ours {
        for (k, rt) in runtimes.iter().enumerate() {
            if rt.name.ends_with("(ours)") {
                continue;
            }
            if let Some(theirs) = medians[k] {
                println!("  ratio ours / {:<22} {:>7.2}x", rt.name, ours / theirs);
            }
        }
        // The same ratio pair by pair (run i of ours against run i of the peer) shows how
        // much the machine's drift moved it.
        if let (Some(o), Some(k)) = (
            runtimes.iter().position(|rt| rt.name.ends_with("(ours)")),
            runtimes.iter().position(|rt| rt.name.starts_with("nebkor")),
        ) {
            let pairs: Vec<String> = rates[o]
                .iter()
                .zip(&rates[k])
                .map(|(a, b)| format!("{:.2}", a / b))
                .collect();
            if !pairs.is_empty() {
                println!("  ours / nebkor-maelstrom run by run: {}", pairs.join(", "));
            }
        }
    }

    if settings.rss {
        if let Some(rt) = runtimes.iter().find(|rt| rt.name.ends_with("(ours)")) {
            println!("\npeak RSS (VmHWM) of our echo node, read just before its stdin closes:");
            let mut peaks = Vec::new();
            for n in [10_000u64, 1_000_000] {
                let input = Arc::new(requests(n));
                match drive(&rt.bin, &input, n) {
                    Ok(outcome) => {
                        println!(
                            "  after {:>9} requests: {}   ({:.0} req/s)",
                            n,
                            kib(outcome.peak_kib),
                            outcome.rate()
                        );
                        peaks.push(outcome.peak_kib);
                    }
                    Err(e) => {
                        println!("  after {n:>9} requests: FAILED: {e}");
                        failed = true;
                    }
                }
            }
            if let [Some(small), Some(big)] = peaks[..] {
                println!(
                    "  1M / 10k: {:.2}x (target: within 2x)",
                    big as f64 / small as f64
                );
            }
        }
    }

    if failed {
        println!("\nsome runs FAILED (see above)");
        std::process::exit(1);
    }
}

struct Settings {
    requests: u64,
    slow_requests: u64,
    runs: usize,
    rss: bool,
}

impl Settings {
    fn from_env() -> Settings {
        let num = |var: &str| {
            std::env::var(var)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        // `cargo bench` passes `--bench` (and any filter); a bare number sets N.
        let arg = std::env::args()
            .skip(1)
            .find_map(|a| a.replace('_', "").parse::<u64>().ok());
        let requests = arg
            .or_else(|| num("GLOMERS_BENCH_REQUESTS"))
            .unwrap_or(300_000)
            .max(1);
        Settings {
            requests,
            slow_requests: num("GLOMERS_BENCH_SLOW_REQUESTS")
                .unwrap_or(30_000)
                .clamp(1, requests),
            runs: num("GLOMERS_BENCH_RUNS").unwrap_or(3).max(1) as usize,
            rss: std::env::var("GLOMERS_BENCH_RSS").map_or(true, |v| v != "0"),
        }
    }
}

/// `cargo build --release ARGS`, quietly; true when it succeeded. Prints cargo's errors.
fn build(root: &Path, args: &[impl AsRef<std::ffi::OsStr>], target_dir: Option<&Path>) -> bool {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--quiet"]);
    cmd.args(args);
    if let Some(dir) = target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    match cmd.status() {
        Ok(status) => status.success(),
        Err(e) => {
            println!("  cannot run cargo: {e}");
            false
        }
    }
}

// ---------------------------------------------------------------- requests

/// The `echo` value of request `i`: as it is written in the request (JSON), and decoded.
/// One request in eight carries characters that need escaping, some escaped in the input.
fn echo_value(i: u64, json: &mut String, decoded: &mut String) {
    use std::fmt::Write as _;
    json.clear();
    decoded.clear();
    match i % 16 {
        3 => {
            let _ = write!(
                json,
                r#""q\"uote b\\ackslash \u00e9 é 🦀 \ud83e\udd80 tab\t nl\n ctl\u0001 \/ {i}""#
            );
            let _ = write!(
                decoded,
                "q\"uote b\\ackslash é é 🦀 🦀 tab\t nl\n ctl\u{1} / {i}"
            );
        }
        11 => {
            let _ = write!(json, r#""\\\"{i}\"\\ </script> \u2028 ünïcødé""#);
            let _ = write!(decoded, "\\\"{i}\"\\ </script> \u{2028} ünïcødé");
        }
        _ => {
            let _ = write!(json, r#""Please echo {i}""#);
            let _ = write!(decoded, "Please echo {i}");
        }
    }
}

fn client(i: u64) -> u64 {
    i % CLIENTS + 1
}

/// All `n` request lines, back to back.
fn requests(n: u64) -> Vec<u8> {
    use std::io::Write as _;
    let mut out = Vec::with_capacity(n as usize * 100);
    let (mut json, mut decoded) = (String::new(), String::new());
    for i in 0..n {
        echo_value(i, &mut json, &mut decoded);
        let _ = writeln!(
            out,
            r#"{{"id":{},"src":"c{}","dest":"n0","body":{{"type":"echo","msg_id":{},"echo":{json}}}}}"#,
            i + 1,
            client(i),
            i + FIRST_ID,
        );
    }
    out
}

// ---------------------------------------------------------------- one run

#[derive(Deserialize)]
struct Reply<'a> {
    #[serde(borrow)]
    src: Cow<'a, str>,
    #[serde(borrow)]
    dest: Cow<'a, str>,
    #[serde(borrow)]
    body: ReplyBody<'a>,
}

#[derive(Deserialize)]
struct ReplyBody<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    in_reply_to: u64,
    #[serde(default, borrow)]
    echo: Option<Cow<'a, str>>,
    #[serde(default)]
    #[allow(dead_code)]
    msg_id: IgnoredAny,
}

struct Outcome {
    elapsed: Duration,
    requests: u64,
    /// VmHWM of the node just before its stdin closed, in KiB.
    peak_kib: Option<u64>,
    exited: bool,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Spawns `bin`, initialises it, then sends `input` (`n` requests) from a writer thread while
/// this thread checks every reply. The node's stdin stays open until its peak RSS has been read.
fn drive(bin: &Path, input: &Arc<Vec<u8>>, n: u64) -> Result<Outcome, String> {
    let mut child = Command::new(bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let pid = child.id();
    let child = Arc::new(Mutex::new(child));

    // A watchdog kills a node that stops answering, which ends our reads with EOF.
    let progress = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let (child, progress, done) = (child.clone(), progress.clone(), done.clone());
        thread::spawn(move || {
            let mut last = (u64::MAX, Instant::now());
            while !done.load(Ordering::Relaxed) {
                thread::sleep(Duration::from_millis(100));
                let now = progress.load(Ordering::Relaxed);
                if now != last.0 {
                    last = (now, Instant::now());
                } else if last.1.elapsed() > STALL {
                    let _ = child.lock().unwrap().kill();
                    return true;
                }
            }
            false
        })
    };

    let result = (|| {
        let mut reader = BufReader::with_capacity(256 * 1024, stdout);
        let mut line = Vec::with_capacity(1024);
        stdin
            .write_all(INIT)
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing init: {e}"))?;
        read_line(&mut reader, &mut line)?;
        let reply: Reply = serde_json::from_slice(&line)
            .map_err(|e| format!("init reply is not valid JSON ({e}): {}", show(&line)))?;
        if reply.body.ty != "init_ok" || reply.body.in_reply_to != 1 {
            return Err(format!("expected init_ok: {}", show(&line)));
        }

        let start = Instant::now();
        let writer = {
            let input = input.clone();
            thread::spawn(move || {
                let result = stdin.write_all(&input).and_then(|()| stdin.flush());
                (stdin, result)
            })
        };
        let mut seen = vec![false; n as usize];
        let (mut json, mut expected) = (String::new(), String::new());
        for count in 0..n {
            read_line(&mut reader, &mut line).map_err(|e| format!("after {count} replies: {e}"))?;
            progress.store(count + 1, Ordering::Relaxed);
            let reply: Reply = serde_json::from_slice(&line)
                .map_err(|e| format!("reply is not valid JSON ({e}): {}", show(&line)))?;
            let i = reply
                .body
                .in_reply_to
                .checked_sub(FIRST_ID)
                .filter(|&i| i < n)
                .ok_or_else(|| format!("in_reply_to of no request: {}", show(&line)))?;
            if std::mem::replace(&mut seen[i as usize], true) {
                return Err(format!("second reply to one request: {}", show(&line)));
            }
            echo_value(i, &mut json, &mut expected);
            let client = client(i);
            let ok = reply.body.ty == "echo_ok"
                && reply.body.echo.as_deref() == Some(expected.as_str())
                && reply.src == "n0"
                && reply.dest.strip_prefix('c').and_then(|c| c.parse().ok()) == Some(client);
            if !ok {
                return Err(format!(
                    "wrong reply to request {i} (expected echo_ok from n0 to c{client} with echo {json}): {}",
                    show(&line)
                ));
            }
        }
        let elapsed = start.elapsed();
        let peak_kib = peak_rss_kib(pid);
        let (stdin, written) = writer.join().map_err(|_| "writer panicked".to_string())?;
        written.map_err(|e| format!("writing requests: {e}"))?;
        drop(stdin); // EOF: a well-behaved node exits now.
        Ok(Outcome {
            elapsed,
            requests: n,
            peak_kib,
            exited: false,
        })
    })();

    done.store(true, Ordering::Relaxed);
    let stalled = watchdog.join().unwrap_or(false);
    let exited = wait_or_kill(&child);
    match result {
        Ok(outcome) => Ok(Outcome { exited, ..outcome }),
        Err(e) if stalled => Err(format!("{e} (no reply for {STALL:?}: killed)")),
        Err(e) => Err(e),
    }
}

fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> Result<(), String> {
    line.clear();
    match reader.read_until(b'\n', line) {
        Ok(0) => Err("the node closed its stdout".into()),
        Ok(_) if line.last() != Some(&b'\n') => Err(format!("unterminated line: {}", show(line))),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("reading replies: {e}")),
    }
}

/// Waits up to [`EXIT_GRACE`] for the node to exit; kills it otherwise. True if it exited.
fn wait_or_kill(child: &Mutex<Child>) -> bool {
    let deadline = Instant::now() + EXIT_GRACE;
    let mut child = child.lock().unwrap();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return true,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// The process's peak resident set size (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn kib(k: Option<u64>) -> String {
    match k {
        Some(k) => format!("{:.1} MiB", k as f64 / 1024.0),
        None => "n/a".into(),
    }
}

fn show(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end();
    if text.len() > 300 {
        let cut = (0..=300)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}...", &text[..cut])
    } else {
        text.to_string()
    }
}

fn median(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}
