//! The kafka checker's cost on a generated history of one million client ops (two million
//! history entries, 8 processes): `cargo bench -p glomers-workbench --bench kafka_checker`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use glomers_workbench::checkers::kafka::{check_kafka, synth};

fn kafka_checker(c: &mut Criterion) {
    let mut group = c.benchmark_group("kafka_checker");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for ops in [100_000, 1_000_000] {
        let history = synth::history(ops, 8, 7);
        assert!(check_kafka(&history).valid == glomers_workbench::checkers::Validity::Valid);
        group.bench_function(format!("{ops}_ops"), |b| b.iter(|| check_kafka(&history)));
    }
    group.finish();
}

criterion_group!(benches, kafka_checker);
criterion_main!(benches);
