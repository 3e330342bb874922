//! What travels on the simulated network: addresses, bodies and messages, and how a message
//! is written as the line its recipient reads.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};
/// A participant's address. Server nodes are `n0..`, clients `c0..`, services by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Addr {
    Node(u32),
    Client(u32),
    /// Index into [`crate::services::NAMES`].
    Service(u8),
}

impl Addr {
    /// Parses an id as the workbench knows it; `None` for anything that is not a participant
    /// of a test with `node_count` server nodes (clients are checked by the caller).
    pub fn parse(id: &str, node_count: usize) -> Option<Addr> {
        let number = |rest: &str| -> Option<u32> {
            if rest.is_empty() || (rest.len() > 1 && rest.starts_with('0')) {
                return None;
            }
            rest.parse().ok()
        };
        if let Some(rest) = id.strip_prefix('n') {
            return number(rest)
                .filter(|&i| (i as usize) < node_count)
                .map(Addr::Node);
        }
        if let Some(rest) = id.strip_prefix('c') {
            return number(rest).map(Addr::Client);
        }
        crate::services::NAMES
            .iter()
            .position(|name| *name == id)
            .map(|i| Addr::Service(i as u8))
    }

    /// [`Addr::parse`] of an id's bytes: a short path for `n` or `c` and one or two digits,
    /// [`Addr::parse`] itself for anything else; `None` for bytes that are not UTF-8.
    #[inline]
    pub fn parse_bytes(id: &[u8], node_count: usize) -> Option<Addr> {
        let n = match id {
            [b'n' | b'c', d @ b'0'..=b'9'] => Some(u32::from(d - b'0')),
            [b'n' | b'c', d1 @ b'1'..=b'9', d2 @ b'0'..=b'9'] => {
                Some(u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0'))
            }
            _ => None,
        };
        match (n, id.first()) {
            (Some(n), Some(b'n')) => ((n as usize) < node_count).then_some(Addr::Node(n)),
            (Some(n), _) => Some(Addr::Client(n)),
            (None, _) => Addr::parse(std::str::from_utf8(id).ok()?, node_count),
        }
    }

    pub fn is_client(self) -> bool {
        matches!(self, Addr::Client(_))
    }
}

/// Serialized as its id string, formatted straight into the output (no temporary `String`).
impl Serialize for Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Node(i) => write!(f, "n{i}"),
            Addr::Client(i) => write!(f, "c{i}"),
            Addr::Service(i) => f.write_str(crate::services::NAMES[*i as usize]),
        }
    }
}

/// A message's body: parsed, or JSON object text passed on as it is.
///
/// Messages between server nodes are the bulk of the traffic and the workbench never looks
/// inside them, so the wire check keeps them [`Body::Raw`] and the recipient reads the sender's
/// text. A node's body for a client or a service is [`Body::Reply`]: the workbench reads what
/// it needs straight from the text. Requests the workbench writes are [`Body::Raw`] too
/// (written as a map is, keys ascending), or [`Body::Map`].
#[derive(Clone, Debug)]
pub enum Body {
    Map(Map<String, Value>),
    /// The text of a JSON object (validated by the wire check, or written by the workbench),
    /// journaled and delivered as it is.
    Raw(Box<[u8]>),
    /// The text of a JSON object a node sent to a client or a service, validated by the wire
    /// check. `--log-net-*` shows it as a parsed map is written (keys ascending, numbers and
    /// strings in serde_json's form), whatever the node's own layout; the journal keeps the
    /// node's text as it is (see [`Body::write_journal_json`]). With what the wire check
    /// found in it on the way, when it did (its fields and parsed sets, see
    /// [`ReplyText::scanned`](crate::workloads::ReplyText::scanned)).
    Reply(Box<[u8]>, Option<crate::workloads::reply::ScannedBox>),
}

