//! `glomers merge`: combines the summaries of a sweep's shards into one report.

use crate::checkers::Validity;
use crate::cli::MergeArgs;
use crate::report::verdict_line;
use crate::sweep;

/// `glomers merge`: combines shard summaries and reports the whole sweep.
pub fn merge(args: &MergeArgs) -> anyhow::Result<Validity> {
    let parts = args
        .summaries
        .iter()
        .map(|p| sweep::Summary::read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let merged = sweep::merge(&parts)?;
    let s = &merged.summary;
    println!(
        "{} summaries, {} of seeds {}..{} run: {} valid, {} invalid, {} unknown",
        parts.len(),
        s.seeds_run.len(),
        s.seeds.start,
        s.seeds.end,
        s.valid,
        s.invalid,
        s.unknown
    );
    for failure in &s.failing {
        println!(
            "seed {}: {}    replay: {}",
            failure.seed,
            failure.valid.to_json(),
            failure.replay
        );
    }
    for problem in &merged.problems {
        println!("incomplete: {problem}");
    }
    if let Some(out) = &args.out {
        s.write(out)?;
        println!("combined summary written to {}", out.display());
    }
    let mut verdict = s.verdict();
    if !merged.problems.is_empty() {
        verdict = verdict.worst(Validity::Unknown);
    } else if s.failing.is_empty() {
        println!("{}", verdict_line(Validity::Valid));
    }
    Ok(verdict)
}
