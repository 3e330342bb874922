//! The Maelstrom wire protocol: envelopes, the reserved body fields, error bodies and the
//! error-code table.
//!
//! Every message is one line of JSON: `{"src": .., "dest": .., "body": {..}}`. Messages delivered
//! by Maelstrom also carry a top-level integer `id`; [`Envelope`] tolerates that and any other
//! unknown top-level field. The body is an object whose reserved fields are `type`, `msg_id` and
//! `in_reply_to` ([`Header`]); everything else belongs to the message type.
//!
//! Parsing borrows from the input line wherever it can ([`Envelope::body`] is a `&RawValue`
//! slice of the line, `src`/`dest` are only copied when they contain escapes), and
//! [`write_message`] serializes an outgoing message straight into an output buffer.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer};
use serde::ser::{Serialize, Serializer};
use serde_json::value::RawValue;

pub(crate) use crate::digits::{write_i64, write_u64};

/// One message as it appears on the wire, borrowing from the input line.
///
/// Unknown top-level fields (Maelstrom's `id`) are ignored.
#[derive(Debug, serde::Deserialize)]
pub struct Envelope<'a> {
    /// The sender's id.
    #[serde(borrow)]
    pub src: Cow<'a, str>,
    /// The recipient's id.
    #[serde(borrow)]
    pub dest: Cow<'a, str>,
    /// The body, unparsed: a slice of the input line.
    #[serde(borrow)]
    pub body: &'a RawValue,
}

/// The reserved fields of a message body. Every other field is ignored.
#[derive(Debug, Default, serde::Deserialize)]
pub struct Header<'a> {
    /// The message type. `None` when the field is absent (or `null`).
    #[serde(rename = "type", borrow, default)]
    pub ty: Option<Cow<'a, str>>,
    /// The id the sender gave the message, when it expects an answer.
    #[serde(default)]
    pub msg_id: Option<u64>,
    /// The `msg_id` of the request this message answers.
    #[serde(default)]
    pub in_reply_to: Option<u64>,
}

/// The payload of an `error` body: `{"type":"error","code":N,"text":".."}`.
///
/// `text` is optional on the wire; it deserializes to an empty string when absent. Serializing
/// writes `"type":"error"` as well.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ErrorBody<'a> {
    /// The error code.
    pub code: ErrorCode,
    /// What went wrong, for people.
    #[serde(default, borrow)]
    pub text: Cow<'a, str>,
}

impl<'a> ErrorBody<'a> {
    /// An error body for `code` with a human-readable `text`.
    pub fn new(code: ErrorCode, text: impl Into<Cow<'a, str>>) -> Self {
        ErrorBody {
            code,
            text: text.into(),
        }
    }
}

impl Serialize for ErrorBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("ErrorBody", 3)?;
        s.serialize_field("type", "error")?;
        s.serialize_field("code", &self.code)?;
        s.serialize_field("text", &self.text)?;
        s.end()
    }
}

/// Maelstrom's error codes (spec §1.6). Codes 0–999 are reserved for Maelstrom; anything the
/// table does not name is [`ErrorCode::Custom`] and, like every unknown code, indefinite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    /// 0: the operation did not complete in time. Indefinite.
    Timeout,
    /// 1: the destination node does not exist. Definite.
    NodeNotFound,
    /// 10: the operation is not supported. Definite.
    NotSupported,
    /// 11: cannot be done right now (not initialised, no quorum...). Definite.
    TemporarilyUnavailable,
    /// 12: the request could not possibly be processed. Definite.
    MalformedRequest,
    /// 13: a generic indefinite failure (the safe default). Indefinite.
    Crash,
    /// 14: a generic definite failure. Definite.
    Abort,
    /// 20: the key does not exist and the operation does not create it. Definite.
    KeyDoesNotExist,
    /// 21: the key already exists and may not be overwritten. Definite.
    KeyAlreadyExists,
    /// 22: a precondition (e.g. a CAS `from` value) did not hold. Definite.
    PreconditionFailed,
    /// 30: the transaction was aborted because of a conflict. Definite.
    TxnConflict,
    /// Any other code (≥ 1000 are free for users). Indefinite.
    Custom(u32),
}

