//! The node types this workspace ships, by name: the challenge nodes and the deliberately
//! broken ones. The sim driver instantiates them in-process; `glomers node NAME` runs one over
//! stdin/stdout like any binary (the process-driver tests use that).

use glomers_node::{AnyEngine, Engine, Node};

use crate::broken;
use crate::driver::sim::NodeFactory;

/// Builds a node from the trailing arguments (e.g. `frugal`), or says why it cannot.
type Constructor<N> = fn(&[String]) -> Result<N, String>;

/// One catalogued node: its name, what it is, and how to make it.
pub struct Entry {
    pub name: &'static str,
    pub about: &'static str,
    factory: fn(Vec<String>) -> Result<NodeFactory, String>,
    run_stdio: fn(&[String]) -> Result<(), String>,
}

impl Entry {
    /// A factory for the simulator, with the node's arguments (checked here, once).
    pub fn factory(&self, args: &[String]) -> anyhow::Result<NodeFactory> {
        (self.factory)(args.to_vec()).map_err(|e| anyhow::anyhow!("node {}: {e}", self.name))
    }

    /// Runs the node over stdin/stdout until stdin closes.
    pub fn run_stdio(&self, args: &[String]) -> anyhow::Result<()> {
        (self.run_stdio)(args).map_err(|e| anyhow::anyhow!("node {}: {e}", self.name))
    }
}

fn factory<N: Node>(make: Constructor<N>, args: Vec<String>) -> Result<NodeFactory, String> {
    make(&args)?;
    Ok(Box::new(move |seed| {
        let node = make(&args).expect("arguments checked when the factory was made");
        Box::new(Engine::new(node, seed)) as Box<dyn AnyEngine>
    }))
}

fn run_stdio<N: Node>(make: Constructor<N>, args: &[String]) -> Result<(), String> {
    glomers_node::run(make(args)?);
    Ok(())
}

/// For nodes that take no arguments.
fn no_args<N>(args: &[String], node: N) -> Result<N, String> {
    match args.first() {
        None => Ok(node),
        Some(arg) => Err(format!("takes no arguments, got {arg:?}")),
    }
}

macro_rules! entries {
    ($($name:literal, $about:literal => $make:expr;)*) => {
        /// Every catalogued node.
        pub const ENTRIES: &[Entry] = &[$(
            Entry {
                name: $name,
                about: $about,
                factory: |args| factory($make, args),
                run_stdio: |args| run_stdio($make, args),
            },
        )*];
    };
}

