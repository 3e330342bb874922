//! The network's journal (`messages.jsonl`): the trait a journal implements, and the writer of
//! each event's line head.

use std::io::Write;

use super::message::push_addr;
use super::{Addr, Message};
use crate::history::Nanos;
use glomers_node::put_u64;

/// Where the network journals its sends, deliveries and drops (`messages.jsonl`). Each event
/// comes as the pieces of its line and as its parts, so that a journal that also keeps the
/// messages (the store's, for the report) need not read its own lines back, and writes the
/// body's text once, where it keeps it.
pub trait Journal {
    /// One event: its line as `messages.jsonl` keeps it is [`JournalEvent::write_line`]'s.
    fn event(&mut self, event: &JournalEvent<'_>);
    fn flush(&mut self) -> std::io::Result<()>;
}

/// One journal event's parts, borrowed from its line's pieces.
pub struct JournalEvent<'a> {
    pub time: Nanos,
    /// `send`, `recv` or `drop`.
    pub kind: &'a str,
    /// The message's id.
    pub id: u64,
    /// The addresses' texts (without quotes).
    pub src: &'a [u8],
    pub dest: &'a [u8],
    /// The addresses themselves.
    pub src_addr: Addr,
    pub dest_addr: Addr,
    /// The body's JSON text (sends only).
    pub body: Option<&'a [u8]>,
    /// The line up to the body: `{"time":..,"type":..,"id":..,"src":..,"dest":..` (ASCII).
    pub head: &'a [u8],
}

/// What comes between a line's head and its body.
pub const BODY_KEY: &[u8] = b",\"body\":";

impl JournalEvent<'_> {
    /// The length of [`JournalEvent::write_line`]'s line.
    pub fn line_len(&self) -> usize {
        self.head.len() + self.body.map_or(0, |b| BODY_KEY.len() + b.len()) + 2
    }

    /// Appends the event's line (newline included):
    /// `{"time":..,"type":..,"id":..,"src":..,"dest":..[,"body":..]}`, as serde_json writes
    /// that struct.
    pub fn write_line(&self, out: &mut Vec<u8>) {
        out.reserve(self.line_len());
        out.extend_from_slice(self.head);
        if let Some(body) = self.body {
            out.extend_from_slice(BODY_KEY);
            out.extend_from_slice(body);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// A plain writer as a journal: the lines only.
pub struct LinesJournal<W: Write>(pub W);

impl<W: Write> Journal for LinesJournal<W> {
    fn event(&mut self, event: &JournalEvent<'_>) {
        let mut line = Vec::new();
        event.write_line(&mut line);
        // A journal that cannot be written is reported by its flush; the test goes on.
        let _ = self.0.write_all(&line);
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// What happened to a message, as the journal names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum EventKind {
    Send,
    Recv,
    Drop,
}

impl EventKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            EventKind::Send => "send",
            EventKind::Recv => "recv",
            EventKind::Drop => "drop",
        }
    }

    /// The head's piece from the time's end to the id.
    fn piece(self) -> &'static [u8; 20] {
        match self {
            EventKind::Send => b",\"type\":\"send\",\"id\":",
            EventKind::Recv => b",\"type\":\"recv\",\"id\":",
            EventKind::Drop => b",\"type\":\"drop\",\"id\":",
        }
    }
}

/// Room for the longest head: 8 + 20 + 20 + 20 bytes of keys and numbers, 7 + 8 of keys and
/// two addresses (a client's is at most 13 bytes with its quotes), and slack for the 8-byte
/// and 32-byte stores below.
const HEAD_ROOM: usize = 160;

/// Writes the heads of journal lines: the pieces in place in a fixed array (no capacity
/// checks, no copy through a digit buffer), and the time's digits kept from the event before
/// (most events happen at the same instant as the one before: a request and its delivery, a
/// reply and its).
pub(super) struct HeadWriter {
    bytes: [u8; HEAD_ROOM],
    len: usize,
    /// The last time written, and its digits (left-aligned).
    time: Nanos,
    time_digits: [u8; 32],
    time_len: usize,
}

impl Default for HeadWriter {
    fn default() -> HeadWriter {
        let mut head = HeadWriter {
            bytes: [0; HEAD_ROOM],
            len: 0,
            time: 0,
            time_digits: [0; 32],
            time_len: 0,
        };
        head.time_len = put_u64(&mut head.time_digits, 0, 0);
        head
    }
}

/// The parts of a written head: where the addresses' texts are in it.
pub(super) struct Head<'a> {
    pub bytes: &'a [u8],
    pub src: &'a [u8],
    pub dest: &'a [u8],
}