impl ErrorCode {
    /// Every code of Maelstrom's table, in numeric order.
    pub const KNOWN: [ErrorCode; 11] = [
        ErrorCode::Timeout,
        ErrorCode::NodeNotFound,
        ErrorCode::NotSupported,
        ErrorCode::TemporarilyUnavailable,
        ErrorCode::MalformedRequest,
        ErrorCode::Crash,
        ErrorCode::Abort,
        ErrorCode::KeyDoesNotExist,
        ErrorCode::KeyAlreadyExists,
        ErrorCode::PreconditionFailed,
        ErrorCode::TxnConflict,
    ];

    /// The numeric code on the wire.
    pub fn code(self) -> u32 {
        match self {
            ErrorCode::Timeout => 0,
            ErrorCode::NodeNotFound => 1,
            ErrorCode::NotSupported => 10,
            ErrorCode::TemporarilyUnavailable => 11,
            ErrorCode::MalformedRequest => 12,
            ErrorCode::Crash => 13,
            ErrorCode::Abort => 14,
            ErrorCode::KeyDoesNotExist => 20,
            ErrorCode::KeyAlreadyExists => 21,
            ErrorCode::PreconditionFailed => 22,
            ErrorCode::TxnConflict => 30,
            ErrorCode::Custom(code) => code,
        }
    }

    /// The code for a number; numbers outside the table become [`ErrorCode::Custom`].
    pub fn from_code(code: u32) -> Self {
        match code {
            0 => ErrorCode::Timeout,
            1 => ErrorCode::NodeNotFound,
            10 => ErrorCode::NotSupported,
            11 => ErrorCode::TemporarilyUnavailable,
            12 => ErrorCode::MalformedRequest,
            13 => ErrorCode::Crash,
            14 => ErrorCode::Abort,
            20 => ErrorCode::KeyDoesNotExist,
            21 => ErrorCode::KeyAlreadyExists,
            22 => ErrorCode::PreconditionFailed,
            30 => ErrorCode::TxnConflict,
            other => ErrorCode::Custom(other),
        }
    }

    /// Definite: the operation certainly did not happen and never will. Unknown codes are
    /// indefinite, as Maelstrom treats them.
    pub fn is_definite(self) -> bool {
        !matches!(
            self,
            ErrorCode::Timeout | ErrorCode::Crash | ErrorCode::Custom(_)
        )
    }

    /// Maelstrom's name for the code (`"key-does-not-exist"`...); `"unknown"` for codes outside
    /// the table, as Maelstrom's history records them.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Timeout => "timeout",
            ErrorCode::NodeNotFound => "node-not-found",
            ErrorCode::NotSupported => "not-supported",
            ErrorCode::TemporarilyUnavailable => "temporarily-unavailable",
            ErrorCode::MalformedRequest => "malformed-request",
            ErrorCode::Crash => "crash",
            ErrorCode::Abort => "abort",
            ErrorCode::KeyDoesNotExist => "key-does-not-exist",
            ErrorCode::KeyAlreadyExists => "key-already-exists",
            ErrorCode::PreconditionFailed => "precondition-failed",
            ErrorCode::TxnConflict => "txn-conflict",
            ErrorCode::Custom(_) => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.code())
    }
}

impl From<u32> for ErrorCode {
    fn from(code: u32) -> Self {
        ErrorCode::from_code(code)
    }
}

impl From<ErrorCode> for u32 {
    fn from(code: ErrorCode) -> Self {
        code.code()
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.code())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u32::deserialize(deserializer).map(ErrorCode::from_code)
    }
}

/// An RPC that failed: an error body from the other side, a local timeout, or a reply that
/// could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    /// The error code: the other side's, or [`ErrorCode::Timeout`] for a local timeout, or
    /// [`ErrorCode::MalformedRequest`] for a reply that did not fit.
    pub code: ErrorCode,
    /// The error body's text, or a description of the local failure.
    pub text: String,
}

impl RpcError {
    /// An error with `code` and `text`: to answer a request with ([`crate::Ctx::reply_failure`]).
    pub fn new(code: ErrorCode, text: impl Into<String>) -> Self {
        RpcError {
            code,
            text: text.into(),
        }
    }

