//! Seed sweeps for `glomers sim`: many seeds on every core (`--jobs`), or one shard of a seed
//! range for a job runner (`--shard K/N` with `--summary FILE`), and `glomers merge`, which
//! combines shard summaries into one report.
//!
//! A sweep on many threads reports exactly what a one-thread sweep reports: the same seeds run,
//! the same verdicts, and (without `--keep-going`) the same first failing seed, because seeds
//! are handed out in order and every seed below a failure is always finished.

use std::ops::Range;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use crate::checkers::Validity;

/// The format tag of a summary file.
const FORMAT: &str = "glomers-sweep-summary/1";

/// `--shard K/N`: the K-th (1-based) of N disjoint, interleaved slices of a seed range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub fn parse(s: &str) -> anyhow::Result<Shard> {
        let bad = || anyhow::anyhow!("--shard takes K/N with 1 <= K <= N (e.g. 3/8), not {s:?}");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        anyhow::ensure!(count >= 1 && (1..=count).contains(&index), bad());
        Ok(Shard { index, count })
    }

    /// The seeds of `range` in this shard: seed `start + i` belongs to shard `i mod N + 1`.
    fn seeds(self, range: &Range<u64>) -> SeedList {
        let first = range.start.saturating_add(self.index - 1);
        let len = if first >= range.end {
            0
        } else {
            (range.end - first).div_ceil(self.count)
        };
        SeedList {
            first,
            step: self.count,
            len,
        }
    }
}

/// An arithmetic sequence of seeds, so a shard of a huge range takes no memory.
#[derive(Clone, Copy, Debug)]
struct SeedList {
    first: u64,
    step: u64,
    len: u64,
}

impl SeedList {
    fn get(&self, i: u64) -> u64 {
        self.first + i * self.step
    }
}

/// What to sweep.
#[derive(Clone, Debug)]
pub struct Plan {
    pub seeds: Range<u64>,
    pub shard: Option<Shard>,
    /// Threads; at least 1.
    pub jobs: usize,
    /// Run every seed instead of stopping at the first one that is not valid. A shard always
    /// runs all its seeds (shards cannot tell each other to stop).
    pub keep_going: bool,
}

impl Plan {
    fn seed_list(&self) -> SeedList {
        self.shard
            .unwrap_or(Shard { index: 1, count: 1 })
            .seeds(&self.seeds)
    }

    fn stops_at_first_failure(&self) -> bool {
        !self.keep_going && self.shard.is_none()
    }
}

/// One seed's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedOutcome {
    pub seed: u64,
    pub valid: Validity,
}

/// Runs `run_seed` for the plan's seeds on `plan.jobs` threads, calling `on_done` as each
/// finishes, and returns the outcomes in seed order. Without `keep_going` (and without a
/// shard) it stops at the first seed that is not valid, in seed order, and drops any later
/// seed a thread had already run, so the result equals a one-thread sweep's.
pub fn run<F, D>(plan: &Plan, run_seed: F, on_done: D) -> anyhow::Result<Vec<SeedOutcome>>
where
    F: Fn(u64) -> anyhow::Result<Validity> + Sync,
    D: Fn(&SeedOutcome) + Sync,
{
    let seeds = plan.seed_list();
    let next = AtomicU64::new(0);
    // Index (into `seeds`) of the first failure or error so far; nothing after it is started.
    let stop = AtomicU64::new(u64::MAX);
    let outcomes: Mutex<Vec<(u64, anyhow::Result<Validity>)>> = Mutex::new(Vec::new());
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= seeds.len || i > stop.load(Ordering::Relaxed) {
            return;
        }
        let seed = seeds.get(i);
        let result = run_seed(seed);
        let failed = match &result {
            Ok(valid) => {
                on_done(&SeedOutcome {
                    seed,
                    valid: *valid,
                });
                *valid != Validity::Valid && plan.stops_at_first_failure()
            }
            Err(_) => true,
        };
        if failed {
            stop.fetch_min(i, Ordering::Relaxed);
        }
        outcomes
            .lock()
            .expect("no thread panicked")
            .push((i, result));
    };
    let jobs = plan.jobs.max(1);
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for j in 1..jobs {
            let handle = std::thread::Builder::new()
                .name(format!("sweep-{j}"))
                .spawn_scoped(scope, work)
                .context("could not start a sweep thread")?;
            handles.push(handle);
        }
        work();
        for handle in handles {
            if handle.join().is_err() {
                anyhow::bail!("a sweep thread panicked");
            }
        }
        Ok(())
    })?;
    let mut outcomes = outcomes.into_inner().expect("no thread panicked");
    outcomes.sort_by_key(|(i, _)| *i);
    let stop = stop.into_inner();
    let mut kept = Vec::new();
    for (i, result) in outcomes {
        if i > stop {
            break;
        }
        let seed = seeds.get(i);
        let valid = result.with_context(|| format!("seed {seed}"))?;
        kept.push(SeedOutcome { seed, valid });
    }
    Ok(kept)
}

