//! Writing a message body field by field, straight into the output line: [`Ctx::reply_with`]
//! and [`Ctx::send_with`] with [`Fields`].
//!
//! `ctx.reply(&from, json!({"type": "txn_ok", "txn": done}))` first builds a
//! `serde_json::Value` tree (an allocation per map, string and array) and then serializes it;
//! `ctx.reply_with(&from, "txn_ok", |b| b.field("txn", &done))` writes the same bytes with no
//! tree in between. A `#[derive(Serialize)]` struct costs as little; these are for bodies not
//! worth a struct, and for lists of numbers and pre-rendered JSON, which have faster paths.

use serde::Serialize;

use crate::engine::{Ctx, Node};
use crate::protocol::{write_i64, write_json_str, write_u64, WriteError};
use crate::reply_to::ReplyTo;

/// The longest key [`Fields`] writes by its short path (longer ones: [`write_json_str`]).
const KEY_ROOM: usize = 28;

/// Room for a message's fixed text around its src, dest and type, `in_reply_to` and `msg_id`
/// included, and a few fields after the type: [`Ctx::emit_with`] reserves it at once.
const HEADER_ROOM: usize = 96;

/// The fields of a body being written, after its `type`; see [`Ctx::reply_with`].
///
/// Keys are written as given: they must not repeat, and must not be `type`, `msg_id` or
/// `in_reply_to` (the runtime writes those).
///
/// The same type writes the objects nested in a body ([`Fields::object`], [`Array::object`]).
pub struct Fields<'a> {
    out: &'a mut Vec<u8>,
    error: &'a mut Option<serde_json::Error>,
    /// No field written yet (only in a nested object: a body has its `type` first).
    first: bool,
    /// The body itself, whose reserved fields the runtime writes.
    top: bool,
}

