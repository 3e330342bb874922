//! Cost of a write to the KV services as the store grows: writes per second and the process's
//! peak resident memory. seq-kv keeps a window of 32 states, so a store that copied itself per
//! write would cost O(n) per write and up to 32 copies of the data.
//!
//! `cargo bench -p glomers-workbench --bench kv_store -- keys` (20,000 small keys, one write
//! each) or `-- big` (100 MB stored in 1 MB values, then 200 overwrites). Run one scenario per
//! process: the peak memory printed is the whole process's.

use std::time::{Duration, Instant};

use glomers_workbench::net::Addr;
use glomers_workbench::services::kv::{LinKv, SeqKv};
use glomers_workbench::services::Service;
use glomers_workbench::Rng;
use rand::SeedableRng;
use serde_json::{json, Map, Value};

/// Stop a scenario after this long, reporting what it managed.
const BUDGET: Duration = Duration::from_secs(30);

fn write(service: &mut dyn Service, src: Addr, key: Value, value: Value, rng: &mut Rng) {
    let body: Map<String, Value> =
        serde_json::from_value(json!({"type": "write", "key": key, "value": value})).unwrap();
    let reply = service.handle(src, &body, rng).expect("a reply");
    assert_eq!(reply["type"], "write_ok", "{reply}");
}

/// Peak resident set size of this process, in MB.
fn peak_rss_mb() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    usage.ru_maxrss as f64 / 1024.0
}

/// Writes `writes` (key, value) pairs, stopping at the budget; prints writes/s.
fn run(label: &str, service: &mut dyn Service, writes: impl Iterator<Item = (Value, Value)>) {
    let src = Addr::parse("n0", 10).unwrap();
    let mut rng = Rng::seed_from_u64(1);
    let start = Instant::now();
    let mut done = 0u64;
    for (key, value) in writes {
        write(service, src, key, value, &mut rng);
        done += 1;
        if start.elapsed() > BUDGET {
            break;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{label}: {done} writes in {secs:.2} s = {:.0} writes/s; peak RSS {:.0} MB",
        done as f64 / secs,
        peak_rss_mb()
    );
}

fn main() {
    let scenario = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "keys".into());
    match scenario.as_str() {
        "keys" => {
            let keys = || (0..20_000).map(|i| (json!(format!("key-{i}")), json!(i)));
            run("lin-kv, 20,000 keys", &mut LinKv::default(), keys());
            run("seq-kv, 20,000 keys", &mut SeqKv::default(), keys());
        }
        "big" => {
            // 1 MB strings, distinct per i.
            let megabyte = |i: usize| {
                let mut text = i.to_string();
                text.extend(std::iter::repeat_n('.', (1 << 20) - text.len()));
                json!(text)
            };
            let mut kv = SeqKv::default();
            run(
                "seq-kv, fill 100 x 1 MB",
                &mut kv,
                (0..100).map(|i| (json!(i), megabyte(i))),
            );
            run(
                "seq-kv, 200 overwrites of 1 MB with 100 MB stored",
                &mut kv,
                (0..200).map(|i| (json!(i % 100), megabyte(1000 + i))),
            );
        }
        other => eprintln!("unknown scenario {other:?}: use keys or big"),
    }
}
