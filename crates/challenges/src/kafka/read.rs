//! The kafka node's requests read by hand ([`glomers_node::Node::read_request`]): one walk over
//! the body with [`BodyReader`], several times cheaper than serde's derived deserializers.
//! Anything unusual (an escaped key, a float offset, a duplicate field) is left to serde,
//! which reads it as [`Request`]'s derive says or answers with the error.

use std::borrow::Cow;

use glomers_node::{BodyReader, FieldSet};

use glomers_node::plain_i64;

use super::wire::{EntryIn, KeyOffsets, Name, SyncIn};
use super::Request;

/// Reads a request body of type `ty`; `None` leaves it to serde.
pub fn read<'a>(ty: &str, r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    let request = match ty {
        "send" => read_send(r)?,
        "poll" => Request::Poll {
            offsets: read_offsets_field(r)?,
        },
        "commit_offsets" => Request::CommitOffsets {
            offsets: read_offsets_field(r)?,
        },
        "list_committed_offsets" => read_list_committed(r)?,
        "sync" => Request::Sync(read_sync(r)?),
        _ => return None,
    };
    r.end()?;
    Some(request)
}

fn name<'a>(r: &mut BodyReader<'a>) -> Option<Name<'a>> {
    r.str().map(|s| Name(Cow::Borrowed(s)))
}

fn read_send<'a>(r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    let (mut key, mut msg) = (None, None);
    r.object()?;
    while let Some(field) = r.key()? {
        match field {
            "key" if key.is_none() => key = Some(name(r)?),
            "msg" if msg.is_none() => msg = Some(r.value()?),
            "key" | "msg" => return None,
            _ => r.skip()?,
        }
    }
    Some(Request::Send {
        key: key?,
        msg: msg?,
    })
}

/// A body whose one field that matters is `offsets`.
fn read_offsets_field<'a>(r: &mut BodyReader<'a>) -> Option<KeyOffsets<'a>> {
    let mut offsets = None;
    r.object()?;
    while let Some(field) = r.key()? {
        match field {
            "offsets" if offsets.is_none() => offsets = Some(offsets_object(r)?),
            "offsets" => return None,
            _ => r.skip()?,
        }
    }
    offsets
}

/// `{"k1": 3, "k2": 0}`, in the order the message lists them (repeated keys included, as
/// [`KeyOffsets`] reads them). Written compactly as the clients write it, read in one pass
/// over the bytes ([`compact_offsets`]); in any other form, field by field.
fn offsets_object<'a>(r: &mut BodyReader<'a>) -> Option<KeyOffsets<'a>> {
    if let Some((offsets, used)) = compact_offsets(r.rest()) {
        r.advance(used);
        return Some(offsets);
    }
    let mut list = Vec::new();
    r.object()?;
    while let Some(key) = r.key()? {
        list.push((Name(Cow::Borrowed(key)), r.i64()?));
    }
    Some(KeyOffsets(list))
}

/// `{"k1":3,"k2":-1}` without whitespace at the start of `text`, keys without escapes or
/// control characters, each offset as [`BodyReader::i64`] takes it, and how many bytes it
/// takes; `None` for anything else. (Valid JSON by construction: nothing to validate.)
fn compact_offsets(text: &str) -> Option<(KeyOffsets<'_>, usize)> {
    let b = text.as_bytes();
    if b.starts_with(b"{}") {
        return Some((KeyOffsets(Vec::new()), 2));
    }
    if b.first() != Some(&b'{') {
        return None;
    }
    // Room for the usual handful of keys at once (growing from empty costs more than the
    // allocation itself).
    let mut list = Vec::with_capacity(8);
    let mut i = 1;
    loop {
        // At the key's opening quote.
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let start = i + 1;
        // One pass: the first quote, backslash or control character must be the closing quote.
        let len = b[start..]
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        if b[start + len] != b'"' || b.get(start + len + 1) != Some(&b':') {
            return None;
        }
        let (offset, used) = plain_i64(&b[start + len + 2..])?;
        // Quotes and ASCII around it: a boundary of the text's characters.
        list.push((Name(Cow::Borrowed(&text[start..start + len])), offset));
        i = start + len + 2 + used;
        match b.get(i)? {
            b',' => i += 1,
            b'}' => return Some((KeyOffsets(list), i + 1)),
            _ => return None,
        }
    }
}

