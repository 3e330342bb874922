//! The cost of one simulated run, as a sweep without a store pays it: 3d (broadcast, 25 nodes,
//! partitions, exponential latency), and 5c and 6c as `glomers all --sim` runs them. Each
//! simulates about 30 s (20 s of test plus recovery and final reads), so the real-time
//! multiple on one core is 30 s divided by the time per run printed here.
//!
//! `cargo bench -p glomers-workbench --bench sim_run` (add `-- 3d` for 3d alone)

use clap::Parser as _;
use criterion::{criterion_group, criterion_main, Criterion};
use glomers_workbench::catalog;
use glomers_workbench::cli::{Cli, Command};
use glomers_workbench::commands::run_sim;
use glomers_workbench::runner::TestOptions;

/// The allocator of the `glomers` binary, so the figures are the command's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The `glomers sim` commands measured (one seed each; the sweep's seeds vary only the seed).
const RUNS: &[(&str, &str)] = &[
    (
        "3d",
        "-w broadcast --node broadcast --node-count 25 --time-limit 20 --rate 100 \
         --latency 100 --latency-dist exponential --nemesis partition",
    ),
    (
        "5c",
        "-w kafka --node kafka --node-count 2 --concurrency 2n --time-limit 20 --rate 1000",
    ),
    (
        "6c",
        "-w txn-rw-register --node txn --node-count 2 --concurrency 2n --time-limit 20 \
         --rate 1000 --consistency-models read-committed --availability total \
         --nemesis partition",
    ),
];

/// The options and node type of a `glomers sim` command line, parsed as the CLI parses it.
fn sim_options(flags: &str, seed: u64) -> (TestOptions, String) {
    let argv = ["glomers", "sim"]
        .into_iter()
        .chain(flags.split_whitespace());
    let Command::Sim(args) = Cli::parse_from(argv).command else {
        unreachable!("a sim command line")
    };
    let mut opts = args.workload.to_options().expect("valid options");
    opts.seed = seed;
    (opts, args.node.expect("--node"))
}

extern "C" {
    // mimalloc's (mimalloc.h), linked in by the `mimalloc` crate.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

fn sim_run(c: &mut Criterion) {
    // As `glomers sim` sets it in main: freed memory is kept for the next run rather than
    // given back to the OS (`mi_option_purge_delay`, 15, set to -1: never purge).
    // SAFETY: set once, before any run; no other thread sets mimalloc options.
    unsafe { mi_option_set(15, -1) };
    let mut group = c.benchmark_group("sim_run");
    group.sample_size(10);
    for (name, flags) in RUNS {
        let (mut opts, node) = sim_options(flags, 1);
        let entry = catalog::find(&node).expect("a catalogued node");
        group.bench_function(*name, |b| {
            b.iter(|| {
                // A new seed each run, as a sweep does.
                opts.seed += 1;
                run_sim(&opts, entry, &[], None).expect("the run finishes")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sim_run);
criterion_main!(benches);
