//! Lockstep mode: the node runs in the workbench's virtual time over its stdin/stdout.
//!
//! When `glomers sim --bin` starts a node it sets `GLOMERS_LOCKSTEP=1` and `GLOMERS_SEED=<u64>`
//! in its environment. [`crate::run`] then hands over to [`run_lockstep`]: the clock and the
//! timer deadlines come from the input instead of the wall clock, the RNG seed from the
//! workbench, and every step is answered synchronously, so a run replays byte for byte.
//!
//! The protocol (documented for other languages in the repository's `docs/lockstep.md`):
//!
//! - the node first writes `!lockstep 1`;
//! - the workbench then sends steps, each one control line (times are integer nanoseconds since
//!   the start of the test):
//!   - `!deliver <t>` followed by one message line: set the clock to `t`, handle the message.
//!     Timers are *not* fired, even those due at `t`: the workbench sends `!advance` for that;
//!   - `!advance <t>`: set the clock to `t` and fire every timer and RPC timeout due at or
//!     before `t` (including those the handlers set along the way);
//! - after each step the node writes the messages it produced, one per line, then
//!   `!idle <t>` (its earliest timer or RPC deadline) or `!idle none`, and flushes.
//!
//! Logs go to stderr as usual. A line that does not start with `!` is handled as a message
//! delivered at the current virtual time (and answered with `!idle` too).

use std::io::{self, BufRead, Write};
use std::time::Duration;

use crate::engine::{Engine, Node};

/// The environment variable that switches [`crate::run`] to lockstep mode (value `1`).
pub const LOCKSTEP_ENV: &str = "GLOMERS_LOCKSTEP";
/// The environment variable carrying the RNG seed (a decimal `u64`) in lockstep mode.
pub const SEED_ENV: &str = "GLOMERS_SEED";
/// The protocol version the node announces in its first line, `!lockstep 1`.
pub const LOCKSTEP_VERSION: u32 = 1;

/// Whether the workbench asked for lockstep mode.
pub(crate) fn requested() -> bool {
    std::env::var_os(LOCKSTEP_ENV).is_some_and(|v| v == "1")
}

/// Runs `node` in lockstep mode on stdin/stdout with the seed from `GLOMERS_SEED`. Exits the
/// process with status 1 on a bad seed or a failed read or write.
pub(crate) fn run_from_env<N: Node>(node: N) {
    let seed = match std::env::var(SEED_ENV) {
        Ok(s) => match s.trim().parse::<u64>() {
            Ok(seed) => seed,
            Err(e) => {
                eprintln!("glomers-node: {SEED_ENV}={s:?} is not a u64 ({e}); stopping");
                std::process::exit(1);
            }
        },
        Err(_) => 0,
    };
    eprintln!("glomers-node: lockstep mode, rng seed {seed}");
    let stdin = io::stdin();
    let stdout = io::stdout();
    if let Err(e) = run_lockstep(node, stdin.lock(), stdout.lock(), seed) {
        eprintln!("glomers-node: stopping: {e}");
        std::process::exit(1);
    }
}

/// Runs `node` in lockstep mode (see the module docs) on any input and output until
/// the input ends. Logs go to stderr. Returns the first read or write error.
///
/// ```
/// # use glomers_node::{Ctx, Node, ReplyTo};
/// # struct Quiet;
/// # impl Node for Quiet {
/// #     type Request<'de> = serde::de::IgnoredAny;
/// #     type Timer = ();
/// #     fn on_request(&mut self, _: &mut Ctx<Self>, _: serde::de::IgnoredAny, _: ReplyTo) {}
/// # }
/// let input = concat!(
///     "!deliver 1000\n",
///     r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#, "\n",
///     "!advance 2000\n",
/// );
/// let mut output = Vec::new();
/// glomers_node::run_lockstep(Quiet, input.as_bytes(), &mut output, 7).unwrap();
/// assert_eq!(
///     String::from_utf8(output).unwrap(),
///     concat!(
///         "!lockstep 1\n",
///         r#"{"src":"n1","dest":"c0","body":{"type":"init_ok","in_reply_to":1}}"#, "\n",
///         "!idle none\n",
///         "!idle none\n",
///     )
/// );
/// ```
pub fn run_lockstep<N: Node>(
    node: N,
    mut input: impl BufRead,
    output: impl Write,
    seed: u64,
) -> io::Result<()> {
    let mut output = io::BufWriter::with_capacity(64 * 1024, output);
    let mut engine = Engine::new(node, seed);
    writeln!(output, "!lockstep {LOCKSTEP_VERSION}")?;
    output.flush()?;
    let mut line = Vec::new();
    let mut message = Vec::new();
    let mut now = Duration::ZERO;
    while read_line(&mut input, &mut line)? {
        match parse_control(&line) {
            Some(Control::Deliver(at)) => {
                now = now.max(at);
                if !read_line(&mut input, &mut message)? {
                    eprintln!("glomers-node: lockstep: input ended after `!deliver`");
                    break;
                }
                engine.handle_line(&message, now);
            }
            Some(Control::Advance(at)) => {
                now = now.max(at);
                engine.advance(now);
            }
            None if line.first() == Some(&b'!') => {
                eprintln!(
                    "glomers-node: lockstep: unknown control line {:?} ignored",
                    String::from_utf8_lossy(&line)
                );
            }
            None => engine.handle_line(&line, now),
        }
        finish_step(&mut engine, &mut output)?;
    }
    drain_logs(&mut engine);
    output.flush()
}

