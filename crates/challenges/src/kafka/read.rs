//! The kafka node's requests read by hand ([`glomers_node::Node::read_request`]): one walk over
//! the body with [`BodyReader`], several times cheaper than serde's derived deserializers.
//! Anything unusual (an escaped key, a float offset, a duplicate field) is left to serde,
//! which reads it as [`Request`]'s derive says or answers with the error.
//!
//! Each reader first takes the fields in the order their writers use (the clients write
//! them sorted, `{"msg_id":1,"offsets":{..},"type":"poll"}`; a sync has its `type` first,
//! then its fields as [`super::wire::SyncOut`] writes them), each found by
//! [`BodyReader::key_is`], a literal comparison; then the general loop takes whatever is
//! left, in any order, exactly as it would have taken those fields (a duplicate of one taken
//! first is refused there).

use std::borrow::Cow;

use glomers_node::{BodyReader, FieldSet};

use crate::decimal::plain_i64;
use serde_json::Value;

use super::wire::{EntryIn, ForwardIn, KeyOffsets, Name, SyncIn};
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

/// The clients' `msg_id` and `type` after their fields, when they come in that order.
#[inline]
fn skip_header(r: &mut BodyReader<'_>) -> Option<()> {
    if r.key_is("msg_id") {
        r.skip()?;
    }
    if r.key_is("type") {
        r.skip()?;
    }
    Some(())
}

fn name<'a>(r: &mut BodyReader<'a>) -> Option<Name<'a>> {
    r.str().map(|s| Name(Cow::Borrowed(s)))
}

fn read_send<'a>(r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    let (mut key, mut msg) = (None, None);
    r.object()?;
    if r.key_is("key") {
        key = Some(name(r)?);
    }
    if r.key_is("msg") {
        msg = Some(r.value()?);
    }
    skip_header(r)?;
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
    if r.key_is("msg_id") {
        r.skip()?;
    }
    if r.key_is("offsets") {
        offsets = Some(offsets_object(r)?);
    }
    if r.key_is("type") {
        r.skip()?;
    }
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
    if r.key_is("keys") {
        keys = Some(names(r)?);
    }
    skip_header(r)?;
    while let Some(field) = r.key()? {
        match field {
            "keys" if keys.is_none() => keys = Some(names(r)?),
            "keys" => return None,
            _ => r.skip()?,
        }
    }
    Some(Request::ListCommittedOffsets { keys: keys? })
}

fn names<'a>(r: &mut BodyReader<'a>) -> Option<Vec<Name<'a>>> {
    let mut list = Vec::new();
    r.array()?;
    while r.more()? {
        list.push(name(r)?);
    }
    Some(list)
}

/// A sync's fields, numbered for [`FieldSet`], in the order [`super::wire::SyncOut`] writes
/// them.
const SYNC_FIELDS: [&str; 7] = [
    "ack",
    "from",
    "entries",
    "forwards",
    "commits",
    "commit_seq",
    "commit_ack",
];

fn read_sync<'a>(r: &mut BodyReader<'a>) -> Option<SyncIn<'a>> {
    let mut sync = SyncIn::default();
    let mut seen = FieldSet::default();
    r.object()?;
    if r.key_is("type") {
        r.skip()?;
    }
    // Unrolled (literal keys: `key_is` is then a few comparisons of constants).
    macro_rules! in_order {
        ($($n:literal)*) => {$(
            if r.key_is(SYNC_FIELDS[$n]) {
                seen.first($n);
                sync_field(r, &mut sync, $n)?;
            }
        )*};
    }
    in_order!(0 1 2 3 4 5 6);
    while let Some(field) = r.key()? {
        match SYNC_FIELDS.iter().position(|f| *f == field) {
            Some(n) if seen.first(n as u32) => sync_field(r, &mut sync, n)?,
            Some(_) => return None,
            None => r.skip()?,
        }
    }
    // `ack` is the one field without a default.
    seen.has(0).then_some(sync)
}

/// Reads the value of the sync field numbered `n` in [`SYNC_FIELDS`].
#[inline(always)]
fn sync_field<'a>(r: &mut BodyReader<'a>, sync: &mut SyncIn<'a>, n: usize) -> Option<()> {
    match n {
        0 => sync.ack = r.u64()?,
        1 => sync.from = r.u64()?,
        2 => list(r, &mut sync.entries, compact_entry, entry)?,
        3 => list(r, &mut sync.forwards, compact_forward, forward)?,
        4 => sync.commits = offsets_object(r)?,
        5 => sync.commit_seq = r.u64()?,
        _ => sync.commit_ack = r.u64()?,
    }
    Some(())
}

