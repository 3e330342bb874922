//! An assign's reply, `list_committed_offsets_ok {offsets}`: the worker's new positions and
//! the op's ok value. A well-formed reply is read straight from its text
//! ([`Kafka::fast_assign`]); the map's way ([`Kafka::assign_positions`]) takes the rest.
//! Parsing the whole reply into a map cost about 17 000 instructions an assign (a final
//! assign lists hundreds of keys), and each key's committed offset was then looked up in it
//! by name.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{assign_value, Kafka};
use crate::workloads::compact::Compact;
use crate::workloads::reply::ReplyText;
use crate::workloads::{closed_schema, Completion, Invocation, Step};

impl Kafka {
    /// A well-formed assign reply (plain keys and offsets, see [`read_offsets`]), read from
    /// the text: the same outcome as the map's way, which takes everything else (`None`,
    /// nothing changed).
    pub(super) fn fast_assign(
        &mut self,
        w: usize,
        op: &Invocation,
        reply: ReplyText<'_>,
    ) -> Option<Step> {
        let [offsets] = reply.closed("list_committed_offsets_ok", ["offsets"])?;
        let committed = read_offsets(offsets)?;
        let keys = self.set_positions(w, op, |key| {
            let i = committed.binary_search_by(|&(k, _)| k.cmp(key)).ok()?;
            Some(committed[i].1 as i64)
        });
        // Sorted and distinct: the map is built in one pass, without comparing names.
        let committed: Map<String, Value> = committed
            .into_iter()
            .map(|(k, o)| (k.to_string(), Value::from(o)))
            .collect();
        Some(Step::Done(Completion::ok(assign_value(
            keys,
            Value::Object(committed),
        ))))
    }

    /// An assign's reply checked against its schema: sets the worker's positions and returns
    /// the assigned keys (nothing is changed when the reply is malformed).
    pub(super) fn assign_positions(
        &mut self,
        w: usize,
        op: &Invocation,
        reply: &Map<String, Value>,
    ) -> Result<Vec<String>, String> {
        closed_schema(reply, "list_committed_offsets_ok", &["offsets"])?;
        let committed = reply["offsets"]
            .as_object()
            .ok_or("`offsets` must be a map of key to offset")?;
        for offset in committed.values() {
            if !offset.is_i64() {
                return Err(format!("offset {offset} is not an integer"));
            }
        }
        Ok(self.set_positions(w, op, |key| committed.get(key).and_then(Value::as_i64)))
    }

