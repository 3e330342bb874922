//! Unit tests of the real-time runtime (`run_with_io`): write batching, input edge cases,
//! timers in real time, and engines behind the `AnyEngine` trait.

use std::io::{self, Read, Write};
use std::time::Duration;

use serde_json::{json, Value};

use crate::tests::{ms, parse_lines, Probe, INIT};
use crate::*;

/// A writer that counts the calls it gets.
#[derive(Default)]
struct Counting {
    data: Vec<u8>,
    writes: usize,
    flushes: usize,
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        Ok(())
    }
}

fn echo_input(n: usize) -> Vec<u8> {
    let mut input = INIT.to_vec();
    input.push(b'\n');
    for i in 0..n {
        input.extend_from_slice(
            format!(
                r#"{{"id":{i},"src":"c{}","dest":"n1","body":{{"type":"echo","msg_id":{i},"echo":"Please echo {i} \"q\""}}}}"#,
                i % 7
            )
            .as_bytes(),
        );
        input.push(b'\n');
    }
    input
}

#[test]
fn runtime_batches_writes_when_input_is_queued() {
    let n = 1000;
    let mut out = Counting::default();
    run_with_io(
        Probe::default(),
        io::Cursor::new(echo_input(n)),
        &mut out,
        9,
    )
    .unwrap();
    let lines = parse_lines(&out.data);
    assert_eq!(lines.len(), n + 1);
    assert_eq!(lines[0]["body"]["type"], "init_ok");
    for (i, reply) in lines[1..].iter().enumerate() {
        assert_eq!(reply["dest"], format!("c{}", i % 7));
        assert_eq!(reply["body"]["in_reply_to"], i);
        assert_eq!(reply["body"]["echo"], format!("Please echo {i} \"q\""));
    }
    assert!(
        out.writes + out.flushes < 20,
        "{} writes and {} flushes for {n} replies",
        out.writes,
        out.flushes
    );
}

#[test]
fn runtime_handles_a_final_line_without_newline() {
    let mut input = echo_input(1);
    input.pop();
    let mut out = Vec::new();
    run_with_io(Probe::default(), io::Cursor::new(input), &mut out, 9).unwrap();
    assert_eq!(parse_lines(&out).len(), 2);
}

/// Input that delivers its bytes, then stays open for a while before EOF (like a quiet stdin),
/// in reads of `piece` bytes.
struct SlowInput {
    data: Vec<u8>,
    pos: usize,
    piece: usize,
    hold: Duration,
}

impl Read for SlowInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos == self.data.len() {
            std::thread::sleep(self.hold);
            return Ok(0);
        }
        let n = buf.len().min(self.piece).min(self.data.len() - self.pos);
        buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[derive(Default)]
struct Ticker;

impl Node for Ticker {
    type Request<'de> = serde::de::IgnoredAny;
    type Timer = u32;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        ctx.after(ms(20), 1);
        ctx.rpc(
            "n2",
            json!({"type": "ping"}),
            ms(40),
            |_: &mut Self, ctx, r: Result<Value, RpcError>| {
                let code = r.err().map(|e| e.code.code());
                ctx.send("c0", json!({"type": "rpc_done", "code": code}));
            },
        );
    }

    fn on_request(&mut self, _: &mut Ctx<Self>, _: serde::de::IgnoredAny, _: ReplyTo) {}

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, n: u32) {
        ctx.send(
            "c0",
            json!({"type": "tick", "n": n, "at_least_20ms": ctx.now() >= ms(20)}),
        );
    }
}

#[test]
fn runtime_fires_timers_and_rpc_timeouts_in_real_time() {
    let mut input = INIT.to_vec();
    input.push(b'\n');
    let slow = SlowInput {
        data: input,
        pos: 0,
        piece: 7, // the line arrives in small pieces
        hold: ms(300),
    };
    let mut out = Vec::new();
    run_with_io(Ticker, slow, &mut out, 1).unwrap();
    let lines = parse_lines(&out);
    let bodies: Vec<&Value> = lines.iter().map(|l| &l["body"]).collect();
    assert_eq!(bodies[0]["type"], "init_ok");
    assert_eq!(bodies[1], &json!({"type":"ping","msg_id":1}));
    assert_eq!(
        bodies[2],
        &json!({"type":"tick","n":1,"at_least_20ms":true})
    );
    assert_eq!(bodies[3], &json!({"type":"rpc_done","code":0}));
    assert_eq!(bodies.len(), 4);
}

/// An echo node over the runtime, for a rough throughput number:
/// `cargo test -p glomers-node --release -- --ignored --nocapture throughput`.
#[test]
#[ignore]
fn throughput() {
    let n = 300_000;
    let input = echo_input(n);
    let start = std::time::Instant::now();
    let mut out = Counting::default();
    run_with_io(Probe::default(), io::Cursor::new(input), &mut out, 9).unwrap();
    let took = start.elapsed();
    assert_eq!(out.data.iter().filter(|&&b| b == b'\n').count(), n + 1);
    eprintln!(
        "{n} echoes in {took:?}: {:.0} req/s ({} writes, {} flushes)",
        n as f64 / took.as_secs_f64(),
        out.writes,
        out.flushes
    );
}

#[test]
fn engines_of_different_nodes_behind_one_trait() {
    let mut engines: Vec<Box<dyn AnyEngine>> = vec![
        Box::new(Engine::new(Probe::default(), 1)),
        Box::new(Engine::new(Ticker, 2)),
    ];
    for engine in &mut engines {
        engine.handle_line(INIT, ms(0));
        engine.advance(ms(1));
        assert_eq!(parse_lines(engine.output())[0]["body"]["type"], "init_ok");
        engine.output().clear();
        engine.logs().clear();
    }
    assert_eq!(engines[0].next_deadline(), None);
    assert_eq!(engines[1].next_deadline(), Some(ms(20)));
}
