//! The ways to run nodes behind the runner's [`crate::runner::Cluster`]: real processes
//! over pipes in real time, in-process state machines in virtual time, or
//! node processes in virtual time (`lockstep`).

pub mod lockstep;
mod pipes;
pub mod process;
pub mod sim;
