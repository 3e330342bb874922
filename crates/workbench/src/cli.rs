//! Command-line options, following `maelstrom test`'s flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::checkers::availability::Availability;
use crate::net::{Latency, LatencyDist};
use crate::runner::TestOptions;

#[derive(Parser, Debug)]
#[command(
    name = "glomers",
    version,
    about = "A Maelstrom-compatible workbench for Gossip Glomers nodes"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a workload against a node binary (any language), as `maelstrom test` does.
    Test(TestArgs),
    /// Run a workload against one of this workspace's node types in virtual time: milliseconds
    /// per run, every failure replayable from its seed.
    Sim(SimArgs),
    /// Run every challenge with its official parameters against this workspace's binaries and
    /// print a scoreboard.
    All(AllArgs),
    /// Run a catalogued node over stdin/stdout, like a node binary (`glomers node --list`).
    Node(NodeArgs),
}

/// The options every test takes (shared by `test` and, later, `sim`).
#[derive(Args, Debug, Clone)]
pub struct WorkloadArgs {
    /// Workload: echo, unique-ids, broadcast, g-set, g-counter, pn-counter, lin-kv (the
    /// default, as in Maelstrom).
    #[arg(short = 'w', long, default_value = "lin-kv")]
    pub workload: String,
    /// Number of server nodes, named n0..n(N-1).
    #[arg(long, default_value_t = 5)]
    pub node_count: usize,
    /// Seconds of the main phase.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Client operations per second (0 = none).
    #[arg(long, default_value_t = 5.0)]
    pub rate: f64,
    /// Client workers: a number, or `Kn` for K times the node count.
    #[arg(long, default_value = "1n")]
    pub concurrency: String,
    /// Mean latency between servers, in milliseconds (client traffic has none).
    #[arg(long, default_value_t = 0)]
    pub latency: u64,
    #[arg(long, value_enum, default_value = "constant")]
    pub latency_dist: LatencyDist,
    /// Faults to inject, a comma-separated list; only `partition` exists.
    #[arg(long, default_value = "")]
    pub nemesis: String,
    /// Mean seconds between nemesis operations.
    #[arg(long, default_value_t = 10.0)]
    pub nemesis_interval: f64,
    /// Broadcast topology: grid, line, tree, tree2, tree3, tree4, total.
    #[arg(long, default_value = "grid")]
    pub topology: String,
    /// Required availability: `total`, or a fraction of ops that must succeed.
    #[arg(long)]
    pub availability: Option<Availability>,
    /// Key pool size for workloads with keys (txn and kafka; default 10).
    #[arg(long)]
    pub key_count: Option<usize>,
    /// Longest transaction, in micro-operations (txn workloads).
    #[arg(long, default_value_t = 4)]
    pub max_txn_length: usize,
    /// Writes per key before it is retired for a fresh one (txn and kafka).
    #[arg(long, default_value_t = 16)]
    pub max_writes_per_key: usize,
    /// Consistency model the txn checkers hold the history to (Elle's names).
    #[arg(long, default_value = "strict-serializable")]
    pub consistency_models: String,
    /// Seconds the linearizability checker (lin-kv) may search; past it the verdict is unknown.
    #[arg(long, default_value_t = 60.0)]
    pub checker_timeout: f64,
    /// Seed of the run's random choices (generated when not given; printed in the summary).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Seconds between healing and the final reads.
    #[arg(long, default_value_t = 10.0, hide = true)]
    pub recovery: f64,
}

#[derive(Args, Debug, Clone)]
pub struct TestArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// The node binary; arguments after the options are passed to it.
    #[arg(long)]
    pub bin: PathBuf,
    /// Arguments for the binary. As in Maelstrom, options may still follow them; put
    /// arguments that start with `-` after `--`.
    pub args: Vec<String>,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Print every node's stderr as it arrives (it is always saved in node-logs/).
    #[arg(long)]
    pub log_stderr: bool,
}

