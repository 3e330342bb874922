//! Pieces of the carrier tables' rows, kept once written.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use super::super::html::push_escaped;
use super::JournalMessage;
use crate::history::SmallKeyHasher;

/// A carrier row's escaped `src → dest</td><td>type`, by the addresses of the message's
/// shared names (a run's messages share a few hundred such triples; the trails list
/// thousands of rows).
#[derive(Default)]
pub(super) struct RowNames {
    by_names: HashMap<(usize, usize, usize), String, BuildHasherDefault<SmallKeyHasher>>,
}

impl RowNames {
    pub(super) fn of(&mut self, m: &JournalMessage) -> &str {
        let address = |name: &Arc<str>| Arc::as_ptr(name).cast::<u8>() as usize;
        let key = (address(&m.src), address(&m.dest), address(&m.kind));
        self.by_names.entry(key).or_insert_with(|| {
            let mut text = String::new();
            push_escaped(&mut text, &m.src);
            text.push_str(" → ");
            push_escaped(&mut text, &m.dest);
            text.push_str("</td><td>");
            push_escaped(&mut text, m.kind());
            text
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report_html::stored::Fate;

    /// A row's names are their escaped texts, whichever names were asked for before.
    #[test]
    fn row_names_are_the_escaped_names() {
        let names: Vec<Arc<str>> = ["n1", "n2", "c<3>", "gossip", "a&b\"'", "n1"]
            .into_iter()
            .map(Arc::from)
            .collect();
        let mut rows = RowNames::default();
        for round in 0..2 {
            for src in &names {
                for dest in &names {
                    for kind in &names {
                        let m = JournalMessage {
                            id: 0,
                            src: src.clone(),
                            dest: dest.clone(),
                            sent: 0,
                            kind: kind.clone(),
                            body: "{}".into(),
                            fate: Fate::InFlight,
                        };
                        let mut direct = String::new();
                        push_escaped(&mut direct, src);
                        direct.push_str(" → ");
                        push_escaped(&mut direct, dest);
                        direct.push_str("</td><td>");
                        push_escaped(&mut direct, kind);
                        assert_eq!(rows.of(&m), direct, "round {round}");
                    }
                }
            }
        }
    }
}