impl Body {
    /// The body as a map, parsing the text if need be.
    pub fn as_map(&self) -> Cow<'_, Map<String, Value>> {
        match self {
            Body::Map(map) => Cow::Borrowed(map),
            Body::Raw(text) | Body::Reply(text, _) => Cow::Owned(parse_raw_object(text)),
        }
    }

    /// The body as a map, parsing the text if need be.
    pub fn into_map(self) -> Map<String, Value> {
        match self {
            Body::Map(map) => map,
            Body::Raw(text) | Body::Reply(text, _) => parse_raw_object(&text),
        }
    }

    /// Appends the body's JSON as `messages.jsonl` keeps it: a text body exactly as it was
    /// sent (one line of JSON the wire check validated, or the workbench wrote), a map as
    /// serde_json writes it. Parsing a reply only to write it again cost more than the rest of
    /// the journal (a broadcast read reply holds every value seen).
    pub fn write_journal_json(&self, out: &mut Vec<u8>) {
        match self {
            Body::Map(map) => serde_json::to_writer(out, map).expect("a map serializes"),
            Body::Raw(text) | Body::Reply(text, _) => out.extend_from_slice(text),
        }
    }

    /// Appends the body's JSON as a node reads it and `--log-net-*` shows it (see
    /// [`Body::Reply`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Body::Map(map) => serde_json::to_writer(out, map).expect("a map serializes"),
            Body::Raw(text) => out.extend_from_slice(text),
            Body::Reply(text, _) => match parse_value(text) {
                Ok(value) => serde_json::to_writer(out, &value).expect("a value serializes"),
                // Not reached: the wire check accepts only what parses as a value.
                Err(_) => out.extend_from_slice(text),
            },
        }
    }
}

/// Parses JSON text as a value (nesting as deep as the wire check accepts).
pub(crate) fn parse_value(text: &[u8]) -> serde_json::Result<Value> {
    let mut de = serde_json::Deserializer::from_slice(text);
    // The wire check accepts nesting deeper than serde_json's default.
    de.disable_recursion_limit();
    let value = serde::Deserialize::deserialize(&mut de)?;
    de.end().map(|()| value)
}

