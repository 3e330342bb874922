//! Bounds on the command-line options, and the error a refused option ends with.
//!
//! Every number a user types is checked here before a test starts: with checked arithmetic
//! (nothing wraps), a floor where a smaller value would run nothing or drown the test in
//! nemesis operations, and a ceiling where a larger one would only exhaust the machine. Each
//! refusal is one sentence naming the option, the value and what to use instead. Refusals exit
//! 254, as Maelstrom's option validation does.

use std::fmt;

/// An option refused after parsing (one that depends on another, like `--concurrency 2n` on
/// `--node-count`). `main` exits 254 for it, as for any option clap refuses.
#[derive(Debug)]
pub struct BadOption(pub String);

impl fmt::Display for BadOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadOption {}

/// Fails with a [`BadOption`] unless `ok`.
pub fn require(ok: bool, why: impl FnOnce() -> String) -> anyhow::Result<()> {
    if ok {
        Ok(())
    } else {
        Err(BadOption(why()).into())
    }
}

/// Most server nodes a test may have (each is a process, or a node in the simulator).
pub const MAX_NODES: usize = 10_000;
/// Most client workers (each holds a client connection and its own op stream).
pub const MAX_WORKERS: usize = 100_000;
/// Fastest schedule, in operations per second.
pub const MAX_RATE: f64 = 1e6;
/// Longest main phase and nemesis interval, in seconds (keeps nanoseconds far from u64::MAX).
pub const MAX_SECS: f64 = 1e6;
/// Shortest nemesis interval, in seconds: faster than this, partitions flip before a message
/// crosses the network and the history fills with nemesis operations.
pub const MIN_NEMESIS_INTERVAL: f64 = 0.1;

fn number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| format!("{s:?} is not a number"))
}

/// `--rate`: operations per second, above 0 (at rate 0 no operation runs and nothing would be
/// checked) and at most [`MAX_RATE`].
pub fn rate(s: &str) -> Result<f64, String> {
    number(s).and_then(rate_value)
}

/// [`rate`] on a number.
pub fn rate_value(x: f64) -> Result<f64, String> {
    let s = x;
    if x.is_nan() || x <= 0.0 {
        return Err(format!(
            "the rate must be above 0 operations per second (got {s}): at rate 0 no \
             operation runs and nothing is checked"
        ));
    }
    if x > MAX_RATE {
        return Err(format!(
            "the rate is at most {MAX_RATE} operations per second (got {s})"
        ));
    }
    Ok(x)
}

/// `--time-limit`: seconds, above 0 (a test of no time checks nothing) and at most
/// [`MAX_SECS`].
pub fn time_limit(s: &str) -> Result<f64, String> {
    number(s).and_then(time_limit_value)
}

/// [`time_limit`] on a number.
pub fn time_limit_value(x: f64) -> Result<f64, String> {
    let s = x;
    if x.is_nan() || x <= 0.0 {
        return Err(format!(
            "the time limit must be above 0 seconds (got {s}): a test of no time runs no \
             operation and checks nothing"
        ));
    }
    if x > MAX_SECS {
        return Err(format!(
            "the time limit is at most {MAX_SECS} seconds (got {s})"
        ));
    }
    Ok(x)
}

/// `--nemesis-interval`: seconds between nemesis operations, [`MIN_NEMESIS_INTERVAL`] to
/// [`MAX_SECS`].
pub fn nemesis_interval(s: &str) -> Result<f64, String> {
    number(s).and_then(nemesis_interval_value)
}

/// [`nemesis_interval`] on a number.
pub fn nemesis_interval_value(x: f64) -> Result<f64, String> {
    let s = x;
    if !(MIN_NEMESIS_INTERVAL..=MAX_SECS).contains(&x) {
        return Err(format!(
            "the nemesis interval is {MIN_NEMESIS_INTERVAL} to {MAX_SECS} seconds (got {s}); \
             Maelstrom's default is 10"
        ));
    }
    Ok(x)
}

/// `all --time-scale`: a factor above 0 and at most 1000.
pub fn time_scale(s: &str) -> Result<f64, String> {
    let x = number(s)?;
    if x <= 0.0 || x > 1000.0 {
        return Err(format!(
            "the time scale is a factor above 0 and at most 1000 (got {s}); 0.25 runs every \
             challenge for a quarter of its time limit"
        ));
    }
    Ok(x)
}