fn read_list_committed<'a>(r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    let mut keys = None;
    r.object()?;
    while let Some(field) = r.key()? {
        match field {
            "keys" if keys.is_none() => {
                let mut list = Vec::new();
                r.array()?;
                while r.more()? {
                    list.push(name(r)?);
                }
                keys = Some(list);
            }
            "keys" => return None,
            _ => r.skip()?,
        }
    }
    Some(Request::ListCommittedOffsets { keys: keys? })
}

fn read_sync<'a>(r: &mut BodyReader<'a>) -> Option<SyncIn<'a>> {
    let mut sync = SyncIn::default();
    let mut seen = FieldSet::default();
    r.object()?;
    while let Some(field) = r.key()? {
        match field {
            "ack" if seen.first(0) => sync.ack = r.u64()?,
            "from" if seen.first(1) => sync.from = r.u64()?,
            "entries" if seen.first(2) => {
                r.array()?;
                while r.more()? {
                    push_roomy(&mut sync.entries, entry(r)?);
                }
            }
            "forwards" if seen.first(3) => {
                r.array()?;
                while r.more()? {
                    r.array()?;
                    let id = r.more()?.then(|| r.u64())??;
                    let key = r.more()?.then(|| name(r))??;
                    let msg = r.more()?.then(|| r.value())??;
                    (!r.more()?).then_some(())?;
                    push_roomy(&mut sync.forwards, (id, key, msg));
                }
            }
            "commits" if seen.first(4) => sync.commits = offsets_object(r)?,
            "commit_seq" if seen.first(5) => sync.commit_seq = r.u64()?,
            "commit_ack" if seen.first(6) => sync.commit_ack = r.u64()?,
            "ack" | "from" | "entries" | "forwards" | "commits" | "commit_seq" | "commit_ack" => {
                return None
            }
            _ => r.skip()?,
        }
    }
    // `ack` is the one field without a default.
    seen.has(0).then_some(sync)
}

/// Pushes `item`, making room for four at the first (cheaper than growing from empty).
fn push_roomy<T>(list: &mut Vec<T>, item: T) {
    if list.capacity() == 0 {
        *list = Vec::with_capacity(4);
    }
    list.push(item);
}

