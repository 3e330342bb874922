use clap::Parser as _;
use glomers_workbench::cli::{Cli, Command};
use glomers_workbench::commands;

fn main() {
    restore_sigpipe();
    let cli = Cli::try_parse().unwrap_or_else(|e| {
        // Help and version go to stdout with status 0; bad options exit 254 as in Maelstrom,
        // never 2, which means "unknown" verdict.
        let code = if e.use_stderr() { 254 } else { 0 };
        let _ = e.print();
        std::process::exit(code);
    });
    let outcome = match &cli.command {
        Command::Test(args) => commands::test(args),
        Command::All(args) => commands::all(args),
        Command::Sim(args) => commands::sim(args),
        Command::Merge(args) => commands::merge(args),
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
