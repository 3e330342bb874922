//! `glomers doc`: the protocol and every workload's RPCs, from the pages in `docs/` (compiled
//! in, so the binary explains itself and the pages stay the one source). They are read through
//! the links in `crates/workbench/docs/`, so that the published crate carries them.

use crate::workloads;

/// `docs/protocol.md`: messages, init, errors, the clients' rules, the services.
pub const PROTOCOL: &str = include_str!("../docs/protocol.md");
/// `docs/workloads.md`: one `## <workload>` section per workload.
pub const WORKLOADS: &str = include_str!("../docs/workloads.md");
/// `docs/lockstep.md`: how `glomers sim --bin` drives a node binary in virtual time.
pub const LOCKSTEP: &str = include_str!("../docs/lockstep.md");

/// The text `glomers doc [TOPIC]` prints.
pub fn topic(name: Option<&str>) -> anyhow::Result<String> {
    match name {
        None => Ok(index()),
        Some("protocol") => Ok(PROTOCOL.to_string()),
        Some("workloads") => Ok(WORKLOADS.to_string()),
        Some("lockstep") => Ok(LOCKSTEP.to_string()),
        Some("services") => Ok(section(PROTOCOL, "Services").expect("a services section")),
        Some(workload) => section(WORKLOADS, workload).ok_or_else(|| {
            anyhow::anyhow!(
                "no documentation on {workload:?}: try `glomers doc` for the list of topics"
            )
        }),
    }
}

fn index() -> String {
    let mut out = String::from(
        "glomers doc TOPIC prints one of:\n\n  \
         protocol    messages, init, error codes, how replies are judged, the services\n  \
         services    lin-kv, seq-kv, lww-kv and lin-tso\n  \
         workloads   every workload's RPCs and checker\n  \
         lockstep    the protocol of `glomers sim --bin` (virtual time over pipes)\n",
    );
    for name in workloads::NAMES {
        let documented = section(WORKLOADS, name).is_some();
        out.push_str(&format!(
            "  {name:<11} {}\n",
            if documented {
                "its RPCs and checker"
            } else {
                "(not documented yet)"
            }
        ));
    }
    out
}

/// The `## title` section of `page`, heading included, up to the next `## ` heading.
fn section(page: &str, title: &str) -> Option<String> {
    let heading = format!("## {title}\n");
    let start = page.find(&heading)?;
    let rest = &page[start + heading.len()..];
    let end = rest.find("\n## ").map_or(rest.len(), |i| i + 1);
    Some(format!("{heading}{}", &rest[..end]).trim_end().to_string() + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_workload_has_its_rpcs_documented() {
        for name in workloads::NAMES {
            let text = topic(Some(name)).unwrap_or_else(|e| panic!("{e}"));
            assert!(text.contains("\"type\""), "{name}: {text}");
        }
    }

    #[test]
    fn a_section_stops_at_the_next_heading() {
        let broadcast = topic(Some("broadcast")).unwrap();
        assert!(broadcast.starts_with("## broadcast\n"));
        assert!(broadcast.contains("topology_ok"));
        assert!(!broadcast.contains("## g-set"));
        assert!(topic(Some("services")).unwrap().contains("lin-tso"));
        assert!(topic(Some("nope")).is_err());
        assert!(topic(None).unwrap().contains("protocol"));
    }
}
