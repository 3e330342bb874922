//! The two ways to run nodes behind the runner's [`crate::runner::Cluster`]: real processes
//! over pipes in real time, or in-process state machines in virtual time.

mod pipes;
pub mod process;
pub mod sim;
