//! In-process cost of one message through the node runtime, without pipes: an input line into
//! [`Engine::handle_line`], the node's handler, its reply serialised into the engine's output
//! buffer, and the buffer drained. This is what the simulator pays per delivered message.
//!
//! `cargo bench -p glomers-node --bench engine` (a few seconds per case).
//!
//! On a loaded machine wall-clock times say little; instructions per message do. With
//! `ENGINE_BENCH_CASE=<echo|echo_escaped|gossip_10_values>` and `ENGINE_BENCH_ITERS=<n>` the
//! binary feeds that case's lines `n` times and exits, to run under
//! `valgrind --tool=callgrind`: (instructions at n) − (instructions at 0), divided by n.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};
use glomers_node::{Ctx, Engine, Node, ReplyTo};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

const INIT: &[u8] = br#"{"id":0,"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0","n1","n2"]}}"#;

// ---------------------------------------------------------------- echo

/// The echo challenge's request: the value is borrowed from the line and sent back verbatim.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum EchoType {
    Echo,
}

#[derive(Deserialize)]
struct EchoRequest<'a> {
    #[serde(rename = "type")]
    _ty: EchoType,
    #[serde(borrow)]
    echo: &'a RawValue,
}

#[derive(Serialize)]
struct EchoOk<'a> {
    #[serde(rename = "type")]
    ty: &'static str,
    echo: &'a RawValue,
}

struct Echo;

impl Node for Echo {
    type Request<'de> = EchoRequest<'de>;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: EchoRequest<'_>, from: ReplyTo) {
        ctx.reply(
            &from,
            EchoOk {
                ty: "echo_ok",
                echo: req.echo,
            },
        );
    }
}

// ---------------------------------------------------------------- gossip

/// A broadcast node's gossip, as nodes usually write it: a tagged enum, owned values.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum GossipRequest {
    Gossip { messages: Vec<u64> },
}

#[derive(Serialize)]
struct GossipOk {
    #[serde(rename = "type")]
    ty: &'static str,
}

#[derive(Default)]
struct Gossiper {
    seen: BTreeSet<u64>,
}

impl Node for Gossiper {
    type Request<'de> = GossipRequest;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: GossipRequest, from: ReplyTo) {
        match req {
            GossipRequest::Gossip { messages } => {
                self.seen.extend(messages);
                ctx.reply(&from, GossipOk { ty: "gossip_ok" });
            }
        }
    }
}

// ---------------------------------------------------------------- harness

fn initialised<N: Node>(node: N) -> Engine<N> {
    let mut engine = Engine::new(node, 7);
    engine.handle_line(INIT, Duration::ZERO);
    assert!(engine
        .output()
        .starts_with(br#"{"src":"n0","dest":"c0","body":{"type":"init_ok""#));
    engine.output().clear();
    engine
}

/// Feeds `lines` round and round, one per iteration, draining the output each time. Before
/// timing, checks that every line gets exactly one reply and no log line.
fn bench_lines<N: Node>(c: &mut Criterion, name: &str, node: N, lines: &[Vec<u8>]) {
    let mut engine = initialised(node);
    for line in lines {
        engine.handle_line(line, Duration::ZERO);
        let out = std::mem::take(engine.output());
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let _: serde_json::Value = serde_json::from_slice(&out).expect("a reply is valid JSON");
        assert!(
            engine.logs().is_empty(),
            "{}",
            String::from_utf8_lossy(engine.logs())
        );
    }
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function(name, |b| {
        b.iter(|| {
            let line = &lines[i % lines.len()];
            i += 1;
            engine.handle_line(black_box(line), Duration::ZERO);
            black_box(engine.output().len());
            engine.output().clear();
        })
    });
    group.finish();
}

fn echo_lines(escaped: bool) -> Vec<Vec<u8>> {
    (0..1024u64)
        .map(|i| {
            let echo = if escaped {
                format!(r#""Please \"echo\" \\ {i} \u00e9 🦀 \ud83e\udd80\n""#)
            } else {
                format!(r#""Please echo {i}""#)
            };
            format!(
                r#"{{"id":{i},"src":"c{}","dest":"n0","body":{{"type":"echo","msg_id":{i},"echo":{echo}}}}}"#,
                i % 5 + 1
            )
            .into_bytes()
        })
        .collect()
}

fn gossip_lines() -> Vec<Vec<u8>> {
    // Ten values per message from a range of 40 000, so that the set fills up and the steady
    // state mixes new and already-known values as a broadcast node sees them.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..4096u64)
        .map(|i| {
            let values: Vec<String> = (0..10)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 40_000).to_string()
                })
                .collect();
            format!(
                r#"{{"id":{i},"src":"n{}","dest":"n0","body":{{"type":"gossip","msg_id":{i},"messages":[{}]}}}}"#,
                i % 2 + 1,
                values.join(",")
            )
            .into_bytes()
        })
        .collect()
}

fn engine_benches(c: &mut Criterion) {
    bench_lines(c, "echo", Echo, &echo_lines(false));
    bench_lines(c, "echo_escaped", Echo, &echo_lines(true));
    bench_lines(c, "gossip_10_values", Gossiper::default(), &gossip_lines());
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = engine_benches
}

/// Feeds one case's lines `iterations` times, without criterion.
fn fixed_iterations<N: Node>(node: N, lines: &[Vec<u8>], iterations: usize) {
    let mut engine = initialised(node);
    for i in 0..iterations {
        engine.handle_line(black_box(&lines[i % lines.len()]), Duration::ZERO);
        black_box(engine.output().len());
        engine.output().clear();
    }
}

fn main() {
    if let (Ok(case), Ok(iterations)) = (
        std::env::var("ENGINE_BENCH_CASE"),
        std::env::var("ENGINE_BENCH_ITERS"),
    ) {
        let n: usize = iterations.parse().expect("ENGINE_BENCH_ITERS: a number");
        match case.as_str() {
            "echo" => fixed_iterations(Echo, &echo_lines(false), n),
            "echo_escaped" => fixed_iterations(Echo, &echo_lines(true), n),
            "gossip_10_values" => fixed_iterations(Gossiper::default(), &gossip_lines(), n),
            other => panic!("unknown case {other}"),
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