    /// Code 0: the RPC timed out (locally, or the other side said so).
    pub fn is_timeout(&self) -> bool {
        self.code == ErrorCode::Timeout
    }

    /// See [`ErrorCode::is_definite`].
    pub fn is_definite(&self) -> bool {
        self.code.is_definite()
    }
}

impl fmt::Display for RpcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.text.is_empty() {
            write!(f, "{}", self.code)
        } else {
            write!(f, "{}: {}", self.code, self.text)
        }
    }
}

impl std::error::Error for RpcError {}

/// Why [`write_message`] refused a body.
#[derive(Debug)]
pub enum WriteError {
    /// The body's `Serialize` implementation failed.
    Serialize(serde_json::Error),
    /// The body did not serialize to a JSON object.
    NotAnObject,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::Serialize(e) => write!(f, "body failed to serialize: {e}"),
            WriteError::NotAnObject => f.write_str("body did not serialize to a JSON object"),
        }
    }
}

impl std::error::Error for WriteError {}

/// Appends one message line, `{"src":..,"dest":..,"body":{..}}\n`, to `out`.
///
/// `body` must serialize to a JSON object; `in_reply_to` and `msg_id`, when given, are added to
/// it (the body should not hold those fields itself). Strings are escaped as JSON requires. On
/// error nothing is appended.
pub fn write_message(
    out: &mut Vec<u8>,
    src: &str,
    dest: &str,
    body: &(impl Serialize + ?Sized),
    in_reply_to: Option<u64>,
    msg_id: Option<u64>,
) -> Result<(), WriteError> {
    let start = out.len();
    out.extend_from_slice(b"{\"src\":");
    write_json_str(out, src);
    write_tail(out, start, dest, body, in_reply_to, msg_id)
}

/// Appends a JSON string literal (with quotes and escapes) for `s`.
#[inline]
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Fast path: nothing to escape (the bytes a string's text may hold as they are).
    let bytes = s.as_bytes();
    if crate::scan::string_run(bytes) == bytes.len() {
        push_quoted(out, bytes);
    } else {
        write_escaped_str(out, s);
    }
}

/// `bytes` between quotes: a string's text that needs no escape.
#[inline(always)]
pub(crate) fn push_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    out.extend_from_slice(bytes);
    out.push(b'"');
}