impl Fields<'_> {
    /// Inlined into the callers (and they into the node's code) so that a literal key, known
    /// at compile time, has its check folded away and its copy turned into a few stores; the
    /// rest (a long key, one needing escapes) out of line.
    #[inline(always)]
    fn key(&mut self, key: &str) {
        debug_assert!(
            !self.top || !matches!(key, "type" | "msg_id" | "in_reply_to"),
            "the runtime writes the reserved field {key:?} itself"
        );
        let bytes = key.as_bytes();
        // A short plain key (all of ours): room made once, then `,"`, the key and `":`.
        if bytes.len() <= KEY_ROOM && crate::scan::string_run(bytes) == bytes.len() {
            let comma = !std::mem::take(&mut self.first);
            self.out.reserve(bytes.len() + 4);
            if comma {
                self.out.push(b',');
            }
            self.out.push(b'"');
            self.out.extend_from_slice(bytes);
            self.out.extend_from_slice(b"\":");
            return;
        }
        self.key_slowly(key);
    }

    /// [`Fields::key`] for any key.
    #[inline(never)]
    fn key_slowly(&mut self, key: &str) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        write_json_str(self.out, key);
        self.out.push(b':');
    }

    /// A field whose value is an unsigned integer.
    #[inline]
    pub fn u64(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        write_u64(self.out, value);
        self
    }

    /// A field whose value is a signed integer.
    #[inline]
    pub fn i64(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        write_i64(self.out, value);
        self
    }

    /// A field whose value is a string.
    #[inline]
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        write_json_str(self.out, value);
        self
    }

    /// A field whose value is an array that `fill` writes, element by element:
    /// `body.array("txn", |ops| { ops.array(|op| { op.str("r").i64(1).null(); }); })` writes
    /// `"txn":[["r",1,null]]`.
    #[inline]
    pub fn array(&mut self, key: &str, fill: impl FnOnce(&mut Array)) -> &mut Self {
        self.key(key);
        write_array(self.out, self.error, fill);
        self
    }

    /// A field whose value is an object that `fill` writes, field by field (no reserved
    /// names there: any key goes).
    #[inline]
    pub fn object(&mut self, key: &str, fill: impl FnOnce(&mut Fields)) -> &mut Self {
        self.key(key);
        write_object(self.out, self.error, fill);
        self
    }

    /// A field with any serializable value, serialized compactly.
    #[inline]
    pub fn field(&mut self, key: &str, value: &(impl Serialize + ?Sized)) -> &mut Self {
        if self.error.is_none() {
            self.key(key);
            if let Err(e) = serde_json::to_writer(&mut *self.out, value) {
                *self.error = Some(e);
            }
        }
        self
    }

    /// Every field of `value`, which must serialize to a JSON object (a struct or a map):
    /// `ctx.send_with(peer, "sync", |body| { body.flatten(&sync); })` sends a struct as a
    /// message of type `sync` without a wrapper that adds the `type`.
    pub fn flatten(&mut self, value: &(impl Serialize + ?Sized)) -> &mut Self {
        if self.error.is_some() {
            return self;
        }
        let start = self.out.len();
        if let Err(e) = serde_json::to_writer(&mut *self.out, value) {
            *self.error = Some(e);
            return self;
        }
        // Compact output: `{` first, `}` last, nothing around them.
        match (self.out.get(start), self.out.last()) {
            (Some(b'{'), Some(b'}')) if self.out.len() == start + 2 => self.out.truncate(start),
            (Some(b'{'), Some(b'}')) => {
                self.out.pop();
                if std::mem::take(&mut self.first) {
                    self.out.remove(start);
                } else {
                    self.out[start] = b',';
                }
            }
            _ => {
                self.out.truncate(start);
                *self.error = Some(serde::ser::Error::custom(
                    "flatten: the value did not serialize to a JSON object",
                ));
            }
        }
        self
    }

    /// A field whose value is an array of unsigned integers (faster than [`Fields::field`]
    /// on a `Vec<u64>` or a `BTreeSet<u64>`).
    #[inline]
    pub fn u64s(&mut self, key: &str, values: impl IntoIterator<Item = u64>) -> &mut Self {
        self.key(key);
        self.out.push(b'[');
        for (i, value) in values.into_iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_u64(self.out, value);
        }
        self.out.push(b']');
        self
    }

    /// A field whose value is JSON text the node rendered itself (and keeps, to send again),
    /// copied as it is. It must be one valid JSON value; line breaks in it (whitespace, in
    /// valid JSON) are turned into spaces so that the message stays on one line.
    #[inline]
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        let start = self.out.len();
        self.out.extend_from_slice(json.as_bytes());
        if memchr::memchr2(b'\n', b'\r', json.as_bytes()).is_some() {
            for b in &mut self.out[start..] {
                if *b == b'\n' || *b == b'\r' {
                    *b = b' ';
                }
            }
        }
        self
    }

    /// [`Fields::raw`] of text the node knows holds no line break (a list of numbers it
    /// rendered itself, say), copied without looking for one: for long texts sent often (a
    /// read's every value), where that look is most of the cost. The node vouches for it: a
    /// line break would split the message in two (debug builds check).
    #[inline]
    pub fn raw_one_line(&mut self, key: &str, json: &str) -> &mut Self {
        debug_assert!(
            memchr::memchr2(b'\n', b'\r', json.as_bytes()).is_none(),
            "raw_one_line: a line break in {json:?}"
        );
        self.key(key);
        self.out.extend_from_slice(json.as_bytes());
        self
    }

    /// A field whose value `write` appends to the body as JSON text, straight into the output
    /// (no buffer of the node's to copy from, no check): it must write exactly one valid JSON
    /// value, on one line.
    #[inline(always)]
    pub fn raw_with(&mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.key(key);
        write(self.out);
        self
    }
}

/// An array being written in a body, element by element; see [`Fields::array`].
pub struct Array<'a> {
    out: &'a mut Vec<u8>,
    error: &'a mut Option<serde_json::Error>,
    first: bool,
}

