//! glomers-workbench: a Maelstrom-compatible workbench. It runs node binaries (the `process`
//! driver) or in-process node types (the `sim` driver) behind one simulated network, hosts the
//! KV services, drives a workload's client operations, checks the history and reports.

pub mod analysis;
pub mod broken;
pub mod catalog;
pub mod challenges;
pub mod check;
pub mod checkers;
pub mod cli;
pub mod cli_errors;
pub mod commands;
pub mod doc;
pub mod driver;
pub mod history;
pub mod maelstrom_options;
pub mod nemesis;
pub mod net;
pub mod option_checks;
pub mod report;
pub mod report_html;
pub mod runner;
pub mod serve;
pub mod services;
pub mod signals;
pub mod sweep;
#[cfg(test)]
mod test_util;
pub mod testing;
pub mod workloads;

/// The one random number generator of a test: seeded, so that a simulation replays exactly.
pub type Rng = rand_chacha::ChaCha8Rng;