/// `--node-count`: 1 to [`MAX_NODES`].
pub fn node_count(s: &str) -> Result<usize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a whole number of nodes"))?;
    node_count_value(n)
}

/// [`node_count`] on a number.
pub fn node_count_value(n: usize) -> Result<usize, String> {
    let s = n;
    if !(1..=MAX_NODES).contains(&n) {
        return Err(format!("a test has 1 to {MAX_NODES} nodes (got {s})"));
    }
    Ok(n)
}

/// `--latency`: whole milliseconds, 0 to 1 000 000.
pub fn latency(s: &str) -> Result<u64, String> {
    let ms: u64 = s.trim().parse().map_err(|_| {
        format!("the latency is a whole number of milliseconds, 0 or more (got {s})")
    })?;
    latency_value(ms)
}

/// [`latency`] on a number.
pub fn latency_value(ms: u64) -> Result<u64, String> {
    let s = ms;
    if ms > 1_000_000 {
        return Err(format!(
            "the latency is at most 1000000 milliseconds (got {s})"
        ));
    }
    Ok(ms)
}

/// `-w/--workload`: one of [`crate::workloads::NAMES`] (Maelstrom refuses others with 254).
pub fn workload(s: &str) -> Result<String, String> {
    if crate::workloads::NAMES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown workload {s:?}; the workloads are {}",
            crate::workloads::NAMES.join(", ")
        ))
    }
}

/// Most sweep threads (`sim --jobs`).
pub const MAX_JOBS: usize = 1024;

/// `sim --jobs`: 1 to [`MAX_JOBS`] threads.
pub fn jobs(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "--jobs is a number of threads from 1 to {MAX_JOBS} (got {s}); the default is one \
             per core"
        )),
    }
}

/// `--test-count`: 1 to 10 000 runs.
pub fn test_count(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if (1..=10_000).contains(&n) => Ok(n),
        _ => Err(format!(
            "the test count is a whole number from 1 to 10000 (got {s})"
        )),
    }
}

/// `--concurrency`: `N` or `Kn` (K times the node count), 1 to [`MAX_WORKERS`] workers.
pub fn concurrency(s: &str, node_count: usize) -> anyhow::Result<usize> {
    let bad = || {
        BadOption(format!(
            "--concurrency takes a number or `Kn` (K times the node count), not {s:?}"
        ))
    };
    let n = match s.strip_suffix('n') {
        Some("") => Some(node_count),
        Some(k) => k
            .parse::<usize>()
            .map_err(|_| bad())?
            .checked_mul(node_count),
        None => Some(s.parse::<usize>().map_err(|_| bad())?),
    };
    match n {
        Some(n) if (1..=MAX_WORKERS).contains(&n) => Ok(n),
        Some(0) => Err(BadOption("--concurrency must give at least one worker".into()).into()),
        _ => Err(BadOption(format!(
            "--concurrency {s} gives more than {MAX_WORKERS} workers with {node_count} nodes; \
             each worker is a client of its own"
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_would_run_nothing() {
        assert!(rate("0").is_err());
        assert!(rate("-1").is_err());
        assert!(rate("NaN").is_err());
        assert!(time_limit("0").is_err());
        assert!(time_scale("0").is_err());
        assert_eq!(rate("2.5"), Ok(2.5));
        assert_eq!(time_limit("20"), Ok(20.0));
    }

    #[test]
    fn absurd_values_are_refused_not_wrapped() {
        let err = |s: &str| concurrency(s, 5).unwrap_err().to_string();
        // 4294967296 * 5 fits a u64 but would be 2.4 TB of workers; the other wraps to 4.
        assert!(err("4294967296n").contains("more than 100000 workers"));
        assert!(err("4611686018427387905n").contains("more than 100000 workers"));
        assert!(err("0").contains("at least one worker"));
        assert!(concurrency("99999999999999999999", 5).is_err());
        assert_eq!(concurrency("2n", 5).unwrap(), 10);
        assert_eq!(concurrency("n", 5).unwrap(), 5);
        assert!(nemesis_interval("1e-6").is_err());
        assert!(nemesis_interval("0.1").is_ok());
        assert!(node_count("0").is_err());
        assert!(node_count("1000000000").is_err());
        assert!(latency("-10").unwrap_err().contains("-10"));
    }
}