entries! {
    "echo", "challenge 1: echoes every request" =>
        |args| no_args(args, glomers_challenges::echo::Echo::default());
    "unique-ids", "challenge 2: globally unique ids without coordination" =>
        |args| no_args(args, glomers_challenges::unique_ids::UniqueIds::default());
    "broadcast", "challenges 3a-3e (trailing `frugal`: fewer messages, more latency)" =>
        |args| Ok(glomers_challenges::broadcast::Broadcast::from_args(args));
    "g-counter", "challenge 4: a counter on seq-kv (trailing `pn`: pn-counter)" =>
        glomers_challenges::counter::Counter::from_args;
    "pn-counter", "challenge 4's counter with negative deltas" =>
        |args| no_args(args, glomers_challenges::counter::Counter::pn_counter());
    "kafka", "challenges 5a-5c: a single-writer log per key, replicated before send_ok" =>
        |args| no_args(args, glomers_challenges::kafka::Kafka::default());
    "txn", "challenges 6a-6c: totally available read committed (trailing `serializable`: strict-serializable over lin-kv)" =>
        glomers_challenges::txn::Txn::from_args;
    "lin-kv-proxy", "lin-kv: relays every request to the lin-kv service" =>
        |args| no_args(args, glomers_challenges::lin_kv::proxy::LinKvProxy);
    "raft", "lin-kv replicated with Raft: elections, log replication, reads through the log" =>
        |args| no_args(args, glomers_challenges::raft::Raft::default());
    "broken-echo", "echo that mangles one reply in a hundred" =>
        |args| no_args(args, broken::echo::MangledEcho::default());
    "broken-unique-ids", "unique-ids from the clock: duplicates under load" =>
        |args| no_args(args, broken::unique_ids::ClockIds);
    "broken-broadcast-no-retry", "broadcast that sends each value once: loses values to partitions" =>
        |args| no_args(args, broken::broadcast::FlawedBroadcast::new(broken::broadcast::Flaw::NoRetry));
    "broken-broadcast-drop", "broadcast that drops one client value in fifty" =>
        |args| no_args(args, broken::broadcast::FlawedBroadcast::new(broken::broadcast::Flaw::DropsOneInFifty));
    "broken-broadcast-omit-own", "broadcast whose reads omit the values it was given itself" =>
        |args| no_args(args, broken::broadcast::FlawedBroadcast::new(broken::broadcast::Flaw::ReadsOmitOwn));
    "broken-counter-no-cas", "counter by read-modify-write without cas: loses increments" =>
        |args| no_args(args, broken::counter::FlawedCounter::new(broken::counter::Flaw::WriteWithoutCas));
    "broken-counter-stale-read", "counter that answers its final read from one stale seq-kv read" =>
        |args| no_args(args, broken::counter::FlawedCounter::new(broken::counter::Flaw::TrustsOneStaleRead));
    "broken-kafka-no-cas", "kafka whose nodes take offsets from a lin-kv counter without cas" =>
        |args| no_args(args, broken::kafka::FlawedKafka::new(broken::kafka::Flaw::OffsetsWithoutCas));
    "broken-kafka-poll-skip", "kafka whose polls leave out the second of three or more messages" =>
        |args| no_args(args, broken::kafka::FlawedKafka::new(broken::kafka::Flaw::PollSkips));
    "broken-kafka-poll-order", "kafka whose polls return messages newest first" =>
        |args| no_args(args, broken::kafka::FlawedKafka::new(broken::kafka::Flaw::PollOutOfOrder));
    "broken-kafka-forget", "kafka that acknowledges one send in ten and forgets it" =>
        |args| no_args(args, broken::kafka::FlawedKafka::new(broken::kafka::Flaw::ForgetsAcknowledged));
    "broken-kafka-local-only", "kafka whose nodes each serve only their own log" =>
        |args| no_args(args, broken::kafka::FlawedKafka::new(broken::kafka::Flaw::LocalOnly));
    "broken-txn-interleaved", "txn node whose writes are each their own LWW update: G0" =>
        |args| no_args(args, broken::txn::FlawedTxn::new(broken::txn::Flaw::InterleavedWrites));
    "broken-txn-aborted-read", "txn node that answers error 30 after installing the writes: G1a" =>
        |args| no_args(args, broken::txn::FlawedTxn::new(broken::txn::Flaw::AbortsAfterWriting));
    "broken-txn-intermediate", "txn node that replicates a txn's first write of a key, not its last: G1b" =>
        |args| no_args(args, broken::txn::FlawedTxn::new(broken::txn::Flaw::ReplicatesFirstWrite));
    "broken-txn-peer-reads", "txn node that writes first, then reads a peer's replica: G1c" =>
        |args| no_args(args, broken::txn::FlawedTxn::new(broken::txn::Flaw::ReadsFromAPeer));
    "broken-txn-no-own-reads", "txn node whose reads ignore the txn's own writes: internal" =>
        |args| no_args(args, broken::txn::FlawedTxn::new(broken::txn::Flaw::IgnoresOwnWrites));
    "broken-txn-lost-update", "serializable txn node without its locks: lost updates" =>
        |args| no_args(args, broken::txn::FlawedTxn::new(broken::txn::Flaw::UnlockedLinKv));
    "broken-lin-kv-stale-reads", "lin-kv relay answering reads from a copy refreshed every 500 ms" =>
        |args| no_args(args, broken::lin_kv::FlawedLinKv::new(broken::lin_kv::Flaw::StaleReads));
    "broken-lin-kv-blind-cas", "lin-kv relay that sends a cas as a plain write while another cas is in flight" =>
        |args| no_args(args, broken::lin_kv::FlawedLinKv::new(broken::lin_kv::Flaw::BlindCasWhenBusy));
    "broken-raft-early-commit", "Raft whose leader commits before a majority stores the entry" =>
        |args| no_args(args, broken::lin_kv::early_commit_raft());
}

pub fn find(name: &str) -> anyhow::Result<&'static Entry> {
    ENTRIES.iter().find(|e| e.name == name).ok_or_else(|| {
        let names: Vec<&str> = ENTRIES.iter().map(|e| e.name).collect();
        anyhow::anyhow!(
            "no node named {name:?}; the catalog has: {}",
            names.join(", ")
        )
    })
}