impl Array<'_> {
    // Inlined into the node's code, as the methods of `Fields` are: most arrays are long lists
    // of small numbers, where a call per element is most of the cost.
    #[inline]
    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
    }

    /// An unsigned integer.
    #[inline]
    pub fn u64(&mut self, value: u64) -> &mut Self {
        self.comma();
        write_u64(self.out, value);
        self
    }

    /// A signed integer.
    #[inline]
    pub fn i64(&mut self, value: i64) -> &mut Self {
        self.comma();
        write_i64(self.out, value);
        self
    }

    /// A string.
    #[inline]
    pub fn str(&mut self, value: &str) -> &mut Self {
        self.comma();
        write_json_str(self.out, value);
        self
    }

    /// `null`.
    #[inline]
    pub fn null(&mut self) -> &mut Self {
        self.comma();
        self.out.extend_from_slice(b"null");
        self
    }

    /// Any serializable value, serialized compactly.
    pub fn value(&mut self, value: &(impl Serialize + ?Sized)) -> &mut Self {
        if self.error.is_none() {
            self.comma();
            if let Err(e) = serde_json::to_writer(&mut *self.out, value) {
                *self.error = Some(e);
            }
        }
        self
    }

    /// A nested array.
    pub fn array(&mut self, fill: impl FnOnce(&mut Array)) -> &mut Self {
        self.comma();
        write_array(self.out, self.error, fill);
        self
    }

    /// A nested object.
    pub fn object(&mut self, fill: impl FnOnce(&mut Fields)) -> &mut Self {
        self.comma();
        write_object(self.out, self.error, fill);
        self
    }
}

fn write_array(
    out: &mut Vec<u8>,
    error: &mut Option<serde_json::Error>,
    fill: impl FnOnce(&mut Array),
) {
    out.push(b'[');
    fill(&mut Array {
        out: &mut *out,
        error,
        first: true,
    });
    out.push(b']');
}

fn write_object(
    out: &mut Vec<u8>,
    error: &mut Option<serde_json::Error>,
    fill: impl FnOnce(&mut Fields),
) {
    out.push(b'{');
    fill(&mut Fields {
        out: &mut *out,
        error,
        first: true,
        top: false,
    });
    out.push(b'}');
}

impl<N: Node> Ctx<N> {
    /// Answers a request with a body of type `ty` whose other fields `fill` writes, straight
    /// into the output (no `serde_json::Value` built); the runtime adds `in_reply_to`. The same
    /// rules as [`Ctx::reply`] hold: one answer per request, nothing sent without a `msg_id`.
    ///
    /// ```
    /// # use glomers_node::{Ctx, Node, ReplyTo};
    /// # use std::collections::BTreeSet;
    /// # struct N { seen: BTreeSet<u64> }
    /// # impl Node for N {
    /// #     type Request<'de> = serde::de::IgnoredAny;
    /// #     type Timer = ();
    /// fn on_request(&mut self, ctx: &mut Ctx<Self>, _: serde::de::IgnoredAny, from: ReplyTo) {
    ///     // {"type":"read_ok","messages":[..],"count":N,"in_reply_to":..}
    ///     ctx.reply_with(&from, "read_ok", |body| {
    ///         body.u64s("messages", self.seen.iter().copied())
    ///             .field("count", &self.seen.len());
    ///     });
    /// }
    /// # }
    /// ```
    #[inline(always)]
    pub fn reply_with(&mut self, to: &ReplyTo, ty: &str, fill: impl FnOnce(&mut Fields)) {
        let Some(msg_id) = self.claim_answer(to) else {
            return;
        };
        // The sender's id as stored (it was a `str`): no second check that it is UTF-8.
        if let Err(e) = self.emit_with(to.src.as_bytes(), ty, fill, Some(msg_id), None) {
            self.log(format_args!(
                "reply to {} (in_reply_to {msg_id}) not sent: {e}",
                to.src()
            ));
        }
    }

    /// Sends a message that expects no reply, written like [`Ctx::reply_with`].
    #[inline(always)]
    pub fn send_with(&mut self, dest: &str, ty: &str, fill: impl FnOnce(&mut Fields)) {
        if let Err(e) = self.emit_with(dest.as_bytes(), ty, fill, None, None) {
            self.log(format_args!("send to {dest} not sent: {e}"));
        }
    }