/// A failing seed in a summary, with the command that replays it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub seed: u64,
    pub valid: Validity,
    pub replay: String,
}

/// The machine-readable result of a sweep or a shard (`--summary FILE`), which
/// `glomers merge` combines.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub format: String,
    /// The sweep's command without its seed, shard, jobs and summary options.
    pub command: String,
    /// The whole seed range the sweep (or the sweep this shard is part of) covers.
    pub seeds: Range<u64>,
    pub shard: Option<Shard>,
    /// Every seed that ran, ascending.
    pub seeds_run: Vec<u64>,
    pub valid: u64,
    pub invalid: u64,
    pub unknown: u64,
    pub failing: Vec<Failure>,
    pub wall_secs: f64,
}

impl Summary {
    pub fn new(
        command: String,
        plan: &Plan,
        outcomes: &[SeedOutcome],
        replay: impl Fn(u64) -> String,
        wall_secs: f64,
    ) -> Summary {
        let count = |v: Validity| outcomes.iter().filter(|o| o.valid == v).count() as u64;
        Summary {
            format: FORMAT.into(),
            command,
            seeds: plan.seeds.clone(),
            shard: plan.shard,
            seeds_run: outcomes.iter().map(|o| o.seed).collect(),
            valid: count(Validity::Valid),
            invalid: count(Validity::Invalid),
            unknown: count(Validity::Unknown),
            failing: outcomes
                .iter()
                .filter(|o| o.valid != Validity::Valid)
                .map(|o| Failure {
                    seed: o.seed,
                    valid: o.valid,
                    replay: replay(o.seed),
                })
                .collect(),
            wall_secs,
        }
    }

    /// The worst verdict among the seeds that ran.
    pub fn verdict(&self) -> Validity {
        self.failing
            .iter()
            .fold(Validity::Valid, |v, f| v.worst(f.valid))
    }

    pub fn read(path: &Path) -> anyhow::Result<Summary> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let summary: Summary = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a sweep summary", path.display()))?;
        anyhow::ensure!(
            summary.format == FORMAT,
            "{} has format {:?}; this glomers reads {FORMAT:?}",
            path.display(),
            summary.format
        );
        Ok(summary)
    }

    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a summary serializes");
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write the summary {}", path.display()))
    }
}

/// Combines shard summaries into one: the seeds they ran together, their verdicts and failing
/// seeds. A merge whose shards do not cover the seed range exactly once says which seeds are
/// missing or run twice, and its verdict is at best unknown.
pub struct Merged {
    pub summary: Summary,
    /// Problems with the set of shards (missing seeds, overlaps, different commands).
    pub problems: Vec<String>,
}

