//! One pass over a history's client ops for what the stats and availability checkers and the
//! latency figures need: counts of outcomes per `f`, and the latencies of ok ops per `f`.
//!
//! The ops are paired exactly as [`History::pairs`] pairs them (an invocation with the next
//! completion of its process; an invocation left open counts as info), but without building
//! the pairs, cloning `f` per op, or hashing processes with SipHash: on a 20-second kafka or
//! txn run, three `pairs()` calls and their clones were about 40 M instructions.

use crate::checkers::int_table::IntTable;
use crate::checkers::stats::Counts;
use crate::history::{History, Nanos, OpType, Process};

/// What one `f` came to.
#[derive(Clone, Debug, Default)]
pub struct FSummary<'a> {
    pub f: &'a str,
    pub counts: Counts,
    /// Latencies (ns) of its ok ops, in the order they completed.
    pub ok_latencies: Vec<Nanos>,
}

/// Outcome counts and ok latencies of every client op, overall and per `f`.
#[derive(Clone, Debug, Default)]
pub struct OpSummary<'a> {
    pub total: Counts,
    /// One entry per `f`, sorted by `f`.
    pub by_f: Vec<FSummary<'a>>,
}

impl<'a> OpSummary<'a> {
    pub fn of(history: &'a History) -> OpSummary<'a> {
        let mut by_f: Vec<FSummary<'a>> = Vec::new();
        // Process -> (index in `by_f`, invocation time) of its open invocation. Process numbers
        // are small and dense (a worker's next is its last plus the concurrency): a table.
        let mut open: IntTable<Option<(u32, Nanos)>> = IntTable::default();
        let mut last = usize::MAX;
        for op in &history.ops {
            let Process::Client(process) = op.process else {
                continue;
            };
            if op.kind == OpType::Invoke {
                // A workload uses a handful of `f`s, mostly in runs: look at the last one first.
                let f = op.f.as_str();
                let group = if by_f.get(last).is_some_and(|g| g.f == f) {
                    last
                } else {
                    match by_f.iter().position(|g| g.f == f) {
                        Some(i) => i,
                        None => {
                            by_f.push(FSummary {
                                f,
                                counts: Counts::default(),
                                // Room for every op being of this `f`: growing the vector
                                // copied it again and again.
                                ok_latencies: Vec::with_capacity(history.ops.len() / 2),
                            });
                            by_f.len() - 1
                        }
                    }
                };
                last = group;
                // Counted as info until (unless) its completion comes; an invocation its
                // process leaves open for a new one stays info.
                by_f[group].counts.add(OpType::Info);
                *open.get_or_insert_with(process as i64, || None) = Some((group as u32, op.time));
            } else if let Some((group, invoked)) =
                open.get_mut(process as i64).and_then(Option::take)
            {
                let summary = &mut by_f[group as usize];
                summary.counts.info_count -= 1;
                summary.counts.count -= 1;
                summary.counts.add(op.kind);
                if op.kind == OpType::Ok {
                    summary.ok_latencies.push(op.time - invoked);
                }
            }
        }
        by_f.sort_unstable_by(|a, b| a.f.cmp(b.f));
        let mut total = Counts::default();
        for summary in &by_f {
            total.count += summary.counts.count;
            total.ok_count += summary.counts.ok_count;
            total.fail_count += summary.counts.fail_count;
            total.info_count += summary.counts.info_count;
        }
        OpSummary { total, by_f }
    }

    /// Client invocations (Maelstrom's denominator for msgs-per-op).
    pub fn invocations(&self) -> usize {
        self.total.count
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::{history, op};
    use serde_json::Value;
    use std::collections::BTreeMap;

    /// The summary the long way, from `History::pairs`.
    fn from_pairs(h: &History) -> (Counts, BTreeMap<String, (Counts, Vec<Nanos>)>) {
        let mut total = Counts::default();
        let mut by_f: BTreeMap<String, (Counts, Vec<Nanos>)> = BTreeMap::new();
        for pair in h.pairs() {
            total.add(pair.outcome());
            let entry = by_f.entry(pair.invoke.f.as_str().to_owned()).or_default();
            entry.0.add(pair.outcome());
            if pair.outcome() == OpType::Ok {
                entry.1.extend(pair.latency());
            }
        }
        for (_, latencies) in by_f.values_mut() {
            latencies.sort_unstable();
        }
        (total, by_f)
    }

    #[test]
    fn agrees_with_the_pairs_of_the_history() {
        use rand::{Rng as _, SeedableRng};
        for seed in 0..200 {
            let mut rng = crate::Rng::seed_from_u64(seed);
            let fs = ["read", "write", "cas", "add"];
            let mut ops = Vec::new();
            let mut time = 0;
            for _ in 0..rng.gen_range(0..60) {
                time += rng.gen_range(0..5);
                let kind = match rng.gen_range(0..5) {
                    0 | 1 => OpType::Invoke,
                    2 => OpType::Ok,
                    3 => OpType::Fail,
                    _ => OpType::Info,
                };
                let f = fs[rng.gen_range(0..fs.len())];
                ops.push(op(rng.gen_range(0..4), kind, f, Value::Null, time));
            }
            if rng.gen_bool(0.3) {
                ops.push(crate::history::Op {
                    process: Process::NEMESIS,
                    ..op(0, OpType::Info, "start-partition", Value::Null, time)
                });
            }
            let h = history(ops);
            let summary = OpSummary::of(&h);
            let (total, by_f) = from_pairs(&h);
            assert_eq!(summary.total, total, "seed {seed}");
            assert_eq!(summary.invocations(), h.invocation_count());
            let mine: BTreeMap<String, (Counts, Vec<Nanos>)> = summary
                .by_f
                .iter()
                .map(|s| {
                    let mut latencies = s.ok_latencies.clone();
                    latencies.sort_unstable();
                    (s.f.to_string(), (s.counts, latencies))
                })
                .collect();
            assert_eq!(mine, by_f, "seed {seed}");
        }
    }
}