#[cold]
fn write_escaped_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail, and a str always serializes.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Everything after the `src` value: `,"dest":..,"body":{..}}\n`. Truncates `out` back to
/// `start` on error.
pub(crate) fn write_tail(
    out: &mut Vec<u8>,
    start: usize,
    dest: &str,
    body: &(impl Serialize + ?Sized),
    in_reply_to: Option<u64>,
    msg_id: Option<u64>,
) -> Result<(), WriteError> {
    out.extend_from_slice(b",\"dest\":");
    write_json_str(out, dest);
    out.extend_from_slice(b",\"body\":");
    let body_start = out.len();
    let mut seen = Seen::default();
    let written = {
        let mut ser = serde_json::Serializer::with_formatter(&mut *out, Watch(&mut seen));
        body.serialize(&mut ser)
    };
    if let Err(e) = written {
        out.truncate(start);
        return Err(WriteError::Serialize(e));
    }
    let is_ws = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    let (first, last) = if seen.raw {
        // A RawValue inside the body may carry whitespace, newlines included. Outside strings
        // (where a raw newline cannot occur in valid JSON) any newline is whitespace, so
        // blanking them keeps the message on one line; and the first and last significant
        // bytes have to be looked for.
        for b in &mut out[body_start..] {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
        let first = out[body_start..].iter().position(|b| !is_ws(b));
        let last = out[body_start..].iter().rposition(|b| !is_ws(b));
        let (Some(first), Some(last)) = (first, last) else {
            out.truncate(start);
            return Err(WriteError::NotAnObject);
        };
        (first, last)
    } else {
        // serde_json wrote it compactly: no whitespace around it.
        (0, (out.len() - body_start).saturating_sub(1))
    };
    if out.len() == body_start || out[body_start + first] != b'{' || out[body_start + last] != b'}'
    {
        out.truncate(start);
        return Err(WriteError::NotAnObject);
    }
    let (mut first, mut last) = (first, last);
    // A relayed body may hold reserved fields of its own: the ones written here replace them.
    let adding = in_reply_to.is_some() || msg_id.is_some();
    if adding && (seen.reserved_key || seen.raw_body) && strip_reserved(out, body_start) {
        (first, last) = (0, out.len() - 1 - body_start);
    }
    // Drop the closing brace (and anything after it), then see whether the object is empty.
    out.truncate(body_start + last);
    let mut empty = out[body_start + first + 1..].iter().all(is_ws);
    for (key, value) in [
        (&b"\"in_reply_to\":"[..], in_reply_to),
        (b"\"msg_id\":", msg_id),
    ] {
        if let Some(value) = value {
            if !empty {
                out.push(b',');
            }
            out.extend_from_slice(key);
            write_u64(out, value);
            empty = false;
        }
    }
    out.extend_from_slice(b"}}\n");
    Ok(())
}

/// What serializing a body showed, as far as the reserved fields are concerned.
#[derive(Default)]
struct Seen {
    /// Objects and arrays open around the current position.
    depth: u32,
    /// Writing a key of the body object itself.
    in_top_key: bool,
    /// The body object has an `msg_id` or `in_reply_to` key.
    reserved_key: bool,
    /// Raw JSON (a `RawValue`) was copied in somewhere: it may hold whitespace.
    raw: bool,
    /// The body as a whole is raw JSON: its keys were not seen.
    raw_body: bool,
}

/// serde_json's compact output, watching the body's own keys on the way, so that the common
/// case (no reserved key) costs no second look at the bytes.
struct Watch<'a>(&'a mut Seen);

impl serde_json::ser::Formatter for Watch<'_> {
    #[inline]
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.depth += 1;
        w.write_all(b"{")
    }

    #[inline]
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.depth = self.0.depth.saturating_sub(1);
        w.write_all(b"}")
    }

    #[inline]
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.depth += 1;
        w.write_all(b"[")
    }

    #[inline]
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.depth = self.0.depth.saturating_sub(1);
        w.write_all(b"]")
    }

    #[inline]
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.in_top_key = self.0.depth == 1;
        if first {
            Ok(())
        } else {
            w.write_all(b",")
        }
    }

    #[inline]
    fn end_object_key<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.0.in_top_key = false;
        Ok(())
    }

    #[inline]
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if self.0.in_top_key && is_reserved(fragment) {
            self.0.reserved_key = true;
        }
        w.write_all(fragment.as_bytes())
    }

    #[inline]
    fn write_raw_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        self.0.raw = true;
        if self.0.depth == 0 {
            self.0.raw_body = true;
        }
        w.write_all(fragment.as_bytes())
    }
}

/// Removes the top-level `in_reply_to` and `msg_id` fields from the JSON object that starts at
/// `out[body_start..]`, keeping the other fields in order. Cheap when the body has none: only
/// the bytes around each `_` are looked at.
fn strip_reserved(out: &mut Vec<u8>, body_start: usize) -> bool {
    let body = &out[body_start..];
    // Both names have an underscore, which is rarer than a quote: look around each one.
    let suspicious = memchr::memchr_iter(b'_', body).any(|i| {
        let (before, after) = body.split_at(i);
        (before.ends_with(b"\"msg") && after.starts_with(b"_id\""))
            || (before.ends_with(b"\"in") && after.starts_with(b"_reply_to\""))
    });
    if !suspicious {
        return false;
    }
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let Ok(Fields(fields)) = serde_json::from_str::<Fields>(text) else {
        return false;
    };
    if !fields.iter().any(|(key, _)| is_reserved(key)) {
        return false;
    }
    let mut rewritten = Vec::with_capacity(text.len());
    rewritten.push(b'{');
    for (key, value) in fields.iter().filter(|(key, _)| !is_reserved(key)) {
        if rewritten.len() > 1 {
            rewritten.push(b',');
        }
        write_json_str(&mut rewritten, key);
        rewritten.push(b':');
        rewritten.extend_from_slice(value.get().as_bytes());
    }
    rewritten.push(b'}');
    out.truncate(body_start);
    out.extend_from_slice(&rewritten);
    true
}