    /// Appends one message whose body `fill` writes; nothing on error. `dest` is the text of
    /// a `str`.
    ///
    /// Always inlined (as are [`Ctx::reply_with`] and [`Ctx::send_with`]) so that a literal
    /// `ty` has its check folded away and its copy turned into a few stores.
    #[inline(always)]
    pub(crate) fn emit_with(
        &mut self,
        dest: &[u8],
        ty: &str,
        fill: impl FnOnce(&mut Fields),
        in_reply_to: Option<u64>,
        msg_id: Option<u64>,
    ) -> Result<(), WriteError> {
        // Only `fill` is generic: the header and the tail are written by one copy of their
        // code, whatever the number of call sites.
        let start = self.write_header(dest, ty.len());
        let out = &mut self.out;
        write_type(out, ty);
        let mut error = None;
        fill(&mut Fields {
            out: &mut *out,
            error: &mut error,
            first: false,
            top: true,
        });
        if let Some(e) = error {
            out.truncate(start);
            return Err(WriteError::Serialize(e));
        }
        write_tail(out, in_reply_to, msg_id);
        Ok(())
    }

    /// `{"src":..,"dest":..,"body":{"type":` (`ty_len`: room to make for the type that
    /// follows); where the message starts in the output.
    #[inline(never)]
    fn write_header(&mut self, dest: &[u8], ty_len: usize) -> usize {
        let start = self.out.len();
        if self.head.len > 0 && crate::scan::string_run(dest) == dest.len() {
            // The usual header, `{"src":"n1","dest":"c2","body":{"type":`: our part copied
            // whole from its fixed array and cut to length, then the recipient's id (two or
            // three bytes: nearly every message) with the rest in one fixed piece.
            let out = &mut self.out;
            out.reserve(HEAD + dest.len() + ty_len + HEADER_ROOM);
            out.extend_from_slice(&self.head.bytes);
            out.truncate(start + self.head.len);
            const MID: &[u8; 17] = b"\",\"body\":{\"type\":";
            match *dest {
                [a, b] => {
                    let mut piece = [a, b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                    piece[2..].copy_from_slice(MID);
                    out.extend_from_slice(&piece);
                }
                [a, b, c] => {
                    let mut piece = [a, b, c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                    piece[3..].copy_from_slice(MID);
                    out.extend_from_slice(&piece);
                }
                _ => {
                    out.extend_from_slice(dest);
                    out.extend_from_slice(MID);
                }
            }
            return start;
        }
        let (out, src_prefix, node_id) = self.output_parts();
        if src_prefix.is_empty() {
            out.extend_from_slice(b"{\"src\":");
            write_json_str(out, node_id);
        } else {
            out.extend_from_slice(src_prefix);
        }
        out.extend_from_slice(b",\"dest\":");
        write_json_str(out, std::str::from_utf8(dest).unwrap_or_default());
        out.extend_from_slice(b",\"body\":{\"type\":");
        start
    }
}

/// The size of [`Head`]'s array.
const HEAD: usize = 32;

/// `{"src":"<our id>","dest":"` in a fixed array, copied whole by [`Ctx::write_header`] (a few
/// fixed moves, where a copy of its length calls `memcpy`) and cut to `len`; `len` is 0 when
/// it does not fit (an id too long: the header is then written from its pieces) and before
/// init.
#[derive(Clone, Copy, Default)]
pub(crate) struct Head {
    bytes: [u8; HEAD],
    len: usize,
}

impl Head {
    /// The head for a node whose `{"src":"<id>"` is `src_prefix`.
    pub(crate) fn new(src_prefix: &[u8]) -> Head {
        const DEST: &[u8] = b",\"dest\":\"";
        let len = src_prefix.len() + DEST.len();
        if src_prefix.is_empty() || len > HEAD {
            return Head::default();
        }
        let mut bytes = [0; HEAD];
        bytes[..src_prefix.len()].copy_from_slice(src_prefix);
        bytes[src_prefix.len()..len].copy_from_slice(DEST);
        Head { bytes, len }
    }
}

/// The body's type, a JSON string: always inlined, so that a literal type (nearly every
/// message) is checked at compile time and copied by a few stores.
#[inline(always)]
fn write_type(out: &mut Vec<u8>, ty: &str) {
    let bytes = ty.as_bytes();
    if bytes.len() <= KEY_ROOM && crate::scan::string_run(bytes) == bytes.len() {
        crate::protocol::push_quoted(out, bytes);
    } else {
        write_json_str(out, ty);
    }
}

/// The end of a message after its body's fields: the reserved fields the runtime writes, the
/// closing braces, the newline. Without reserved fields (known at compile time for
/// [`Ctx::send_with`]) just `}}\n`.
#[inline(always)]
fn write_tail(out: &mut Vec<u8>, in_reply_to: Option<u64>, msg_id: Option<u64>) {
    if in_reply_to.is_none() && msg_id.is_none() {
        out.extend_from_slice(b"}}\n");
    } else {
        write_tail_with_ids(out, in_reply_to, msg_id);
    }
}

/// [`write_tail`] with `in_reply_to` or `msg_id`: the whole tail written into a fixed array
/// (digits in place), copied whole by a few fixed moves and cut to length.
#[inline(never)]
fn write_tail_with_ids(out: &mut Vec<u8>, in_reply_to: Option<u64>, msg_id: Option<u64>) {
    const IN_REPLY_TO: &[u8; 15] = b",\"in_reply_to\":";
    const MSG_ID: &[u8; 10] = b",\"msg_id\":";
    // 15 + 20 digits + 10 + 20 digits + 3 = 68 at most.
    let mut tail = [0u8; 72];
    let mut at = 0;
    if let Some(value) = in_reply_to {
        tail[..IN_REPLY_TO.len()].copy_from_slice(IN_REPLY_TO);
        at = crate::digits::put_u64(&mut tail, IN_REPLY_TO.len(), value);
    }
    if let Some(value) = msg_id {
        tail[at..at + MSG_ID.len()].copy_from_slice(MSG_ID);
        at = crate::digits::put_u64(&mut tail, at + MSG_ID.len(), value);
    }
    tail[at..at + 3].copy_from_slice(b"}}\n");
    let start = out.len();
    out.extend_from_slice(&tail);
    out.truncate(start + at + 3);
}

/// The plain tail writer, piece by piece: [`write_tail`]'s reference.
#[cfg(test)]
fn write_tail_simply(out: &mut Vec<u8>, in_reply_to: Option<u64>, msg_id: Option<u64>) {
    if let Some(value) = in_reply_to {
        out.extend_from_slice(b",\"in_reply_to\":");
        write_u64(out, value);
    }
    if let Some(value) = msg_id {
        out.extend_from_slice(b",\"msg_id\":");
        write_u64(out, value);
    }
    out.extend_from_slice(b"}}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys, short or long, plain or needing escapes, are written as serde writes them.
    #[test]
    fn keys_are_written_as_serde_writes_them() {
        let long = "k".repeat(KEY_ROOM);
        let longer = "k".repeat(KEY_ROOM + 1);
        let sets: [Vec<&str>; 4] = [
            vec!["a"],
            vec!["", "seq", "in\"quote", "back\\slash"],
            vec![&long, &longer, "tab\t", "é🦀", "x"],
            vec!["\u{1}", &longer, "y"],
        ];
        for keys in sets {
            let mut out = Vec::new();
            let mut error = None;
            write_object(&mut out, &mut error, |f| {
                for (i, key) in keys.iter().enumerate() {
                    f.u64(key, i as u64);
                }
            });
            let fields: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| format!("{}:{i}", serde_json::to_string(key).unwrap()))
                .collect();
            let expected = format!("{{{}}}", fields.join(","));
            assert_eq!(String::from_utf8(out).unwrap(), expected);
            assert!(error.is_none());
        }
    }

    /// Random keys (short or long, plain or not, known only at run time) through the inlined
    /// fast path and its slow path, as serde writes them.
    #[test]
    fn random_keys_are_written_as_serde_writes_them() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
        let pieces = [
            "k", "ey", "offsets", "é", "🦀", "\"", "\\", "\n", "\u{1}", "\u{1f}", " ", "_",
        ];
        for _ in 0..3000 {
            let keys: Vec<String> = (0..rng.gen_range(0..5))
                .map(|_| {
                    let parts = rng.gen_range(0..12);
                    (0..parts)
                        .map(|_| *pieces.choose(&mut rng).unwrap())
                        .collect()
                })
                .collect();
            let mut out = Vec::new();
            let mut error = None;
            write_object(&mut out, &mut error, |f| {
                for (i, key) in keys.iter().enumerate() {
                    match i % 3 {
                        0 => f.u64(key, i as u64),
                        1 => f.str(key, "v"),
                        _ => f.array(key, |_| {}),
                    };
                }
            });
            let fields: Vec<String> = keys
                .iter()
                .enumerate()
                .map(|(i, key)| {
                    let value = match i % 3 {
                        0 => i.to_string(),
                        1 => "\"v\"".to_string(),
                        _ => "[]".to_string(),
                    };
                    format!("{}:{value}", serde_json::to_string(key).unwrap())
                })
                .collect();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("{{{}}}", fields.join(","))
            );
            assert!(error.is_none());
        }
    }

