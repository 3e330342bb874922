//! In-process cost of one gossip message through the real broadcast node: the hub of a
//! 25-node cluster receiving leaves' batches of ten values each (a sequence number to
//! acknowledge, values partly new and partly known), as the simulator delivers them.
//!
//! `cargo bench -p glomers-challenges --bench broadcast`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glomers_challenges::broadcast::{Broadcast, Mode};
use glomers_node::Engine;

fn init_line() -> Vec<u8> {
    let ids: Vec<String> = (0..25).map(|i| format!("\"n{i}\"")).collect();
    format!(
        r#"{{"id":0,"src":"c0","dest":"n0","body":{{"type":"init","msg_id":1,"node_id":"n0","node_ids":[{}]}}}}"#,
        ids.join(",")
    )
    .into_bytes()
}

/// Batches from leaves n1..n24 in turn, each link's `seq` counting up, ten values each from
/// a range of 40 000.
fn gossip_lines(count: u64) -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|i| {
            let leaf = i % 24 + 1;
            let seq = i / 24 + 1;
            let values: Vec<String> = (0..10)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 40_000).to_string()
                })
                .collect();
            format!(
                r#"{{"id":{i},"src":"n{leaf}","dest":"n0","body":{{"type":"gossip","seq":{seq},"values":[{}]}}}}"#,
                values.join(",")
            )
            .into_bytes()
        })
        .collect()
}

fn broadcast_benches(c: &mut Criterion) {
    let lines = gossip_lines(24 * 400);
    let mut group = c.benchmark_group("broadcast");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hub_receives_gossip_10_values", |b| {
        let mut engine = Engine::new(Broadcast::new(Mode::Default), 1);
        engine.handle_line(&init_line(), Duration::ZERO);
        engine.output().clear();
        let mut next = 0;
        let mut now = Duration::ZERO;
        b.iter(|| {
            now += Duration::from_micros(10);
            engine.handle_line(black_box(&lines[next % lines.len()]), now);
            next += 1;
            black_box(engine.output().len());
            engine.output().clear();
            engine.logs().clear();
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50);
    targets = broadcast_benches
}
criterion_main!(benches);
