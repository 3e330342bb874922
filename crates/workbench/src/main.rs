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
        Command::Serve(_) | Command::Node(_) => {}
        // Short-lived workbench runs keep the memory they free for the next run (see
        // `keep_freed_memory`); the server and the nodes, which live long, give it back.
        _ => keep_freed_memory(),
    }
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

extern "C" {
    // mimalloc's, linked in by the `mimalloc` crate (mimalloc.h).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in mimalloc.h (the same in mimalloc v2 and v3).
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// Tells mimalloc never to give freed memory back to the OS. By default it purges memory left
/// free for a second (`madvise(MADV_DONTNEED)`), and a sweep, whose runs each build and free
/// a whole history, then faults the same pages in again for the next run, and the kernel
/// zeroes them again (huge pages: 2 MiB at a time). Kept, a sweep's memory stays at its
/// largest run's and is reused, and the page faults of a 20-seed sweep fall from thousands
/// to a few hundred.
fn keep_freed_memory() {
    // SAFETY: called in main before any thread exists (mimalloc's options are not
    // thread-safe to set); -1 is the documented "never purge" value of this option.
    unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// Rust ignores SIGPIPE, so a node would panic on a closed stdout; die quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called in main before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
