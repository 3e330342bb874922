//! The txn checker's speed on generated rw-register histories: 100,000 transactions from
//! Elle's generator (our workload's), four clients, each transaction executed atomically
//! against one serial store when it completes (so the history is strict serializable and
//! every edge kind is present). Checked as read committed (ww/wr graph only) and as strict
//! serializable (ww, wr, rw, process and real-time edges, Tarjan over all of them).
//!
//! `cargo bench -p glomers-workbench --bench txn_checker`; transactions per second = 100,000
//! divided by the reported time.
//!
//! Measured on a shared 2-core machine (load 2-6), criterion medians of three runs:
//! read committed 83 ms before the speed work (1.2M txns/s), 48 ms after (2.1M txns/s);
//! strict serializable 128 ms before (0.78M txns/s), 82-96 ms after (1.0-1.2M txns/s). Elle
//! checks 100,000 to 160,000 transactions a second on the JVM. What made the difference:
//! vectors sized up front (growing them copied and faulted in fresh pages: a quarter of the
//! time was the kernel's), a counting sort per key instead of comparison sorts of all reads
//! and writes, and no versions after nil unless anti-dependencies are searched.

use std::collections::BTreeMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use glomers_workbench::checkers::txn::{check, Flavor};
use glomers_workbench::checkers::Validity;
use glomers_workbench::history::{History, MicroF, MicroValue, Op, OpType, OpValue, Process};
use glomers_workbench::workloads::txn::Txn;
use glomers_workbench::workloads::{Workload, WorkloadOptions};
use glomers_workbench::Rng;
use rand::SeedableRng;

const TXNS: usize = 100_000;
const CLIENTS: usize = 4;

fn op(kind: OpType, process: usize, value: OpValue, time: u64) -> Op {
    Op {
        index: 0,
        time,
        kind,
        process: Process::Client(process as u64),
        f: "txn".into(),
        value,
        error: None,
        is_final: false,
    }
}

/// A strict-serializable history of `TXNS` transactions.
fn history() -> History {
    let mut opts = WorkloadOptions::new(2);
    opts.concurrency = CLIENTS;
    opts.consistency_models = "read-committed".into();
    let mut workload = Txn::new(&opts, Flavor::RwRegister).unwrap();
    let mut rng = Rng::seed_from_u64(1);
    let mut store: BTreeMap<i64, i64> = BTreeMap::new();
    let mut history = History::default();
    let mut in_flight: std::collections::VecDeque<(usize, OpValue)> = Default::default();
    let mut time = 0;
    for i in 0..TXNS + CLIENTS {
        if in_flight.len() == CLIENTS || i >= TXNS {
            let Some((process, mut txn)) = in_flight.pop_front() else {
                break;
            };
            // The workload's transactions are typed, as the history keeps them.
            let OpValue::Txn(mops) = &mut txn else {
                unreachable!("a txn")
            };
            for mop in mops {
                match (mop.f, &mop.value) {
                    (MicroF::Read, _) => {
                        mop.value = store
                            .get(&mop.key)
                            .map_or(MicroValue::Nil, |&v| MicroValue::Int(v))
                    }
                    (_, &MicroValue::Int(v)) => {
                        store.insert(mop.key, v);
                    }
                    _ => unreachable!("writes have integers"),
                }
            }
            time += 1;
            history.push(op(OpType::Ok, process, txn, time));
        }
        if i < TXNS {
            let process = i % CLIENTS;
            let txn = workload.next_op(i % CLIENTS, &mut rng).value;
            time += 1;
            history.push(op(OpType::Invoke, process, txn.clone(), time));
            in_flight.push_back((process, txn));
        }
    }
    history
}

/// This thread's CPU time: on a shared machine wall time overstates the checker's cost, so
/// the bench also prints transactions per CPU second.
fn thread_cpu_secs() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

fn bench(c: &mut Criterion) {
    let history = history();
    for model in ["read-committed", "strict-serializable"] {
        let models = vec![model.to_string()];
        let rounds = 10;
        let wall = std::time::Instant::now();
        let cpu = thread_cpu_secs();
        for _ in 0..rounds {
            criterion::black_box(check(&history, Flavor::RwRegister, &models));
        }
        let cpu = (thread_cpu_secs() - cpu) / rounds as f64;
        let wall = wall.elapsed().as_secs_f64() / rounds as f64;
        println!(
            "{model}: {:.0} txns per CPU second ({:.1} ms CPU, {:.1} ms wall per check of {TXNS})",
            TXNS as f64 / cpu,
            cpu * 1e3,
            wall * 1e3
        );
    }
    let mut group = c.benchmark_group("txn-checker");
    group.sample_size(10);
    group.throughput(Throughput::Elements(TXNS as u64));
    for model in ["read-committed", "strict-serializable"] {
        let models = vec![model.to_string()];
        let result = check(&history, Flavor::RwRegister, &models);
        assert_eq!(result.valid, Validity::Valid, "{:?}", result.anomalies);
        group.bench_function(format!("rw-register 100k txns, {model}"), |b| {
            b.iter(|| check(&history, Flavor::RwRegister, &models))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
