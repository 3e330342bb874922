//! Terminating signals and the processes the nodes leave behind.
//!
//! Each node leads its own process group, so the terminal's Ctrl-C never reaches it: the
//! workbench must end the nodes itself. [`install`] (called by `glomers test` and `glomers
//! all`) catches SIGINT, SIGTERM and SIGHUP on a thread of its own. The first one is recorded
//! ([`received`]); the process driver sees it within 100 ms and stops the run, which is then
//! written and checked as far as it went. A second one kills every registered node group and
//! exits at once.
//!
//! [`install`] also makes the workbench a child subreaper (Linux): a process a node starts and
//! detaches (`setsid`, double fork) is re-parented to the workbench instead of to init when its
//! parent dies, so [`reap_orphans`] can find and kill it after the nodes are gone.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Mutex;

/// The first terminating signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Process groups of running nodes, killed by a second signal.
static GROUPS: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// Whether this process is a child subreaper, so that orphans are ours to reap.
static SUBREAPER: AtomicBool = AtomicBool::new(false);

/// The terminating signal received so far, if any (SIGINT, SIGTERM or SIGHUP).
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::Relaxed) {
        0 => None,
        signal => Some(signal),
    }
}

/// The shell's exit status for a death by `signal` (130 for SIGINT, 143 SIGTERM, 129 SIGHUP).
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// The signal's name, as a person knows it.
pub fn name(signal: i32) -> &'static str {
    #[cfg(unix)]
    match signal {
        libc::SIGINT => return "SIGINT",
        libc::SIGTERM => return "SIGTERM",
        libc::SIGHUP => return "SIGHUP",
        _ => {}
    }
    let _ = signal;
    "a signal"
}

/// Catches SIGINT, SIGTERM and SIGHUP and makes this process a child subreaper. Called once,
/// early in `main`, by the subcommands that run node processes.
pub fn install() -> anyhow::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) only sets a flag on this process.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } == 0 {
            SUBREAPER.store(true, Ordering::Relaxed);
        }
    }
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    on_signal(signal);
                }
            })?;
    }
    Ok(())
}

fn on_signal(signal: i32) {
    let first = RECEIVED
        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if first {
        eprintln!(
            "\nglomers: {}: stopping the run and writing what it has (again to quit at once)",
            name(signal)
        );
        return;
    }
    eprintln!(
        "\nglomers: {} again: killing the nodes and quitting",
        name(signal)
    );
    kill_registered_groups();
    kill_orphans();
    std::process::exit(exit_code(signal));
}

/// Records a running node's process group, for a second signal to kill.
pub fn register_group(pgid: u32) {
    GROUPS.lock().expect("groups lock").push(pgid as i32);
}

/// Forgets a node's process group (the node was killed and reaped).
pub fn unregister_group(pgid: u32) {
    GROUPS
        .lock()
        .expect("groups lock")
        .retain(|&g| g != pgid as i32);
}

fn kill_registered_groups() {
    // A poisoned lock still holds the list.
    let groups = match GROUPS.lock() {
        Ok(g) => g.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for pgid in groups {
        kill_group(pgid);
    }
}

/// SIGKILL to the process group `pgid` leads.
pub fn kill_group(pgid: i32) {
    #[cfg(unix)]
    // SAFETY: kill(2) only reads its arguments.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
    #[cfg(not(unix))]
    let _ = pgid;
}

/// Our children, by scanning `/proc` (empty where there is no `/proc`).
fn children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces and parentheses: split after the
        // last `)`.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if rest.split_whitespace().nth(1) == Some(me.as_str()) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills every child (and the group it leads, if any), without reaping.
fn kill_orphans() {
    if !SUBREAPER.load(Ordering::Relaxed) {
        return;
    }
    for pid in children() {
        kill_group(pid);
        #[cfg(unix)]
        // SAFETY: kill(2) only reads its arguments.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
}

/// Kills and reaps every process that was re-parented to the workbench (descendants of nodes
/// that outlived them), until none is left. Call only when no node or other child of ours is
/// meant to run any more: every child found is killed. Does nothing unless [`install`] made
/// this process a subreaper. Returns how many processes it ended.
pub fn reap_orphans() -> usize {
    if !SUBREAPER.load(Ordering::Relaxed) {
        return 0;
    }
    let mut ended = 0;
    // Each round kills the children found; their own children are re-parented to us as they
    // die and show up in the next round.
    for _ in 0..100 {
        let found = children();
        if found.is_empty() {
            break;
        }
        for pid in found {
            kill_group(pid);
            #[cfg(unix)]
            // SAFETY: kill(2) and waitpid(2) on a child of ours; the status pointer may be null.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, std::ptr::null_mut(), 0);
            }
            ended += 1;
        }
    }
    ended
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(exit_code(2), 130);
        assert_eq!(exit_code(15), 143);
        assert_eq!(exit_code(1), 129);
        assert_eq!(name(2), "SIGINT");
    }
}