#[derive(Args, Debug, Clone)]
pub struct SimArgs {
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// The node type to run, from the catalog (`glomers node --list`).
    #[arg(long)]
    pub node: String,
    /// Arguments for the node (as a binary's positional arguments).
    pub args: Vec<String>,
    /// Run many seeds: a count N (seeds S..S+N, S from --seed) or a range A..B.
    #[arg(long)]
    pub seeds: Option<String>,
    /// With --seeds: run every seed instead of stopping at the first invalid one.
    #[arg(long)]
    pub keep_going: bool,
    /// Where runs are stored (a sweep stores only its first failing seed).
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct NodeArgs {
    /// The node's name in the catalog.
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// Arguments for the node.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// List the catalog.
    #[arg(long)]
    pub list: bool,
}

/// `--seeds`: `N` (N seeds from `first`) or `A..B` (end exclusive).
pub fn parse_seeds(s: &str, first: u64) -> anyhow::Result<std::ops::Range<u64>> {
    let bad = || anyhow::anyhow!("--seeds takes a count N or a range A..B, not {s:?}");
    let range = match s.split_once("..") {
        Some((a, b)) => {
            a.trim().parse().map_err(|_| bad())?..b.trim().parse().map_err(|_| bad())?
        }
        None => {
            let n: u64 = s.trim().parse().map_err(|_| bad())?;
            first..first.checked_add(n).ok_or_else(bad)?
        }
    };
    anyhow::ensure!(!range.is_empty(), "--seeds {s:?} names no seed");
    Ok(range)
}

#[derive(Args, Debug, Clone)]
pub struct AllArgs {
    /// Directory holding the challenge binaries (default: next to this executable).
    #[arg(long)]
    pub bin_dir: Option<PathBuf>,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Scale every challenge's time limit by this factor (for a quick look).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Run only the challenges whose id starts with one of these (e.g. `3` or `3d,4`).
    #[arg(long)]
    pub only: Option<String>,
    /// Run our node types in virtual time (the simulator) instead of the binaries.
    #[arg(long)]
    pub sim: bool,
}

impl WorkloadArgs {
    pub fn to_options(&self) -> anyhow::Result<TestOptions> {
        anyhow::ensure!(self.node_count >= 1, "--node-count must be at least 1");
        anyhow::ensure!(
            self.time_limit >= 0.0 && self.time_limit.is_finite(),
            "--time-limit must be a number of seconds >= 0"
        );
        anyhow::ensure!(
            self.nemesis_interval > 0.0 && self.nemesis_interval.is_finite(),
            "--nemesis-interval must be a positive number of seconds"
        );
        // Bounds that keep test time (u64 nanoseconds) far from overflowing.
        anyhow::ensure!(
            self.time_limit <= 1e6,
            "--time-limit is at most 1 000 000 seconds"
        );
        anyhow::ensure!(
            self.nemesis_interval <= 1e6,
            "--nemesis-interval is at most 1 000 000 seconds"
        );
        anyhow::ensure!(
            self.latency <= 1_000_000,
            "--latency is at most 1 000 000 ms"
        );
        anyhow::ensure!(
            self.recovery >= 0.0 && self.recovery <= 1e6,
            "the recovery period is 0 to 1 000 000 seconds"
        );
        anyhow::ensure!(
            self.checker_timeout > 0.0 && self.checker_timeout <= 1e6,
            "--checker-timeout is a number of seconds, more than 0 and at most 1 000 000"
        );
        let mut partitions = false;
        for fault in self
            .nemesis
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match fault {
                "partition" => partitions = true,
                other => {
                    anyhow::bail!("unknown --nemesis {other:?}: the only fault is `partition`")
                }
            }
        }
        Ok(TestOptions {
            workload: self.workload.clone(),
            node_count: self.node_count,
            time_limit_secs: self.time_limit,
            rate: self.rate,
            concurrency: parse_concurrency(&self.concurrency, self.node_count)?,
            latency: Latency::new(self.latency, self.latency_dist)?,
            partitions,
            nemesis_interval_secs: self.nemesis_interval,
            topology: self.topology.clone(),
            availability: self.availability,
            key_count: self.key_count,
            max_txn_length: self.max_txn_length,
            max_writes_per_key: self.max_writes_per_key,
            consistency_models: self.consistency_models.clone(),
            checker_timeout_secs: self.checker_timeout,
            seed: self.seed.unwrap_or_else(rand::random),
            recovery_secs: self.recovery,
        })
    }
}

/// `--concurrency`: `N` or `Kn` (K times the node count).
pub fn parse_concurrency(s: &str, node_count: usize) -> anyhow::Result<usize> {
    let bad = || {
        anyhow::anyhow!("--concurrency takes a number or `Kn` (K times the node count), not {s:?}")
    };
    let n = if let Some(k) = s.strip_suffix('n') {
        let k: usize = if k.is_empty() {
            1
        } else {
            k.parse().map_err(|_| bad())?
        };
        k * node_count
    } else {
        s.parse().map_err(|_| bad())?
    };
    anyhow::ensure!(n >= 1, "--concurrency must give at least one worker");
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_forms() {
        assert_eq!(parse_concurrency("1n", 5).unwrap(), 5);
        assert_eq!(parse_concurrency("2n", 3).unwrap(), 6);
        assert_eq!(parse_concurrency("7", 3).unwrap(), 7);
        assert!(parse_concurrency("x", 3).is_err());
        assert!(parse_concurrency("0", 3).is_err());
    }

    #[test]
    fn parses_a_maelstrom_command_line() {
        let cli = Cli::try_parse_from([
            "glomers",
            "test",
            "-w",
            "broadcast",
            "--bin",
            "./b",
            "--node-count",
            "25",
            "--time-limit",
            "20",
            "--rate",
            "100",
            "frugal",
            "--latency",
            "100",
            "--nemesis",
            "partition",
        ])
        .unwrap();
        let Command::Test(t) = cli.command else {
            panic!()
        };
        assert_eq!(t.args, vec!["frugal"]);
        let opts = t.workload.to_options().unwrap();
        assert!(opts.partitions);
        assert_eq!(opts.node_count, 25);
        assert_eq!(opts.concurrency, 25);
        assert_eq!(opts.latency.mean_ms, 100);
    }

    #[test]
    fn seeds_forms() {
        assert_eq!(parse_seeds("3", 10).unwrap(), 10..13);
        assert_eq!(parse_seeds("5..9", 0).unwrap(), 5..9);
        assert!(parse_seeds("9..5", 0).is_err());
        assert!(parse_seeds("x", 0).is_err());
    }

    #[test]
    fn refuses_unknown_faults() {
        let cli = Cli::try_parse_from([
            "glomers",
            "test",
            "-w",
            "echo",
            "--bin",
            "x",
            "--nemesis",
            "kill",
        ])
        .unwrap();
        let Command::Test(t) = cli.command else {
            panic!()
        };
        assert!(t.workload.to_options().is_err());
    }
}
