//! Command-line options, following `maelstrom test`'s flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::checkers::availability::Availability;
use crate::net::{Latency, LatencyDist, NetLog};
use crate::option_checks::{self, require};
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

impl Cli {
    /// Parses the process's arguments; refusals carry [`crate::cli_errors`]' sentences.
    pub fn try_parse_explained() -> Result<Cli, clap::Error> {
        let argv: Vec<String> = std::env::args().collect();
        Cli::try_parse_from(&argv).map_err(|e| crate::cli_errors::explain(e, &argv))
    }
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
    /// The node protocol and every workload's RPCs (`glomers doc`, `glomers doc broadcast`).
    Doc(DocArgs),
    /// Re-run the analysis of a stored run from its files (or of a history.jsonl written by
    /// hand) and rebuild its report.
    Check(CheckArgs),
    /// Serve the store as a web UI: the runs newest first, their reports and files.
    Serve(ServeArgs),
    /// Combine the --summary files of sweep shards (`glomers sim --shard K/N`) into one report.
    Merge(MergeArgs),
}

#[derive(Args, Debug, Clone)]
pub struct CheckArgs {
    /// The run directory (or its history.jsonl).
    pub dir: PathBuf,
    /// The workload whose checker to use, when no results.json names it.
    #[arg(short = 'w', long)]
    pub workload: Option<String>,
    /// Number of server nodes, when no results.json gives it.
    #[arg(long)]
    pub node_count: Option<usize>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    /// The store to serve.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Address to listen on (loopback unless told otherwise; 0.0.0.0 for every interface).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
}