enum Control {
    Deliver(Duration),
    Advance(Duration),
}

fn parse_control(line: &[u8]) -> Option<Control> {
    let text = std::str::from_utf8(line).ok()?;
    let (command, time) = text.strip_prefix('!')?.split_once(' ')?;
    let at = Duration::from_nanos(time.trim().parse().ok()?);
    match command {
        "deliver" => Some(Control::Deliver(at)),
        "advance" => Some(Control::Advance(at)),
        _ => None,
    }
}

/// Writes the step's messages and the `!idle` line, and flushes.
fn finish_step<N: Node>(engine: &mut Engine<N>, output: &mut impl Write) -> io::Result<()> {
    drain_logs(engine);
    let out = engine.output();
    output.write_all(out)?;
    out.clear();
    match engine.next_deadline() {
        Some(d) => {
            let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            writeln!(output, "!idle {nanos}")?;
        }
        None => output.write_all(b"!idle none\n")?,
    }
    output.flush()
}

/// Reads one line without its `\n` (or `\r\n`); false at the end of the input.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    if input.read_until(b'\n', line)? == 0 {
        return Ok(false);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(true)
}

fn drain_logs<N: Node>(engine: &mut Engine<N>) {
    let logs = engine.logs();
    if !logs.is_empty() {
        eprint!("{}", String::from_utf8_lossy(logs));
        logs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ctx, ReplyTo};

    /// Replies `tick_ok` to `tick` after 5 ms, by timer.
    struct Delayed;

    #[derive(serde::Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case")]
    enum Req {
        Tick,
    }

    impl Node for Delayed {
        type Request<'de> = Req;
        type Timer = ReplyTo;

        fn on_request(&mut self, ctx: &mut Ctx<Self>, _: Req, from: ReplyTo) {
            ctx.after(Duration::from_millis(5), from);
        }

        fn on_timer(&mut self, ctx: &mut Ctx<Self>, from: ReplyTo) {
            let body = serde_json::json!({"type": "tick_ok", "at": ctx.now().as_nanos() as u64});
            ctx.reply(&from, body);
        }
    }

    fn run(input: &str) -> String {
        let mut out = Vec::new();
        run_lockstep(Delayed, input.as_bytes(), &mut out, 1).unwrap();
        String::from_utf8(out).unwrap()
    }

    const INIT: &str = r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#;
    const TICK: &str = r#"{"src":"c1","dest":"n0","body":{"type":"tick","msg_id":2}}"#;

    #[test]
    fn timers_fire_only_on_advance_and_at_virtual_time() {
        let input = format!(
            "!deliver 0\n{INIT}\n!deliver 1000\n{TICK}\n!advance 4000000\n!advance 5001000\n"
        );
        let out = run(&input);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "!lockstep 1");
        assert!(lines[1].contains("init_ok"));
        assert_eq!(lines[2], "!idle none");
        // The tick set a timer 5 ms after 1 µs.
        assert_eq!(lines[3], "!idle 5001000");
        // Not due yet at 4 ms.
        assert_eq!(lines[4], "!idle 5001000");
        // Fired at its deadline, in virtual time.
        assert!(lines[5].contains(r#""at":5001000"#), "{out}");
        assert_eq!(lines[6], "!idle none");
        assert_eq!(lines.len(), 7);
    }

    #[test]
    fn a_deliver_at_a_due_deadline_does_not_fire_it() {
        let input = format!(
            "!deliver 0\n{INIT}\n!deliver 0\n{TICK}\n!deliver 9000000\n{TICK}\n!advance 9000000\n"
        );
        let out = run(&input);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[3], "!idle 5000000");
        // Handling the second tick at 9 ms left the first timer (due at 5 ms) for `!advance`.
        assert_eq!(lines[4], "!idle 5000000");
        assert!(lines[5].contains(r#""at":9000000"#), "{out}");
        assert_eq!(lines[6], "!idle 14000000");
    }

    #[test]
    fn bad_control_lines_and_bare_messages_are_answered() {
        let input = format!("{INIT}\n!frobnicate 3\n!deliver\n");
        let out = run(&input);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[1].contains("init_ok"));
        assert_eq!(&lines[2..], ["!idle none", "!idle none", "!idle none"]);
    }
}