    /// The tail written in place is the piece-by-piece one, for ids of every length.
    #[test]
    fn tails_are_written_as_the_plain_writer_writes_them() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(23);
        let id = |rng: &mut rand_chacha::ChaCha8Rng| match rng.gen_range(0..4) {
            0 => None,
            1 => Some(rng.gen_range(0..10_000)),
            2 => Some(rng.gen::<u64>() >> rng.gen_range(0..64)),
            _ => Some(u64::MAX - rng.gen_range(0..3)),
        };
        for _ in 0..5000 {
            let (in_reply_to, msg_id) = (id(&mut rng), id(&mut rng));
            let prefix = vec![b'x'; rng.gen_range(0..100)];
            let (mut fast, mut plain) = (prefix.clone(), prefix);
            write_tail(&mut fast, in_reply_to, msg_id);
            write_tail_simply(&mut plain, in_reply_to, msg_id);
            assert_eq!(fast, plain, "{in_reply_to:?} {msg_id:?}");
        }
    }

    struct Quiet;

    impl Node for Quiet {
        type Request<'de> = serde::de::IgnoredAny;
        type Timer = ();
        fn on_request(&mut self, _: &mut Ctx<Self>, _: serde::de::IgnoredAny, _: ReplyTo) {}
    }

    /// Messages written with the fixed head and pieces are those serde writes, for our ids and
    /// recipients of every length, plain or needing escapes, with and without reserved fields.
    #[test]
    fn headers_are_written_as_serde_writes_them() {
        let ids = [
            "n1",
            "n12",
            "x",
            "node-with-a-longer-name",
            "n\"q",
            "é",
            "a-node-whose-name-is-past-the-head",
        ];
        for me in ids {
            let mut engine = crate::Engine::new(Quiet, 1);
            let init = serde_json::json!({"src": "c0", "dest": me, "body": {
                "type": "init", "msg_id": 1, "node_id": me, "node_ids": [me]}});
            engine.handle_line(init.to_string().as_bytes(), std::time::Duration::ZERO);
            for dest in ids.iter().chain(&["c1", "c12", "n123", "", "c\\"]) {
                for (in_reply_to, msg_id) in [(None, None), (Some(7), None), (Some(12345), Some(3))]
                {
                    engine.output().clear();
                    let ctx = &mut engine.ctx;
                    for ty in ["gossip", "a_type_longer_than_the_key_room", "t\"y"] {
                        ctx.emit_with(
                            dest.as_bytes(),
                            ty,
                            |b| {
                                b.u64("k", 5);
                            },
                            in_reply_to,
                            msg_id,
                        )
                        .unwrap();
                        let mut tail = String::new();
                        if let Some(v) = in_reply_to {
                            tail += &format!(",\"in_reply_to\":{v}");
                        }
                        if let Some(v) = msg_id {
                            tail += &format!(",\"msg_id\":{v}");
                        }
                        let expected = format!(
                            "{{\"src\":{},\"dest\":{},\"body\":{{\"type\":{},\"k\":5{tail}}}}}\n",
                            serde_json::to_string(me).unwrap(),
                            serde_json::to_string(dest).unwrap(),
                            serde_json::to_string(ty).unwrap(),
                        );
                        let out = std::mem::take(&mut ctx.out);
                        assert_eq!(String::from_utf8(out).unwrap(), expected);
                    }
                }
            }
        }
    }
}
