use clap::Parser as _;
use glomers_workbench::cli::{Cli, Command};
use glomers_workbench::commands;

fn main() {
    restore_sigpipe();
    let cli = Cli::parse();
    let outcome = match &cli.command {
        Command::Test(args) => commands::test(args),
        Command::All(args) => commands::all(args),
        Command::Sim(args) => commands::sim(args),
        Command::Node(args) => {
            commands::node(args).map(|()| glomers_workbench::checkers::Validity::Valid)
        }
    };
    match outcome {
        Ok(valid) => std::process::exit(valid.exit_code()),
        Err(e) => {
            eprintln!("glomers: {e:#}");
            // Maelstrom exits 255 when a test cannot run at all.
            std::process::exit(255);
        }
    }
}

/// Rust ignores SIGPIPE, so `glomers ... | head` would panic on a closed stdout; die quietly
/// instead, as command-line tools do.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
