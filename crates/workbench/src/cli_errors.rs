//! Clearer words for the command-line mistakes clap would answer with a misleading tip.
//!
//! clap answers an unknown `--x` or a stray `-1` with "to pass it as a value, use `-- --x`",
//! which here would hand the word to the node binary: rarely what the person meant. When the
//! word is an option of another subcommand, one of Maelstrom's options glomers refuses, or a
//! negative number given to an option, the error says what is wrong and what to type instead.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::CommandFactory as _;

use crate::cli::Cli;
use crate::maelstrom_options::NODE_NAMING;

/// Rewrites `err` when a better sentence exists; `argv` is the command line (program first).
pub fn explain(err: clap::Error, argv: &[String]) -> clap::Error {
    if err.kind() != ErrorKind::UnknownArgument {
        return err;
    }
    let Some(ContextValue::String(word)) = err.get(ContextKind::InvalidArg) else {
        return err;
    };
    let word = word.clone();
    let subcommand = argv
        .iter()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(String::as_str)
        .unwrap_or("");
    let before = argv
        .iter()
        .position(|a| *a == word)
        .and_then(|i| i.checked_sub(1))
        .map(|i| argv[i].as_str());
    let Some(message) = sentence(&word, subcommand, before) else {
        return err;
    };
    let mut cli = Cli::command();
    cli.build();
    let command = cli.find_subcommand_mut(subcommand).cloned();
    let mut command = command.unwrap_or(cli);
    clap::Error::raw(ErrorKind::UnknownArgument, message).format(&mut command)
}

/// The sentence for an unexpected `word` in `subcommand`, the argument `before` it.
fn sentence(word: &str, subcommand: &str, before: Option<&str>) -> Option<String> {
    let name = word.split('=').next().unwrap_or(word);
    if word.parse::<f64>().is_ok() {
        let option = before
            .filter(|b| b.starts_with("--"))
            .unwrap_or("the option before it");
        return Some(format!(
            "`{option} {word}`: {option} takes no negative value (see `glomers {subcommand} \
             --help` for its range)"
        ));
    }
    if NODE_NAMING.contains(&name) {
        let sim = if subcommand == "sim" || !matches!(name, "--node" | "-n") {
            ""
        } else {
            " (to run one of this workspace's node types in virtual time, use `glomers sim \
             --node NAME`)"
        };
        return Some(format!(
            "{name} names Maelstrom's nodes; glomers always names them n0..n(N-1), as \
             Maelstrom does with --node-count, because the topology, the partitions and the \
             checkers number the nodes: use --node-count N instead{sim}"
        ));
    }
    match (subcommand, name) {
        ("sim", "--bin") => Some(
            "`glomers sim` runs one of this workspace's node types in virtual time, named \
             with --node NAME (`glomers node --list`); to test a binary, use `glomers test \
             --bin PATH`"
                .into(),
        ),
        ("all", _) => None,
        (_, name) if name.starts_with("--") => Some(format!(
            "glomers {subcommand} has no option {name} (see `glomers {subcommand} --help`); \
             if it is meant for the node binary, put it after `--` at the end: `glomers \
             {subcommand} ... -- {word}`"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_name_the_mistake() {
        let s = |w, sub, before| sentence(w, sub, before).unwrap();
        assert!(s("-1", "test", Some("--concurrency")).contains("--concurrency takes no negative"));
        assert!(s("--nodes", "test", None).contains("--node-count N"));
        assert!(s("--bin", "sim", None).contains("glomers test --bin PATH"));
        assert!(s("--frob", "test", None).contains("has no option --frob"));
        assert_eq!(sentence("x", "test", None), None);
    }
}