#[derive(Args, Debug, Clone)]
pub struct MergeArgs {
    /// Summary files written by `glomers sim --seeds ... --shard K/N --summary FILE`.
    #[arg(required = true)]
    pub summaries: Vec<PathBuf>,
    /// Also write the combined summary to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The options every test takes (shared by `test` and, later, `sim`).
#[derive(Args, Debug, Clone)]
pub struct WorkloadArgs {
    /// Workload: lin-kv (the default, as in Maelstrom), echo, unique-ids, broadcast, g-set,
    /// g-counter, pn-counter, kafka, txn-rw-register, txn-list-append.
    #[arg(short = 'w', long, default_value = "lin-kv", value_parser = option_checks::workload)]
    pub workload: String,
    /// Number of server nodes, named n0..n(N-1).
    #[arg(long, default_value_t = 5, value_parser = option_checks::node_count, allow_negative_numbers = true)]
    pub node_count: usize,
    /// Seconds of the main phase (above 0).
    #[arg(long, default_value_t = 60.0, value_parser = option_checks::time_limit, allow_negative_numbers = true)]
    pub time_limit: f64,
    /// Client operations per second (above 0).
    #[arg(long, default_value_t = 5.0, value_parser = option_checks::rate, allow_negative_numbers = true)]
    pub rate: f64,
    /// Client workers: a number, or `Kn` for K times the node count.
    #[arg(long, default_value = "1n")]
    pub concurrency: String,
    /// Mean latency between servers, in milliseconds (client traffic has none).
    #[arg(long, default_value_t = 0, value_parser = option_checks::latency, allow_negative_numbers = true)]
    pub latency: u64,
    #[arg(long, value_enum, default_value = "constant")]
    pub latency_dist: LatencyDist,
    /// Faults to inject, a comma-separated list; only `partition` exists.
    #[arg(long, default_value = "")]
    pub nemesis: String,
    /// Mean seconds between nemesis operations (at least 0.1).
    #[arg(long, default_value_t = 10.0, value_parser = option_checks::nemesis_interval, allow_negative_numbers = true)]
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
    /// Print each message as it is sent: test time, message id, route and body (stderr).
    #[arg(long)]
    pub log_net_send: bool,
    /// Print each message as it is delivered (stderr).
    #[arg(long)]
    pub log_net_recv: bool,
    /// Run the test this many times, reporting each; as Jepsen, stop at the first run that is
    /// not valid. (`sim` gives run i the seed S+i.)
    #[arg(long, default_value_t = 1, value_parser = option_checks::test_count)]
    pub test_count: u32,
    #[command(flatten)]
    pub ignored: crate::maelstrom_options::MaelstromIgnored,
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
    #[arg(long, required_unless_present = "bin", conflicts_with = "bin")]
    pub node: Option<String>,
    /// Or a node binary built on glomers-node (or speaking its lockstep protocol,
    /// docs/lockstep.md), run over its pipes in virtual time.
    #[arg(long)]
    pub bin: Option<PathBuf>,
    /// Arguments for the node (as a binary's positional arguments).
    pub args: Vec<String>,
    /// Run many seeds: a count N (seeds S..S+N, S from --seed) or a range A..B.
    #[arg(long)]
    pub seeds: Option<String>,
    /// With --seeds: run every seed instead of stopping at the first invalid one.
    #[arg(long)]
    pub keep_going: bool,
    /// With --seeds: threads to run seeds on (default: every core). The result is the same
    /// as on one thread.
    #[arg(long, value_parser = option_checks::jobs)]
    pub jobs: Option<usize>,
    /// With --seeds: run only the K-th of N disjoint slices of the seeds (`K/N`, e.g. `3/8`),
    /// for a job runner; implies --keep-going. Combine the shards' --summary files with
    /// `glomers merge`.
    #[arg(long)]
    pub shard: Option<String>,
    /// With --seeds: write a machine-readable summary (seeds run, verdict counts, failing seeds
    /// with their replay commands) to this file.
    #[arg(long)]
    pub summary: Option<PathBuf>,
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

#[derive(Args, Debug, Clone)]
pub struct DocArgs {
    /// `protocol`, `services`, `workloads` or a workload's name; none lists them.
    pub topic: Option<String>,
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
    #[arg(long, value_parser = existing_dir)]
    pub bin_dir: Option<PathBuf>,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// Scale every challenge's time limit by this factor (for a quick look).
    #[arg(long, default_value_t = 1.0, value_parser = option_checks::time_scale, allow_negative_numbers = true)]
    pub time_scale: f64,
    /// Run only the challenges whose id starts with one of these (e.g. `3` or `3d,4`).
    #[arg(long, value_parser = crate::challenges::only_list)]
    pub only: Option<String>,
    /// Run our node types in virtual time (the simulator) instead of the binaries.
    #[arg(long)]
    pub sim: bool,
    /// With --sim: the seed of every simulated run (default: a random one, printed with each
    /// run), so a scoreboard can be replayed exactly.
    #[arg(long, requires = "sim")]
    pub seed: Option<u64>,
}

impl WorkloadArgs {
    /// The test's options. The parsers in [`option_checks`] bound each option as typed;
    /// this checks them again (a caller may have scaled or set them) and those that depend on
    /// each other. A refusal is a [`option_checks::BadOption`] (exit 254).
    pub fn to_options(&self) -> anyhow::Result<TestOptions> {
        let bad = |why: String| option_checks::BadOption(why);
        option_checks::time_limit_value(self.time_limit).map_err(bad)?;
        option_checks::rate_value(self.rate).map_err(bad)?;
        option_checks::nemesis_interval_value(self.nemesis_interval).map_err(bad)?;
        option_checks::node_count_value(self.node_count).map_err(bad)?;
        option_checks::latency_value(self.latency).map_err(bad)?;
        require(self.recovery >= 0.0 && self.recovery <= 1e6, || {
            "the recovery period is 0 to 1000000 seconds".into()
        })?;
        require(
            self.checker_timeout > 0.0 && self.checker_timeout <= 1e6,
            || "--checker-timeout is a number of seconds, more than 0 and at most 1000000".into(),
        )?;
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
                    return Err(option_checks::BadOption(format!(
                        "unknown --nemesis {other:?}: the only fault is `partition`"
                    ))
                    .into())
                }
            }
        }
        Ok(TestOptions {
            workload: self.workload.clone(),
            node_count: self.node_count,
            time_limit_secs: self.time_limit,
            rate: self.rate,
            concurrency: option_checks::concurrency(&self.concurrency, self.node_count)?,
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
            net_log: NetLog {
                send: self.log_net_send,
                recv: self.log_net_recv,
            },
        })
    }
}

/// `--concurrency`: `N` or `Kn` (K times the node count).
pub fn parse_concurrency(s: &str, node_count: usize) -> anyhow::Result<usize> {
    option_checks::concurrency(s, node_count)
}

/// `--bin-dir`: a directory that exists.
fn existing_dir(s: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(s);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!(
            "{s} is not a directory: give the directory holding the challenge binaries \
             (cargo build --release -p glomers-challenges puts them in target/release)"
        ))
    }
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