impl HeadWriter {
    /// `{"time":..,"type":..,"id":..,"src":..,"dest":..` of an event.
    #[inline]
    pub(super) fn write(&mut self, now: Nanos, kind: EventKind, m: &Message) -> Head<'_> {
        if now != self.time {
            self.time = now;
            self.time_len = put_u64(&mut self.time_digits, 0, now);
        }
        self.bytes[..8].copy_from_slice(b"{\"time\":");
        // All 32 bytes: the next piece overwrites what is past the digits.
        self.bytes[8..40].copy_from_slice(&self.time_digits);
        self.len = 8 + self.time_len;
        self.put(kind.piece());
        self.len = put_u64(&mut self.bytes, self.len, m.id);
        self.put(b",\"src\":");
        let src = self.addr(m.src);
        self.put(b",\"dest\":");
        let dest = self.addr(m.dest);
        let bytes = &self.bytes[..self.len];
        Head {
            bytes,
            src: &bytes[src.0..src.1],
            dest: &bytes[dest.0..dest.1],
        }
    }

    #[inline]
    fn put(&mut self, piece: &[u8]) {
        self.bytes[self.len..self.len + piece.len()].copy_from_slice(piece);
        self.len += piece.len();
    }

    /// An address as a JSON string; where its text (without quotes) is.
    #[inline]
    fn addr(&mut self, addr: Addr) -> (usize, usize) {
        let (kind, i) = match addr {
            Addr::Node(i) => (b'n', i),
            Addr::Client(i) => (b'c', i),
            Addr::Service(_) => return self.addr_simply(addr),
        };
        let at = self.len;
        // One 8-byte store: `"`, the kind letter, one or two digits, `"`.
        let digit = |d: u32| b'0' + d as u8;
        let (word, len) = match i {
            0..=9 => ([b'"', kind, digit(i), b'"', 0, 0, 0, 0], 4),
            10..=99 => ([b'"', kind, digit(i / 10), digit(i % 10), b'"', 0, 0, 0], 5),
            _ => return self.addr_simply(addr),
        };
        self.bytes[at..at + 8].copy_from_slice(&word);
        self.len = at + len;
        (at + 1, at + len - 1)
    }

    /// [`HeadWriter::addr`] by the general writer.
    fn addr_simply(&mut self, addr: Addr) -> (usize, usize) {
        let mut text = Vec::with_capacity(16);
        push_addr(&mut text, addr);
        let at = self.len;
        self.put(&text);
        (at + 1, self.len - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Body;
    use rand::{Rng as _, SeedableRng};

    /// Digits as itoa writes them, at every length and around every power of ten.
    #[test]
    fn digits_are_itoa_s() {
        let mut rng = crate::Rng::seed_from_u64(5);
        let mut numbers = vec![0, u64::MAX, u64::MAX - 1];
        let mut p = 1u64;
        for _ in 0..20 {
            numbers.extend([p - 1, p, p + 1]);
            p = p.saturating_mul(10);
        }
        for _ in 0..10_000 {
            let bits = rng.gen_range(0..64);
            numbers.push(rng.gen::<u64>() >> bits);
        }
        for n in numbers {
            let mut out = [b'x'; 30];
            let end = put_u64(&mut out, 3, n);
            assert_eq!(&out[3..end], itoa::Buffer::new().format(n).as_bytes());
            assert_eq!(&out[..3], b"xxx");
        }
    }

    /// A head is what serde_json writes for the line's struct, up to the body; its addresses
    /// are the ids' texts. Times repeat and change, as in a run.
    #[test]
    fn heads_are_as_serde_json_writes_them() {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            time: u64,
            #[serde(rename = "type")]
            kind: &'a str,
            id: u64,
            src: Addr,
            dest: Addr,
        }
        let mut rng = crate::Rng::seed_from_u64(6);
        let mut writer = HeadWriter::default();
        let addr = |rng: &mut crate::Rng| match rng.gen_range(0..5) {
            0 => Addr::Node(rng.gen_range(0..200)),
            1 => Addr::Client(rng.gen_range(0..200)),
            2 => Addr::Client(rng.gen()),
            3 => Addr::Node(rng.gen_range(0..10)),
            _ => Addr::Service(rng.gen_range(0..crate::services::NAMES.len() as u8)),
        };
        let mut now = 0;
        for _ in 0..20_000 {
            if rng.gen_bool(0.3) {
                now = if rng.gen_bool(0.1) {
                    rng.gen()
                } else {
                    now + rng.gen_range(0..1_000_000_000)
                };
            }
            let kind = [EventKind::Send, EventKind::Recv, EventKind::Drop][rng.gen_range(0..3)];
            let m = Message {
                id: if rng.gen_bool(0.1) {
                    rng.gen()
                } else {
                    rng.gen_range(0..100_000)
                },
                src: addr(&mut rng),
                dest: addr(&mut rng),
                body: Body::Raw(b"{}".to_vec().into()),
            };
            let head = writer.write(now, kind, &m);
            let mut expected = serde_json::to_vec(&Line {
                time: now,
                kind: kind.as_str(),
                id: m.id,
                src: m.src,
                dest: m.dest,
            })
            .unwrap();
            expected.pop();
            assert_eq!(head.bytes, &expected[..]);
            assert_eq!(head.src, m.src.to_string().as_bytes());
            assert_eq!(head.dest, m.dest.to_string().as_bytes());
        }
    }
}
