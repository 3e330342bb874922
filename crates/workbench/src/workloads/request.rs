//! Request bodies as a client sends them, written straight to JSON text.
//!
//! A node reads, and `messages.jsonl` shows, a request as serde_json writes a map: keys
//! ascending, compact. [`RequestWriter`] writes that text directly (no map, no value per
//! field), leaving the place where the client's `msg_id` goes; [`Request::from`] a
//! [`Value`] keeps the map for requests that are rare (init) or hand-built (tests).

use std::borrow::Cow;
use std::cell::Cell;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::history::push_u64;
use crate::net::Body;

thread_local! {
    /// The buffer requests are written in, kept from one request to the next (see
    /// [`Request::into_body`]): writing one then never regrows its buffer, and its body is
    /// one allocation of the exact size.
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A request body without its `msg_id` (the client adds it when it sends the request).
#[derive(Clone, Debug, PartialEq)]
pub struct Request(Repr);

#[derive(Clone, Debug, PartialEq)]
enum Repr {
    Map(Map<String, Value>),
    /// A JSON object's text, keys ascending, where `"msg_id":N,` goes, and where the
    /// `type`'s string is (quotes included).
    Text {
        text: Vec<u8>,
        msg_id_at: usize,
        kind_at: [usize; 2],
    },
}

impl Request {
    /// Starts a request of type `kind`: add its other fields with [`RequestWriter::field`],
    /// in ascending key order.
    #[inline(always)]
    pub fn writer(kind: &str) -> RequestWriter<'_> {
        let mut text = SCRATCH.take();
        text.clear();
        text.reserve(256);
        text.push(b'{');
        RequestWriter {
            text,
            kind,
            msg_id_at: None,
            kind_at: None,
        }
    }

    /// The body the client sends, with its `msg_id`.
    pub fn into_body(self, msg_id: u64) -> Body {
        match self.0 {
            Repr::Map(mut map) => {
                map.insert("msg_id".into(), msg_id.into());
                Body::Map(map)
            }
            Repr::Text {
                text, msg_id_at, ..
            } => {
                // The body gets its exact size at once; the text's buffer goes back to
                // `SCRATCH` for the next request.
                const KEY: &[u8] = b"\"msg_id\":";
                let digits = match msg_id {
                    0..=9 => 1,
                    10..=99 => 2,
                    100..=999 => 3,
                    1000..=9999 => 4,
                    _ => itoa::Buffer::new().format(msg_id).len(),
                };
                // Exactly the body's size (a boxed slice of a vector with room to spare
                // would be moved again).
                let mut body = Vec::with_capacity(text.len() + KEY.len() + digits + 1);
                body.extend_from_slice(&text[..msg_id_at]);
                body.extend_from_slice(KEY);
                push_u64(&mut body, msg_id);
                body.push(b',');
                body.extend_from_slice(&text[msg_id_at..]);
                SCRATCH.set(text);
                Body::Raw(body.into_boxed_slice())
            }
        }
    }

    /// The request's `type` (`None`: not a string).
    pub fn kind(&self) -> Option<Cow<'_, str>> {
        match &self.0 {
            Repr::Map(map) => map.get("type")?.as_str().map(Cow::Borrowed),
            Repr::Text { text, kind_at, .. } => {
                let quoted = &text[kind_at[0]..kind_at[1]];
                match std::str::from_utf8(&quoted[1..quoted.len() - 1]) {
                    Ok(plain) if !plain.contains('\\') => Some(Cow::Borrowed(plain)),
                    _ => serde_json::from_slice(quoted).ok().map(Cow::Owned),
                }
            }
        }
    }

    /// The request as a value, without `msg_id` (tests).
    pub fn to_value(&self) -> Value {
        match &self.0 {
            Repr::Map(map) => Value::Object(map.clone()),
            Repr::Text { .. } => {
                let mut map = self.clone().into_body(0).into_map();
                map.remove("msg_id");
                Value::Object(map)
            }
        }
    }
}

/// A request body must be a JSON object (a workload bug otherwise).
impl From<Value> for Request {
    fn from(value: Value) -> Request {
        match value {
            Value::Object(map) => Request(Repr::Map(map)),
            other => panic!("a request body must be a JSON object, got {other}"),
        }
    }
}

/// Writes a request's text (see [`Request::writer`]).
///
/// Its steps are always inlined: callers name the type and keys as literals, so the key
/// order checks and the escape check of the type fold away and the keys are copied as
/// constants.
pub struct RequestWriter<'k> {
    text: Vec<u8>,
    kind: &'k str,
    msg_id_at: Option<usize>,
    /// Where the `type`'s string is, once written.
    kind_at: Option<[usize; 2]>,
}