    /// After an ok assign of the op's keys, whose committed offsets `committed` gives: the
    /// worker's new positions (a kept key keeps its position, a new one starts at its
    /// committed offset, else 0; all 0 in the final phase). Returns the assigned keys.
    fn set_positions(
        &mut self,
        w: usize,
        op: &Invocation,
        committed: impl Fn(&str) -> Option<i64>,
    ) -> Vec<String> {
        let keys: Vec<String> = op.value.to_json()["keys"]
            .as_array()
            .map(|ks| {
                ks.iter()
                    .filter_map(|k| k.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let worker = self.worker(w);
        let positions = keys.iter().map(|key| {
            let position = if op.is_final {
                0
            } else {
                worker
                    .positions
                    .get(key)
                    .or_else(|| committed(key))
                    .unwrap_or(0)
            };
            (key.clone(), position)
        });
        // Built at once (the keys come sorted: a final assign has hundreds), the last of
        // equal keys kept as inserting them one by one would.
        let positions: BTreeMap<String, i64> = positions.collect();
        worker.positions.replace(positions);
        keys
    }
}

/// An assign reply's `offsets` read from compact text, `{"key":offset,...}` with keys without
/// escapes and offsets that are plain non-negative integers (see [`Compact`]), sorted by key
/// (a map's order; the node answers in the order asked, which is sorted, so this is one
/// pass). `None` for anything else, a key written twice included (the map's way judges it).
fn read_offsets(text: &[u8]) -> Option<Vec<(&str, u64)>> {
    let mut text = Compact::new(text);
    text.eat(b'{')?;
    let mut offsets = Vec::new();
    if text.eat(b'}').is_none() {
        loop {
            let key = text.plain_str()?;
            text.eat(b':')?;
            offsets.push((key, text.int()?));
            if text.eat(b',').is_none() {
                text.eat(b'}')?;
                break;
            }
        }
    }
    if !text.at_end() {
        return None;
    }
    offsets.sort_by(|a, b| a.0.cmp(b.0));
    offsets
        .windows(2)
        .all(|pair| pair[0].0 != pair[1].0)
        .then_some(offsets)
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};
    use serde_json::json;

    use super::*;
    use crate::workloads::{Workload, WorkloadOptions};

    /// On random replies, plain and not: whenever the text's way answers, it answers as the
    /// map's way does (the same step, the same positions after), and it answers every plain
    /// reply.
    #[test]
    fn an_assign_read_from_text_is_what_the_maps_way_records() {
        let mut rng = crate::Rng::seed_from_u64(17);
        let names = ["1", "2", "10", "7", "a", "a\\\"b", "", "ü"];
        let mut fast_count = 0;
        for round in 0..4_000 {
            let is_final = rng.gen_bool(0.2);
            let mut keys: Vec<&str> = names
                .iter()
                .copied()
                .filter(|_| rng.gen_bool(0.4))
                .collect();
            keys.sort_unstable();
            let value = json!({ "keys": keys });
            let op = if is_final {
                Invocation::final_op("assign", value)
            } else {
                Invocation::new("assign", value)
            };
            // The offsets: plain, or with the things the text's way leaves to the map.
            let mut plain = true;
            let mut members = Vec::new();
            for _ in 0..rng.gen_range(0..6) {
                let name = names[rng.gen_range(0..names.len())];
                plain &= !name.contains('\\');
                let offset = match rng.gen_range(0..12) {
                    0 => {
                        plain = false;
                        "-3".to_string()
                    }
                    1 => {
                        plain = false;
                        "1.5".to_string()
                    }
                    2 => {
                        plain = false;
                        "\"4\"".to_string()
                    }
                    3 => "9223372036854775807".to_string(),
                    _ => rng.gen_range(0..40).to_string(),
                };
                members.push(format!("\"{name}\":{offset}"));
            }
            let names_seen: Vec<&str> = members
                .iter()
                .map(|m| m.split(':').next().unwrap())
                .collect();
            let distinct = names_seen
                .iter()
                .enumerate()
                .all(|(i, n)| !names_seen[..i].contains(n));
            plain &= distinct;
            if rng.gen_bool(0.5) {
                members.sort();
            }
            let sep = if rng.gen_bool(0.05) {
                plain = false;
                ", "
            } else {
                ","
            };
            let offsets = format!("{{{}}}", members.join(sep));
            let reply = match rng.gen_range(0..20) {
                0 => {
                    plain = false;
                    format!(
                        r#"{{"type":"list_committed_offsets_ok","in_reply_to":3,"offsets":{offsets},"x":1}}"#
                    )
                }
                1 => {
                    plain = false;
                    r#"{"type":"list_committed_offsets_ok","in_reply_to":3,"offsets":[1]}"#
                        .to_string()
                }
                _ => format!(
                    r#"{{"type":"list_committed_offsets_ok","in_reply_to":3,"offsets":{offsets}}}"#
                ),
            };
            let text = ReplyText::new(reply.as_bytes());
            let mut fast = Kafka::new(&WorkloadOptions::new(2));
            let mut slow = Kafka::new(&WorkloadOptions::new(2));
            for w in [&mut fast, &mut slow] {
                w.worker(0).positions.raise("2", round % 9);
                w.worker(0).positions.raise("7", 4);
            }
            let expected = slow.on_owned_reply(0, &op, text.to_map());
            match fast.fast_assign(0, &op, text) {
                Some(step) => {
                    fast_count += 1;
                    assert_eq!(step, expected, "{reply}");
                    assert_eq!(
                        fast.workers[0].positions.map(),
                        slow.workers[0].positions.map(),
                        "{reply}"
                    );
                }
                None => assert!(!plain, "a plain reply left to the map: {reply}"),
            }
            // And through the workload's entry point.
            let mut whole = Kafka::new(&WorkloadOptions::new(2));
            whole.worker(0).positions.raise("2", round % 9);
            whole.worker(0).positions.raise("7", 4);
            assert_eq!(whole.on_reply_text(0, &op, text), expected, "{reply}");
        }
        assert!(fast_count > 1_000, "{fast_count}");
    }

    #[test]
    fn offsets_are_read_sorted_and_only_when_plain() {
        assert_eq!(read_offsets(b"{}"), Some(vec![]));
        assert_eq!(
            read_offsets(br#"{"2":5,"10":0,"1":7}"#),
            Some(vec![("1", 7), ("10", 0), ("2", 5)])
        );
        for text in [
            r#"{"1":5,"1":6}"#,
            r#"{"1":-5}"#,
            r#"{"1": 5}"#,
            r#"{"1":5,}"#,
            r#"{"1":5}x"#,
            r#"{"a\"":5}"#,
            r#"{"1":05}"#,
            r#"{"1":5e1}"#,
            r#"{"1":null}"#,
        ] {
            assert_eq!(read_offsets(text.as_bytes()), None, "{text}");
        }
    }
}
