//! The node types this workspace ships, by name: the challenge nodes and the deliberately
//! broken ones. The sim driver instantiates them in-process; `glomers node NAME` runs one over
//! stdin/stdout like any binary (the process-driver tests use that).

use glomers_node::{AnyEngine, Engine, Node};

use crate::broken;
use crate::driver::sim::NodeFactory;

/// Builds a node from the trailing arguments (e.g. `frugal`).
type Constructor<N> = fn(&[String]) -> N;

/// One catalogued node: its name, what it is, and how to make it.
pub struct Entry {
    pub name: &'static str,
    pub about: &'static str,
    factory: fn(Vec<String>) -> NodeFactory,
    run_stdio: fn(&[String]),
}

impl Entry {
    /// A factory for the simulator, with the node's arguments.
    pub fn factory(&self, args: &[String]) -> NodeFactory {
        (self.factory)(args.to_vec())
    }

    /// Runs the node over stdin/stdout until stdin closes.
    pub fn run_stdio(&self, args: &[String]) {
        (self.run_stdio)(args)
    }
}

fn factory<N: Node>(make: Constructor<N>, args: Vec<String>) -> NodeFactory {
    Box::new(move |seed| Box::new(Engine::new(make(&args), seed)) as Box<dyn AnyEngine>)
}

macro_rules! entries {
    ($($name:literal, $about:literal => $make:expr;)*) => {
        /// Every catalogued node.
        pub const ENTRIES: &[Entry] = &[$(
            Entry {
                name: $name,
                about: $about,
                factory: |args| factory($make, args),
                run_stdio: |args| glomers_node::run(($make)(args)),
            },
        )*];
    };
}

entries! {
    "echo", "challenge 1: echoes every request" =>
        |_| glomers_challenges::echo::Echo::default();
    "unique-ids", "challenge 2: globally unique ids without coordination" =>
        |_| glomers_challenges::unique_ids::UniqueIds::default();
    "broken-echo", "echo that mangles one reply in a hundred" =>
        |_| broken::echo::MangledEcho::default();
    "broken-unique-ids", "unique-ids from the clock: duplicates under load" =>
        |_| broken::unique_ids::ClockIds;
    "broken-broadcast-no-retry", "broadcast that sends each value once: loses values to partitions" =>
        |_| broken::broadcast::FlawedBroadcast::new(broken::broadcast::Flaw::NoRetry);
    "broken-broadcast-drop", "broadcast that drops one client value in fifty" =>
        |_| broken::broadcast::FlawedBroadcast::new(broken::broadcast::Flaw::DropsOneInFifty);
    "broken-broadcast-omit-own", "broadcast whose reads omit the values it was given itself" =>
        |_| broken::broadcast::FlawedBroadcast::new(broken::broadcast::Flaw::ReadsOmitOwn);
    "broken-counter-no-cas", "counter by read-modify-write without cas: loses increments" =>
        |_| broken::counter::FlawedCounter::new(broken::counter::Flaw::WriteWithoutCas);
    "broken-counter-stale-read", "counter that answers its final read from one stale seq-kv read" =>
        |_| broken::counter::FlawedCounter::new(broken::counter::Flaw::TrustsOneStaleRead);
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