impl RequestWriter<'_> {
    /// Adds a field; keys come in ascending order, never `type` or `msg_id`, and need no
    /// escaping.
    pub fn field(mut self, key: &str, value: &(impl Serialize + ?Sized)) -> Self {
        debug_assert!(key != "type" && key != "msg_id" && !key.contains(['"', '\\']));
        self.before(Some(key));
        self.key(key);
        serde_json::to_writer(&mut self.text, value).expect("a request field serializes");
        self.text.push(b',');
        self
    }

    /// Adds a field whose value is JSON text written by `write`.
    #[inline(always)]
    pub fn field_with(mut self, key: &str, write: impl FnOnce(&mut Vec<u8>)) -> Self {
        debug_assert!(key != "type" && key != "msg_id" && !key.contains(['"', '\\']));
        self.before(Some(key));
        self.key(key);
        write(&mut self.text);
        self.text.push(b',');
        self
    }

    #[inline(always)]
    pub fn finish(mut self) -> Request {
        self.before(None);
        // Every field ends with a comma; the last one's closes the object.
        *self.text.last_mut().expect("type was written") = b'}';
        Request(Repr::Text {
            text: self.text,
            msg_id_at: self.msg_id_at.expect("msg_id's place was taken"),
            kind_at: self.kind_at.expect("type was written"),
        })
    }

    #[inline(always)]
    fn key(&mut self, key: &str) {
        self.text.push(b'"');
        self.text.extend_from_slice(key.as_bytes());
        self.text.extend_from_slice(b"\":");
    }

    /// Places `msg_id` and writes `type` where they go before `key` (`None`: the end).
    #[inline(always)]
    fn before(&mut self, key: Option<&str>) {
        if self.msg_id_at.is_none() && key.is_none_or(|k| key_after(k, "msg_id")) {
            self.msg_id_at = Some(self.text.len());
        }
        if self.kind_at.is_none() && key.is_none_or(|k| key_after(k, "type")) {
            self.key("type");
            let start = self.text.len();
            push_json_str(&mut self.text, self.kind);
            self.kind_at = Some([start, self.text.len()]);
            self.text.push(b',');
        }
    }
}

/// Writes a string as serde_json does: directly when no character in it needs an escape.
#[inline(always)]
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(out, s).expect("a string serializes");
    }
}

/// `a > b` for keys of a few bytes (as `str`'s order, without a call to memcmp).
#[inline(always)]
fn key_after(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x > y;
        }
    }
    a.len() > b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The line a node would read for `request` with `msg_id` 7.
    fn sent(request: Request) -> String {
        let mut out = Vec::new();
        request.into_body(7).write_json(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_written_as_serde_writes_them() {
        for s in ["", "poll", "ü-1", "a\"b", "back\\slash", "tab\t", "\u{7f}"] {
            let mut out = Vec::new();
            push_json_str(&mut out, s);
            assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
            // After other text, which an escape found partway must leave as it was.
            let mut out = b"{\"k\":".to_vec();
            push_json_str(&mut out, s);
            assert_eq!(out[5..], serde_json::to_vec(s).unwrap(), "{s:?}");
            assert_eq!(out[..5], *b"{\"k\":");
        }
    }

    #[test]
    fn keys_are_ordered_as_strs_are() {
        let keys = [
            "", "a", "key", "msg", "msg_id", "msg_ie", "msgs", "type", "typ", "z", "ü",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(key_after(a, b), a > b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn written_text_is_what_the_map_would_write() {
        let cases = [
            (Request::writer("read").finish(), json!({"type": "read"})),
            (Request::writer("a\"b").finish(), json!({"type": "a\"b"})),
            (
                Request::writer("broadcast").field("message", &5).finish(),
                json!({"type": "broadcast", "message": 5}),
            ),
            (
                Request::writer("send")
                    .field("key", "k\"1")
                    .field("msg", &3)
                    .finish(),
                json!({"type": "send", "key": "k\"1", "msg": 3}),
            ),
            (
                Request::writer("poll")
                    .field("offsets", &json!({"1": 2}))
                    .field("zz", &[1.5])
                    .finish(),
                json!({"type": "poll", "offsets": {"1": 2}, "zz": [1.5]}),
            ),
            (
                Request::writer("add")
                    .field("a", &1)
                    .field_with("txn", |out| out.extend_from_slice(b"[]"))
                    .finish(),
                json!({"type": "add", "a": 1, "txn": []}),
            ),
        ];
        for (written, value) in cases {
            assert_eq!(written.to_value(), value);
            assert_eq!(written.kind(), Request::from(value.clone()).kind());
            assert_eq!(written.kind().as_deref(), value["type"].as_str());
            assert_eq!(sent(written.clone()), sent(Request::from(value.clone())));
            // The `msg_id` spliced into the text, of every length, as the map writes it.
            for msg_id in [0, 9, 10, 99, 100, 12_345, 1 << 40, u64::MAX - 1, u64::MAX] {
                let mut text = Vec::new();
                written.clone().into_body(msg_id).write_json(&mut text);
                let mut map = Vec::new();
                Request::from(value.clone())
                    .into_body(msg_id)
                    .write_json(&mut map);
                assert_eq!(text, map, "{msg_id}");
            }
        }
    }
}