/// Reads an array into `items`: each element in one pass by `compact` when written compactly,
/// else by the general `general` reader.
#[inline(always)]
fn list<'a, T>(
    r: &mut BodyReader<'a>,
    items: &mut Vec<T>,
    compact: fn(&'a str) -> Option<(T, usize)>,
    general: fn(&mut BodyReader<'a>) -> Option<T>,
) -> Option<()> {
    r.array()?;
    while r.more()? {
        let item = match compact(r.rest()) {
            Some((item, used)) => {
                r.advance(used);
                item
            }
            None => general(r)?,
        };
        push_roomy(items, item);
    }
    Some(())
}

/// Pushes `item`, making room for four at the first (cheaper than growing from empty).
#[inline]
fn push_roomy<T>(list: &mut Vec<T>, item: T) {
    if list.capacity() == 0 {
        *list = Vec::with_capacity(4);
    }
    list.push(item);
}

/// `[forward id, key, msg]`.
fn forward<'a>(r: &mut BodyReader<'a>) -> Option<ForwardIn<'a>> {
    r.array()?;
    let id = r.more()?.then(|| r.u64())??;
    let key = r.more()?.then(|| name(r))??;
    let msg = r.more()?.then(|| r.value())??;
    (!r.more()?).then_some((id, key, msg))
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

/// A cursor over JSON text written compactly, as the nodes write their syncs: the entries'
/// and forwards' one-pass readers ([`compact_entry`], [`compact_forward`]). Strings without
/// escapes or control characters, integers as [`plain_i64`] takes them; anything else is
/// `None`, and the caller takes the general path.
struct Compact<'a> {
    text: &'a str,
    i: usize,
}

impl<'a> Compact<'a> {
    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.text.as_bytes().get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    #[inline]
    fn name(&mut self) -> Option<Name<'a>> {
        self.eat(b'"')?;
        let start = self.i;
        let b = &self.text.as_bytes()[start..];
        // The first quote, backslash or control character must be the closing quote.
        let len = b
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        (b[len] == b'"').then_some(())?;
        self.i = start + len + 1;
        // Quotes around it: a boundary of the text's characters.
        Some(Name(Cow::Borrowed(self.text.get(start..start + len)?)))
    }

    #[inline]
    fn i64(&mut self) -> Option<i64> {
        let (n, used) = plain_i64(&self.text.as_bytes()[self.i..])?;
        self.i += used;
        Some(n)
    }

    /// A non-negative integer (up to `i64::MAX`: larger ones by the general path).
    #[inline]
    fn u64(&mut self) -> Option<u64> {
        u64::try_from(self.i64()?).ok()
    }

    /// A message that is an integer, as [`BodyReader::value`] makes it.
    #[inline]
    fn msg(&mut self) -> Option<Value> {
        let n = self.i64()?;
        Some(match u64::try_from(n) {
            Ok(n) => Value::from(n),
            Err(_) => Value::from(n),
        })
    }
}

/// An entry, `["k",3,17,null]` or `["k",3,17,["n1",4]]`, written compactly at the start of
/// `text` with an integer message, and how many bytes it takes; `None` for anything else.
/// (Valid JSON by construction: every byte is checked.)
fn compact_entry(text: &str) -> Option<(EntryIn<'_>, usize)> {
    let mut c = Compact { text, i: 0 };
    c.eat(b'[')?;
    let key = c.name()?;
    c.eat(b',')?;
    let offset = c.u64()?;
    c.eat(b',')?;
    let msg = c.msg()?;
    c.eat(b',')?;
    let forward = if text.as_bytes()[c.i..].starts_with(b"null") {
        c.i += 4;
        None
    } else {
        c.eat(b'[')?;
        let origin = c.name()?;
        c.eat(b',')?;
        let id = c.u64()?;
        c.eat(b']')?;
        Some((origin, id))
    };
    c.eat(b']')?;
    Some(((key, offset, msg, forward), c.i))
}

