use glomers_workbench::cli::{Cli, Command};
use glomers_workbench::commands;

/// Simulated runs allocate and free JSON values per message: mimalloc is faster at it than
/// the system allocator (docs/sweeps.md has the figures).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::try_parse_explained().unwrap_or_else(|e| {
        // Help and version go to stdout with status 0; bad options exit 254 as in Maelstrom,
        // never 2, which means "unknown" verdict.
        let code = if e.use_stderr() { 254 } else { 0 };
        let _ = e.print();
        std::process::exit(code);
    });
    match &cli.command {
        // A node dies quietly when its reader goes away, as command-line tools do.
        Command::Node(_) => restore_sigpipe(),
        // Runs of node processes: a write to a node that closed its stdin is a fact about
        // that node (EPIPE, reported), never the workbench's death, so SIGPIPE stays ignored
        // (Rust's default); and Ctrl-C must end the nodes too.
        Command::Test(_) | Command::All(_) => {
            if let Err(e) = glomers_workbench::signals::install() {
                eprintln!("glomers: cannot catch signals ({e:#}); Ctrl-C may leave nodes running");
            }
        }
        Command::Sim(_)
        | Command::Merge(_)
        | Command::Doc(_)
        | Command::Check(_)
        | Command::Serve(_) => {}
    }
    let outcome = match &cli.command {
        Command::Test(args) => commands::test(args),
        Command::All(args) => commands::all(args),
        Command::Sim(args) => commands::sim(args),
        Command::Check(args) => commands::check(args),
        Command::Serve(args) => glomers_workbench::serve::serve(&args.store, &args.host, args.port)
            .map(|()| glomers_workbench::checkers::Validity::Valid),
        Command::Merge(args) => commands::merge(args),
        Command::Doc(args) => glomers_workbench::doc::topic(args.topic.as_deref()).map(|text| {
            print!("{text}");
            glomers_workbench::checkers::Validity::Valid
        }),
        Command::Node(args) => {
            commands::node(args).map(|()| glomers_workbench::checkers::Validity::Valid)
        }
    };
    let code = match outcome {
        Ok(valid) => valid.exit_code(),
        Err(e) if e.is::<glomers_workbench::option_checks::BadOption>() => {
            // A refused option, as clap's refusals above: 254, as Maelstrom.
            eprintln!("glomers: {e:#}");
            254
        }
        Err(e) => {
            eprintln!("glomers: {e:#}");
            // Maelstrom exits 255 when a test cannot run at all.
            255
        }
    };
    // An interrupted run still printed and stored what it had; the status says it was cut.
    let code =
        glomers_workbench::signals::received().map_or(code, glomers_workbench::signals::exit_code);
    std::process::exit(code);
}

/// Rust ignores SIGPIPE, so a node would panic on a closed stdout; die quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called in main before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