/// A body's text is a JSON object the wire check validated (or the workbench wrote), so this
/// parse does not fail (an empty map if it ever did, rather than a panic).
fn parse_raw_object(text: &[u8]) -> Map<String, Value> {
    match parse_value(text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

impl From<Map<String, Value>> for Body {
    fn from(map: Map<String, Value>) -> Body {
        Body::Map(map)
    }
}

/// Appends the decimal digits of `n` (what serde_json writes for an integer).
pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends an address as a JSON string (ids never need escaping).
#[inline]
pub(super) fn push_addr(out: &mut Vec<u8>, addr: Addr) {
    let (kind, i) = match addr {
        Addr::Node(i) => (b'n', i),
        Addr::Client(i) => (b'c', i),
        Addr::Service(i) => {
            out.push(b'"');
            out.extend_from_slice(crate::services::NAMES[i as usize].as_bytes());
            out.push(b'"');
            return;
        }
    };
    // Ids are mostly one or two digits: written in one go.
    let digit = |d: u32| b'0' + d as u8;
    match i {
        0..=9 => out.extend_from_slice(&[b'"', kind, digit(i), b'"']),
        10..=99 => out.extend_from_slice(&[b'"', kind, digit(i / 10), digit(i % 10), b'"']),
        _ => {
            out.extend_from_slice(&[b'"', kind]);
            push_u64(out, i.into());
            out.push(b'"');
        }
    }
}

/// A message in flight.
#[derive(Clone, Debug)]
pub struct Message {
    pub id: u64,
    pub src: Addr,
    pub dest: Addr,
    pub body: Body,
}

impl Message {
    /// The line a node reads on stdin (Maelstrom adds the top-level `id`):
    /// `{"id":..,"src":..,"dest":..,"body":..}`, written as serde_json writes that struct.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = Vec::new();
        self.write_line(&mut line);
        line
    }

    /// Appends [`Message::to_line`]'s line to `line`.
    ///
    /// A text body (nearly every message) takes one reserve for the whole line, then its
    /// pieces, the addresses written in place ([`Message::write_line_simply`], the reference,
    /// calls a writer for each and reserves for each piece).
    #[inline]
    pub fn write_line(&self, line: &mut Vec<u8>) {
        let body: &[u8] = match &self.body {
            Body::Raw(text) => text,
            _ => return self.write_line_simply(line),
        };
        line.reserve(HEAD_ROOM + body.len());
        line.extend_from_slice(b"{\"id\":");
        line.extend_from_slice(itoa::Buffer::new().format(self.id).as_bytes());
        line.extend_from_slice(b",\"src\":");
        push_addr_inline(line, self.src);
        line.extend_from_slice(b",\"dest\":");
        push_addr_inline(line, self.dest);
        line.extend_from_slice(b",\"body\":");
        line.extend_from_slice(body);
        line.push(b'}');
    }

    /// The plain writer, piece by piece: [`Message::write_line`]'s reference.
    fn write_line_simply(&self, line: &mut Vec<u8>) {
        line.reserve(64 + self.body_len_hint());
        line.extend_from_slice(b"{\"id\":");
        push_u64(line, self.id);
        line.extend_from_slice(b",\"src\":");
        push_addr(line, self.src);
        line.extend_from_slice(b",\"dest\":");
        push_addr(line, self.dest);
        line.extend_from_slice(b",\"body\":");
        match &self.body {
            Body::Raw(text) => line.extend_from_slice(text),
            body => body.write_json(line),
        }
        line.push(b'}');
    }

    fn body_len_hint(&self) -> usize {
        match &self.body {
            Body::Map(_) => 64,
            Body::Raw(text) | Body::Reply(text, _) => text.len(),
        }
    }
}

/// Room for a message's envelope and closing brace beside its body (see
/// [`Message::write_line`]): 27 bytes of keys and braces, up to 20 digits of id and two
/// addresses (a service name is a few bytes; a longer line only reserves again).
const HEAD_ROOM: usize = 96;

/// [`push_addr`], always inlined (its one or two digits then cost a few stores).
#[inline(always)]
fn push_addr_inline(out: &mut Vec<u8>, addr: Addr) {
    let (kind, i) = match addr {
        Addr::Node(i) => (b'n', i),
        Addr::Client(i) => (b'c', i),
        Addr::Service(_) => return push_addr(out, addr),
    };
    let digit = |d: u32| b'0' + d as u8;
    match i {
        0..=9 => out.extend_from_slice(&[b'"', kind, digit(i), b'"']),
        10..=99 => out.extend_from_slice(&[b'"', kind, digit(i / 10), digit(i % 10), b'"']),
        _ => push_addr(out, addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The line of the fast writer is the plain writer's, for ids and addresses of every
    /// length (services included) and bodies of every kind.
    #[test]
    fn lines_are_written_as_the_plain_writer_writes_them() {
        let mut rng = crate::Rng::seed_from_u64(3);
        let addr = |rng: &mut crate::Rng| {
            let n = match rng.gen_range(0..4) {
                0 => rng.gen_range(0..10),
                1 => rng.gen_range(10..100),
                2 => rng.gen_range(100..100_000),
                _ => rng.gen(),
            };
            match rng.gen_range(0..3) {
                0 => Addr::Node(n),
                1 => Addr::Client(n),
                _ => Addr::Service(rng.gen_range(0..crate::services::NAMES.len() as u8)),
            }
        };
        for k in 0..5000 {
            let id = match k % 3 {
                0 => rng.gen_range(0..1000),
                1 => rng.gen(),
                _ => u64::MAX - rng.gen_range(0..3),
            };
            let text = format!("{{\"type\":\"t{}\"}}", rng.gen::<u32>());
            let body = match k % 4 {
                0 => Body::Map(serde_json::from_str(&text).unwrap()),
                1 => Body::Reply(text.as_bytes().into(), None),
                _ => Body::Raw(text.as_bytes().into()),
            };
            let message = Message {
                id,
                src: addr(&mut rng),
                dest: addr(&mut rng),
                body,
            };
            // Appended after what the buffer holds.
            let mut fast = b"old".to_vec();
            message.write_line(&mut fast);
            let mut simple = b"old".to_vec();
            message.write_line_simply(&mut simple);
            assert_eq!(fast, simple);
            let value: Value = serde_json::from_slice(&fast[3..]).unwrap();
            assert_eq!(value["id"], id);
            assert_eq!(value["src"], message.src.to_string());
            assert_eq!(value["dest"], message.dest.to_string());
        }
    }
}