/// A forward, `[4,"k",17]`, written compactly at the start of `text` with an integer
/// message, and how many bytes it takes; `None` for anything else.
fn compact_forward(text: &str) -> Option<(ForwardIn<'_>, usize)> {
    let mut c = Compact { text, i: 0 };
    c.eat(b'[')?;
    let id = c.u64()?;
    c.eat(b',')?;
    let key = c.name()?;
    c.eat(b',')?;
    let msg = c.msg()?;
    c.eat(b']')?;
    Some(((id, key, msg), c.i))
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

    /// Checks a one-pass reader's result on `text` against the general reader's and serde's
    /// on the bytes it took; whether it took any.
    fn same_as_general<'a, T>(
        compact: fn(&'a str) -> Option<(T, usize)>,
        general: fn(&mut BodyReader<'a>) -> Option<T>,
        text: &'a str,
    ) -> bool
    where
        T: PartialEq + std::fmt::Debug + serde::Deserialize<'a>,
    {
        let Some((fast, used)) = compact(text) else {
            return false;
        };
        let taken = &text[..used];
        let mut r = BodyReader::new(taken);
        assert_eq!(general(&mut r).as_ref(), Some(&fast), "{text}");
        assert!(r.end().is_some(), "{text}");
        let by_serde: Option<T> = serde_json::from_str(taken).ok();
        assert_eq!(by_serde.as_ref(), Some(&fast), "{text}");
        true
    }

    /// The one-pass readers of a sync's entries and forwards read what the general reader
    /// and serde read, take every plain one, and leave alone what they do not take: on
    /// random entries and forwards, in sync bodies, and with a byte or two changed.
    #[test]
    fn compact_entries_and_forwards_read_as_the_general_reader_reads_them() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(11);
        // (text, plain for a name)
        let names = [
            ("0", true),
            ("17", true),
            ("k", true),
            ("", true),
            ("é", true),
            ("a b", true),
            ("n1", true),
            ("x\\\"y", false),
            ("\\u0031", false),
        ];
        // (text, plain i64, plain non-negative i64)
        let ints = [
            ("0", true, true),
            ("42", true, true),
            ("-1", true, false),
            ("9223372036854775807", true, true),
            ("-9223372036854775808", true, false),
            ("9223372036854775808", false, false),
            ("18446744073709551615", false, false),
            ("-0", false, false),
            ("01", false, false),
            ("1.5", false, false),
            ("1e3", false, false),
        ];
        let others = ["\"s\"", "null", "[1]", "{\"a\":1}", "true"];
        let bytes = b"[]\",:\\-0123456789 nul.e";
        let (mut taken, mut plain_total) = (0, 0);
        for _ in 0..20_000 {
            let mut plain = true;
            let name = |rng: &mut glomers_node::rand_chacha::ChaCha8Rng, plain: &mut bool| {
                let (n, p) = names[rng.gen_range(0..names.len())];
                *plain &= p;
                format!("\"{n}\"")
            };
            let int = |rng: &mut glomers_node::rand_chacha::ChaCha8Rng,
                       plain: &mut bool,
                       unsigned: bool| {
                let (n, signed, non_negative) = ints[rng.gen_range(0..ints.len())];
                *plain &= if unsigned { non_negative } else { signed };
                n.to_string()
            };
            let is_entry = rng.gen_bool(0.5);
            let text = if is_entry {
                let key = name(&mut rng, &mut plain);
                let offset = int(&mut rng, &mut plain, true);
                let msg = match rng.gen_bool(0.8) {
                    true => int(&mut rng, &mut plain, false),
                    false => {
                        plain = false;
                        others[rng.gen_range(0..others.len())].to_string()
                    }
                };
                let forward = match rng.gen_bool(0.5) {
                    true => "null".to_string(),
                    false => {
                        let origin = name(&mut rng, &mut plain);
                        format!("[{origin},{}]", int(&mut rng, &mut plain, true))
                    }
                };
                format!("[{key},{offset},{msg},{forward}]")
            } else {
                let id = int(&mut rng, &mut plain, true);
                let key = name(&mut rng, &mut plain);
                let msg = int(&mut rng, &mut plain, false);
                format!("[{id},{key},{msg}]")
            };
            let check = |text: &str| match is_entry {
                true => same_as_general(compact_entry, entry, text),
                false => same_as_general(compact_forward, forward, text),
            };
            let took = check(&format!("{text},[]"));
            if plain {
                plain_total += 1;
                assert!(took, "{text}");
                let used = match is_entry {
                    true => compact_entry(&text).unwrap().1,
                    false => compact_forward(&text).unwrap().1,
                };
                assert_eq!(used, text.len());
            }
            taken += usize::from(took);
            let field = if is_entry { "entries" } else { "forwards" };
            let body = format!(r#"{{"type":"sync","ack":1,"{field}":[{text},{text}]}}"#);
            if read("sync", &mut BodyReader::new(&body)).is_some() {
                assert_reads_as_serde(read, "sync", &body);
            }
            let mut changed = text.clone().into_bytes();
            for _ in 0..rng.gen_range(1..3) {
                let i = rng.gen_range(0..changed.len());
                changed[i] = bytes[rng.gen_range(0..bytes.len())];
            }
            let Ok(changed) = String::from_utf8(changed) else {
                continue;
            };
            check(&changed);
            let body = format!(r#"{{"type":"sync","ack":1,"{field}":[{changed}]}}"#);
            if read("sync", &mut BodyReader::new(&body)).is_some() {
                assert_reads_as_serde(read, "sync", &body);
            }
        }
        assert!(
            taken >= plain_total && plain_total > 1000,
            "{taken} {plain_total}"
        );
    }
}