fn is_reserved(key: &str) -> bool {
    key == "msg_id" || key == "in_reply_to"
}

/// A JSON object's fields in their order, values left raw.
struct Fields<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    let value: &'de RawValue = map.next_value()?;
                    fields.push((key, value));
                }
                Ok(Fields(fields))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// At most `max` bytes of `line`, lossily decoded, for diagnostics.
pub(crate) fn truncated(line: &[u8], max: usize) -> String {
    if line.len() <= max {
        String::from_utf8_lossy(line).into_owned()
    } else {
        format!(
            "{}... ({} bytes)",
            String::from_utf8_lossy(&line[..max]),
            line.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    #[test]
    fn envelope_tolerates_unknown_top_level_fields() {
        let line = br#"{"id":0,"src":"c0","dest":"n0","body":{"type":"echo","msg_id":1,"echo":"hi"},"extra":[1,2]}"#;
        let env: Envelope = serde_json::from_slice(line).unwrap();
        assert_eq!(env.src, "c0");
        assert_eq!(env.dest, "n0");
        assert!(matches!(env.src, Cow::Borrowed(_)));
        let header: Header = serde_json::from_str(env.body.get()).unwrap();
        assert_eq!(header.ty.as_deref(), Some("echo"));
        assert_eq!(header.msg_id, Some(1));
        assert_eq!(header.in_reply_to, None);
    }

    #[test]
    fn envelope_unescapes_src() {
        let line = br#"{"src":"c\"0","dest":"n0","body":{}}"#;
        let env: Envelope = serde_json::from_slice(line).unwrap();
        assert_eq!(env.src, "c\"0");
    }

    #[test]
    fn header_accepts_null_and_missing_fields() {
        let h: Header = serde_json::from_str(r#"{"type":"read_ok","in_reply_to":null}"#).unwrap();
        assert_eq!(h.in_reply_to, None);
        assert_eq!(h.msg_id, None);
        let h: Header = serde_json::from_str(r#"{"msg_id":7}"#).unwrap();
        assert_eq!(h.ty, None);
        assert_eq!(h.msg_id, Some(7));
        assert!(serde_json::from_str::<Header>("[1]").is_err());
        assert!(serde_json::from_str::<Header>(r#"{"msg_id":-1}"#).is_err());
    }

    #[test]
    fn error_table() {
        let definite = [1, 10, 11, 12, 14, 20, 21, 22, 30];
        let indefinite = [0, 13, 2, 1000, 99999];
        for code in definite {
            assert!(ErrorCode::from_code(code).is_definite(), "{code}");
        }
        for code in indefinite {
            assert!(!ErrorCode::from_code(code).is_definite(), "{code}");
        }
        for code in ErrorCode::KNOWN {
            assert_eq!(ErrorCode::from_code(code.code()), code);
            assert_ne!(code.name(), "unknown");
        }
        assert_eq!(ErrorCode::from_code(1234), ErrorCode::Custom(1234));
        assert_eq!(ErrorCode::Custom(1234).code(), 1234);
        assert_eq!(ErrorCode::KeyDoesNotExist.name(), "key-does-not-exist");
        assert_eq!(ErrorCode::PreconditionFailed.name(), "precondition-failed");
        assert_eq!(ErrorCode::TemporarilyUnavailable.code(), 11);
        assert_eq!(ErrorCode::TxnConflict.code(), 30);
        assert_eq!(ErrorCode::Custom(5).name(), "unknown");
        assert_eq!(serde_json::to_string(&ErrorCode::Abort).unwrap(), "14");
        assert_eq!(
            serde_json::from_str::<ErrorCode>("22").unwrap(),
            ErrorCode::PreconditionFailed
        );
    }

    #[test]
    fn error_body_round_trip() {
        let body: ErrorBody = serde_json::from_str(r#"{"type":"error","code":20}"#).unwrap();
        assert_eq!(body.code, ErrorCode::KeyDoesNotExist);
        assert_eq!(body.text, "");
        let text = serde_json::to_string(&ErrorBody::new(ErrorCode::Crash, "boom")).unwrap();
        assert_eq!(text, r#"{"type":"error","code":13,"text":"boom"}"#);
    }

    fn parse_line(out: &[u8]) -> Value {
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(out).unwrap()
    }

    #[test]
    fn write_message_escapes_and_adds_reserved_fields() {
        let mut out = Vec::new();
        let nasty = "quote \" backslash \\ newline \n tab \t nul \u{0} é 🦀";
        write_message(
            &mut out,
            "n\"1",
            "c\n2",
            &json!({"type": "echo_ok", "echo": nasty}),
            Some(5),
            Some(9),
        )
        .unwrap();
        let v = parse_line(&out);
        assert_eq!(
            v,
            json!({"src": "n\"1", "dest": "c\n2", "body": {"type": "echo_ok", "echo": nasty, "in_reply_to": 5, "msg_id": 9}})
        );
    }

    #[test]
    fn write_message_handles_empty_and_spaced_objects() {
        let mut out = Vec::new();
        write_message(&mut out, "n1", "c1", &json!({}), Some(1), None).unwrap();
        assert_eq!(
            parse_line(&out),
            json!({"src":"n1","dest":"c1","body":{"in_reply_to":1}})
        );

        let raw = RawValue::from_string("{ \n }".to_string()).unwrap();
        let mut out = Vec::new();
        write_message(&mut out, "n1", "c1", &raw, None, Some(3)).unwrap();
        assert_eq!(
            parse_line(&out),
            json!({"src":"n1","dest":"c1","body":{"msg_id":3}})
        );

        let raw = RawValue::from_string("{ \"type\" : \"x\" }".to_string()).unwrap();
        let mut out = Vec::new();
        write_message(&mut out, "n1", "c1", &raw, Some(2), Some(3)).unwrap();
        assert_eq!(
            parse_line(&out),
            json!({"src":"n1","dest":"c1","body":{"type":"x","in_reply_to":2,"msg_id":3}})
        );

        let mut out = Vec::new();
        write_message(&mut out, "n1", "c1", &json!({"type": "x"}), None, None).unwrap();
        assert_eq!(
            out,
            b"{\"src\":\"n1\",\"dest\":\"c1\",\"body\":{\"type\":\"x\"}}\n"
        );
    }

    #[test]
    fn write_message_refuses_non_objects_and_leaves_buffer_untouched() {
        let mut out = b"previous\n".to_vec();
        assert!(matches!(
            write_message(&mut out, "n1", "c1", &json!([1, 2]), None, None),
            Err(WriteError::NotAnObject)
        ));
        assert!(matches!(
            write_message(&mut out, "n1", "c1", &"str", Some(1), None),
            Err(WriteError::NotAnObject)
        ));
        let mut bad = std::collections::BTreeMap::new();
        bad.insert(vec![1u8], 1);
        assert!(matches!(
            write_message(&mut out, "n1", "c1", &bad, None, None),
            Err(WriteError::Serialize(_))
        ));
        assert_eq!(out, b"previous\n");
    }

    #[test]
    fn write_u64_digits() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }

    /// The short paths for small numbers write what `to_string` writes, around every
    /// boundary between digit counts, signs included.
    #[test]
    fn integers_are_written_as_to_string_writes_them() {
        let mut out = b"x".to_vec();
        let mut expected = "x".to_string();
        for n in (0..=10_100u64).chain([99_999, 100_000, u64::MAX - 1, u64::MAX]) {
            write_u64(&mut out, n);
            expected.push_str(&n.to_string());
            expected.push(',');
            out.push(b',');
        }
        for n in (-10_100..=10_100i64).chain([i64::MIN, i64::MIN + 1, i64::MAX]) {
            write_i64(&mut out, n);
            expected.push_str(&n.to_string());
            expected.push(',');
            out.push(b',');
        }
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn truncation() {
        assert_eq!(truncated(b"abc", 10), "abc");
        assert_eq!(truncated(b"abcdef", 3), "abc... (6 bytes)");
    }
}