pub fn merge(parts: &[Summary]) -> anyhow::Result<Merged> {
    let first = parts
        .first()
        .ok_or_else(|| anyhow::anyhow!("merge needs at least one summary"))?;
    let mut problems = Vec::new();
    for p in parts {
        if p.command != first.command || p.seeds != first.seeds {
            problems.push(format!(
                "summaries come from different sweeps: {:?} over {:?} and {:?} over {:?}",
                first.command, first.seeds, p.command, p.seeds
            ));
            break;
        }
    }
    let mut seeds_run: Vec<u64> = parts.iter().flat_map(|p| p.seeds_run.clone()).collect();
    seeds_run.sort_unstable();
    let before = seeds_run.len();
    seeds_run.dedup();
    if seeds_run.len() != before {
        problems.push(format!(
            "{} seeds were run by more than one shard",
            before - seeds_run.len()
        ));
    }
    let expected = first.seeds.end.saturating_sub(first.seeds.start);
    let covered = seeds_run.iter().filter(|s| first.seeds.contains(s)).count() as u64;
    if covered < expected {
        let missing: Vec<String> = first
            .seeds
            .clone()
            .filter(|s| seeds_run.binary_search(s).is_err())
            .take(10)
            .map(|s| s.to_string())
            .collect();
        problems.push(format!(
            "{} of the {expected} seeds were not run (e.g. {}): a shard is missing or stopped early",
            expected - covered,
            missing.join(", ")
        ));
    }
    let mut failing: Vec<Failure> = parts.iter().flat_map(|p| p.failing.clone()).collect();
    failing.sort_by_key(|f| f.seed);
    failing.dedup_by_key(|f| f.seed);
    let sum = |f: fn(&Summary) -> u64| parts.iter().map(f).sum();
    let summary = Summary {
        format: FORMAT.into(),
        command: first.command.clone(),
        seeds: first.seeds.clone(),
        shard: None,
        seeds_run,
        valid: sum(|p| p.valid),
        invalid: sum(|p| p.invalid),
        unknown: sum(|p| p.unknown),
        failing,
        wall_secs: parts.iter().map(|p| p.wall_secs).fold(0.0, f64::max),
    };
    Ok(Merged { summary, problems })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(seeds: Range<u64>, jobs: usize, keep_going: bool) -> Plan {
        Plan {
            seeds,
            shard: None,
            jobs,
            keep_going,
        }
    }

    /// Seeds divisible by 7 fail; seed 20 is unknown.
    fn verdict(seed: u64) -> anyhow::Result<Validity> {
        Ok(match seed {
            20 => Validity::Unknown,
            s if s % 7 == 0 => Validity::Invalid,
            _ => Validity::Valid,
        })
    }

    #[test]
    fn shards_split_a_range_into_disjoint_interleaved_slices() {
        let range = 10..23;
        let mut all: Vec<u64> = Vec::new();
        for k in 1..=4 {
            let list = Shard { index: k, count: 4 }.seeds(&range);
            all.extend((0..list.len).map(|i| list.get(i)));
        }
        all.sort_unstable();
        assert_eq!(all, (10..23).collect::<Vec<_>>());
        assert_eq!(Shard { index: 5, count: 8 }.seeds(&(0..3)).len, 0);
    }

    #[test]
    fn shard_parsing() {
        assert_eq!(Shard::parse("3/8").unwrap(), Shard { index: 3, count: 8 });
        for bad in ["0/8", "9/8", "3", "a/b", "1/0"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn many_threads_stop_at_the_same_first_failure_as_one() {
        let one = run(&plan(1..200, 1, false), verdict, |_| {}).unwrap();
        for jobs in [2, 3, 8] {
            let many = run(&plan(1..200, jobs, false), verdict, |_| {}).unwrap();
            assert_eq!(many, one, "{jobs} jobs");
        }
        assert_eq!(one.last().unwrap().seed, 7);
        assert_eq!(one.len(), 7);
    }

    #[test]
    fn keep_going_runs_every_seed_on_any_number_of_threads() {
        let one = run(&plan(0..100, 1, true), verdict, |_| {}).unwrap();
        let many = run(&plan(0..100, 4, true), verdict, |_| {}).unwrap();
        assert_eq!(one, many);
        assert_eq!(one.len(), 100);
    }

    #[test]
    fn merged_shards_equal_the_whole_sweep() {
        let whole_plan = plan(0..50, 2, true);
        let whole = run(&whole_plan, verdict, |_| {}).unwrap();
        let replay = |s: u64| format!("glomers sim --seed {s}");
        let whole = Summary::new("sim".into(), &whole_plan, &whole, replay, 0.0);
        let parts: Vec<Summary> = (1..=3)
            .map(|k| {
                let p = Plan {
                    shard: Some(Shard { index: k, count: 3 }),
                    ..plan(0..50, 1, false)
                };
                let outcomes = run(&p, verdict, |_| {}).unwrap();
                Summary::new("sim".into(), &p, &outcomes, replay, 0.0)
            })
            .collect();
        let merged = merge(&parts).unwrap();
        assert!(merged.problems.is_empty(), "{:?}", merged.problems);
        assert_eq!(merged.summary.seeds_run, whole.seeds_run);
        assert_eq!(merged.summary.failing, whole.failing);
        assert_eq!(
            (
                merged.summary.valid,
                merged.summary.invalid,
                merged.summary.unknown
            ),
            (whole.valid, whole.invalid, whole.unknown)
        );
        // A missing shard is named.
        let incomplete = merge(&parts[..2]).unwrap();
        assert!(incomplete.problems[0].contains("were not run"));
    }

    #[test]
    fn an_error_stops_the_sweep_and_names_its_seed() {
        let err = run(
            &plan(0..100, 3, true),
            |s| {
                if s == 5 {
                    anyhow::bail!("boom")
                }
                Ok(Validity::Valid)
            },
            |_| {},
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("seed 5"), "{err:#}");
    }
}
