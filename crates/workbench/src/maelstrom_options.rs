//! Maelstrom's (Jepsen's) `test` options that have no meaning here: those glomers accepts and
//! ignores, and those it refuses. Every other Maelstrom option is implemented (see `cli`).

use std::path::PathBuf;

use clap::Args;

/// Maelstrom's options that name the nodes. glomers refuses them: node ids are `n0..n(N-1)`
/// throughout (topology, partitions, client routing and the checkers index nodes by number),
/// which is what Maelstrom uses too whenever `--node-count` is given.
pub const NODE_NAMING: &[&str] = &["--node", "-n", "--nodes", "--nodes-file"];

/// Maelstrom's options that mean nothing here: accepted, so that a Maelstrom command
/// line runs as it is, and ignored with a note on stderr.
#[derive(Args, Debug, Clone, Default)]
pub struct MaelstromIgnored {
    /// Ignored: glomers starts no database to leave running.
    #[arg(long, help_heading = IGNORED)]
    pub leave_db_running: bool,
    /// Ignored: glomers writes its own log as plain text.
    #[arg(long, help_heading = IGNORED)]
    pub logging_json: bool,
    /// Ignored (SSH login): nodes run on this machine.
    #[arg(long, value_name = "USER", help_heading = IGNORED)]
    pub username: Option<String>,
    /// Ignored (SSH login).
    #[arg(long, value_name = "PASS", help_heading = IGNORED)]
    pub password: Option<String>,
    /// Ignored (SSH).
    #[arg(long, help_heading = IGNORED)]
    pub strict_host_key_checking: bool,
    /// Ignored (SSH).
    #[arg(long, value_name = "FILE", help_heading = IGNORED)]
    pub ssh_private_key: Option<PathBuf>,
    /// Ignored (SSH).
    #[arg(long, help_heading = IGNORED)]
    pub no_ssh: bool,
    /// Ignored (SSH).
    #[arg(long, help_heading = IGNORED)]
    pub dummy_ssh: bool,
}

/// The help heading of [`MaelstromIgnored`]'s options.
const IGNORED: &str = "Maelstrom options accepted and ignored";

impl MaelstromIgnored {
    /// One note per option given.
    pub fn notes(&self) -> Vec<String> {
        let ssh = [
            ("--username", self.username.is_some()),
            ("--password", self.password.is_some()),
            ("--strict-host-key-checking", self.strict_host_key_checking),
            ("--ssh-private-key", self.ssh_private_key.is_some()),
            ("--no-ssh", self.no_ssh),
            ("--dummy-ssh", self.dummy_ssh),
        ];
        let mut notes = Vec::new();
        if self.leave_db_running {
            notes.push("--leave-db-running is ignored: glomers starts no database".to_string());
        }
        if self.logging_json {
            notes.push("--logging-json is ignored: glomers logs plain text".to_string());
        }
        for (name, given) in ssh {
            if given {
                notes.push(format!(
                    "{name} is ignored: glomers runs nodes on this machine, without SSH"
                ));
            }
        }
        notes
    }
}