/// `[key, offset, msg, [origin, forward id] or null]`.
fn entry<'a>(r: &mut BodyReader<'a>) -> Option<EntryIn<'a>> {
    r.array()?;
    let key = r.more()?.then(|| name(r))??;
    let offset = r.more()?.then(|| r.u64())??;
    let msg = r.more()?.then(|| r.value())??;
    r.more()?.then_some(())?;
    let forward = if r.null()? {
        None
    } else {
        r.array()?;
        let origin = r.more()?.then(|| name(r))??;
        let id = r.more()?.then(|| r.u64())??;
        (!r.more()?).then_some(())?;
        Some((origin, id))
    };
    (!r.more()?).then_some((key, offset, msg, forward))
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::{assert_left_to_serde, assert_reads_as_serde};

    #[test]
    fn plain_bodies_read_as_serde_reads_them() {
        for (ty, body) in [
            ("send", r#"{"type":"send","key":"k1","msg":12,"msg_id":4}"#),
            ("send", r#"{"key":"k1","msg":{"a":[1.5,"\n"]}}"#),
            ("send", r#"{"msg":-3,"key":"k"}"#),
            (
                "poll",
                r#"{"type":"poll","offsets":{"k1":0,"k2":17,"k1":-1},"msg_id":1}"#,
            ),
            ("poll", r#"{"offsets":{}}"#),
            ("commit_offsets", r#"{"offsets":{"9":6}, "x": [null]}"#),
            (
                "list_committed_offsets",
                r#"{"keys":["9","10"],"msg_id":8}"#,
            ),
            ("list_committed_offsets", r#"{"keys":[]}"#),
            ("sync", r#"{"type":"sync","ack":3}"#),
            (
                "sync",
                r#"{"type":"sync","ack":3,"from":7,"entries":[["k",0,5,null],["j",2,"x",["n1",4]]],"forwards":[[9,"k",6]],"commits":{"k":2},"commit_seq":5,"commit_ack":4}"#,
            ),
        ] {
            assert_reads_as_serde(read, ty, body);
        }
    }

    #[test]
    fn bodies_serde_refuses_or_reads_differently_are_left_to_it() {
        for (ty, body) in [
            // Refused by serde too.
            ("send", r#"{"key":"k1"}"#),
            ("send", r#"{"key":1,"msg":1}"#),
            ("send", r#"{"key":"a","key":"b","msg":1}"#),
            ("poll", r#"{"offsets":{"k":1.5}}"#),
            ("poll", r#"{"offsets":{"k":9223372036854775808}}"#),
            ("poll", r#"{"offsets":[]}"#),
            ("poll", r#"{"offsets":{},"offsets":{}}"#),
            ("commit_offsets", r#"{}"#),
            ("list_committed_offsets", r#"{"keys":[1]}"#),
            ("sync", r#"{"from":1}"#),
            ("sync", r#"{"ack":1,"ack":2}"#),
            ("sync", r#"{"ack":-1}"#),
            ("sync", r#"{"ack":1,"entries":[["k",0,5]]}"#),
            ("sync", r#"{"ack":1,"entries":[["k",0,5,["n1"]]]}"#),
            ("sync", r#"{"ack":1,"forwards":[[1,"k",2,3]]}"#),
            ("other", r#"{"ack":1}"#),
            // Read by serde, but not the plain shape.
            ("send", r#"{"key":"k\"1","msg":1}"#),
            ("poll", r#"{"offsets":{"k\u0031":1}}"#),
        ] {
            let by_serde = assert_left_to_serde(read, ty, body);
            if !body.contains('\\') {
                assert_eq!(by_serde, None, "{body}");
            }
        }
        assert!(
            glomers_node::parse_request::<Request>("send", r#"{"key":"k\"1","msg":1}"#).is_ok()
        );
    }

    /// The one-pass reader of compact offsets reads what serde reads, and leaves alone
    /// (`None`) what serde refuses: on random objects written compactly or with spaces, and
    /// on those texts with a byte changed.
    #[test]
    fn compact_offsets_read_as_serde_reads_them() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let edges = [0, -1, 1, i64::MIN, i64::MAX, 9, 10, -10];
        let names = ["0", "17", "k", "", "é", "a b", "x\\\"y"];
        let bytes = b"{}\":,\\-0123456789 x.e";
        for _ in 0..5000 {
            let list: Vec<(String, i64)> = (0..rng.gen_range(0..5))
                .map(|_| {
                    let name = names[rng.gen_range(0..names.len())].to_string();
                    let offset = match rng.gen_range(0..3) {
                        0 => edges[rng.gen_range(0..edges.len())],
                        1 => rng.gen_range(-1000..1000),
                        _ => rng.gen(),
                    };
                    (name, offset)
                })
                .collect();
            let text = format!(
                "{{{}}}",
                list.iter()
                    .map(|(k, o)| format!("{}:{o}", serde_json::to_string(k).unwrap()))
                    .collect::<Vec<_>>()
                    .join(",")
            );
            let plain = !text.contains('\\');
            if plain {
                let (read, used) = compact_offsets(&text).expect(&text);
                assert_eq!(used, text.len());
                let read: Vec<(String, i64)> =
                    read.0.iter().map(|(k, o)| (k.to_string(), *o)).collect();
                assert_eq!(read, list, "{text}");
            }
            for body in [
                format!(r#"{{"type":"poll","offsets":{text},"msg_id":1}}"#),
                format!(r#"{{"offsets": {}}}"#, text.replace(',', " , ")),
            ] {
                if plain {
                    assert_reads_as_serde(read, "poll", &body);
                } else {
                    assert_left_to_serde(read, "poll", &body);
                }
            }
            let mut changed = text.clone().into_bytes();
            for _ in 0..rng.gen_range(1..3) {
                let i = rng.gen_range(0..changed.len());
                changed[i] = bytes[rng.gen_range(0..bytes.len())];
            }
            let Ok(changed) = String::from_utf8(changed) else {
                continue;
            };
            if let Some((offsets, used)) = compact_offsets(&changed) {
                let by_serde = serde_json::from_str(&changed[..used]).ok();
                assert_eq!(Some(offsets), by_serde, "{changed}");
            }
            let body = format!(r#"{{"offsets":{changed}}}"#);
            if read("commit_offsets", &mut BodyReader::new(&body)).is_some() {
                assert_reads_as_serde(read, "commit_offsets", &body);
            }
        }
        assert_eq!(compact_offsets("{}}").map(|(_, used)| used), Some(2));
        for text in [
            "{",
            r#"{"a":1"#,
            r#"{"a":01}"#,
            r#"{"a":-0}"#,
            r#"{"a":1,}"#,
        ] {
            assert_eq!(compact_offsets(text), None, "{text}");
        }
    }
}
