//! The wire check: turns a line a node wrote into a routed message, or a named diagnostic.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::{NodeOutput, Phase, Role, Runner, Severity};
use crate::net::{Addr, Body};
use crate::workloads::reply::uint_array::LastArray;
use crate::workloads::reply::{ReplyText, ScannedBox};

mod plain;

/// The deepest nesting accepted in a line (Jackson's default limit, which Maelstrom reads
/// with; serde_json's own default is 128).
const MAX_DEPTH: usize = 1000;

/// A line a node writes: Maelstrom's envelope schema is closed (only `src`, `dest`, `body`
/// and an optional integer `id`).
#[derive(Debug)]
pub(super) struct WireEnvelope<'a> {
    /// The `src` string's contents (UTF-8).
    src: Cow<'a, [u8]>,
    /// The `dest` string's contents (UTF-8).
    dest: Cow<'a, [u8]>,
    body: WireBody,
    /// A top-level `id` that is not an integer (it must be one when present; checked, then
    /// unused: the network numbers messages). A flag rather than the value, so that the
    /// envelope stays small to move.
    bad_id: bool,
    /// `src` and `dest` as [`Addr::parse`] reads them, when the reader did that already.
    addrs: Option<[Option<Addr>; 2]>,
}

/// A string's contents as bytes.
fn utf8_bytes(text: Cow<'_, str>) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
    }
}

/// The body as the wire check read it: validated but kept as text ([`WireBody::Raw`]), or, in
/// the exact mode (see [`EnvelopeSeed`]), parsed when it is not bound for a server node.
#[derive(Debug)]
enum WireBody {
    Parsed(Value),
    Raw {
        text: Box<[u8]>,
        /// The exact mode would have parsed it: not read as bound for a server node (a body
        /// for a client or service, or one read before its `dest`).
        parsed_in_exact_mode: bool,
        /// What the plain lane found in a body it read as not bound for a server node.
        scanned: Option<ScannedBox>,
    },
}

const ENVELOPE_FIELDS: &[&str] = &["src", "dest", "body", "id"];

/// Reads an envelope in one pass.
///
/// The exact mode is the definition: a body for a server node (its `dest` read first, as nodes
/// write it) is validated and kept as text, any other body is parsed into a value, so what
/// serde_json refuses as a value (nesting deeper than [`MAX_DEPTH`], a lone surrogate, a
/// number out of range) makes the line bad. The fast mode keeps every body as text; its
/// result is used only when it cannot differ from the exact mode's (see
/// [`may_differ_as_a_value`]), else the line is read again in the exact mode.
struct EnvelopeSeed {
    node_count: usize,
    exact: bool,
}

impl<'de> DeserializeSeed<'de> for EnvelopeSeed {
    type Value = WireEnvelope<'de>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_struct("WireEnvelope", ENVELOPE_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for EnvelopeSeed {
    type Value = WireEnvelope<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("struct WireEnvelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut src, mut dest, mut body, mut id) = (None, None, None, None);
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "src" if src.is_none() => src = Some(map.next_value::<Cow<'de, str>>()?),
                "dest" if dest.is_none() => dest = Some(map.next_value::<Cow<'de, str>>()?),
                "body" if body.is_none() => {
                    let to_node = dest
                        .as_deref()
                        .and_then(|d| Addr::parse(d, self.node_count))
                        .is_some_and(|d| matches!(d, Addr::Node(_)));
                    body = Some(if to_node || !self.exact {
                        let text: Box<RawValue> = map.next_value()?;
                        WireBody::Raw {
                            text: Box::<str>::from(text).into_boxed_bytes(),
                            parsed_in_exact_mode: !to_node,
                            scanned: None,
                        }
                    } else {
                        WireBody::Parsed(map.next_value()?)
                    });
                }
                "id" if id.is_none() => id = Some(map.next_value::<Option<Value>>()?),
                "src" | "dest" | "body" | "id" => {
                    return Err(de::Error::duplicate_field(
                        ENVELOPE_FIELDS
                            .iter()
                            .find(|f| **f == key.as_ref())
                            .expect("a known field"),
                    ))
                }
                other => return Err(de::Error::unknown_field(other, ENVELOPE_FIELDS)),
            }
        }
        Ok(WireEnvelope {
            src: utf8_bytes(src.ok_or_else(|| de::Error::missing_field("src"))?),
            dest: utf8_bytes(dest.ok_or_else(|| de::Error::missing_field("dest"))?),
            body: body.ok_or_else(|| de::Error::missing_field("body"))?,
            bad_id: id.flatten().is_some_and(|id: Value| !id.is_i64()),
            addrs: None,
        })
    }
}

impl Runner<'_> {
    pub(super) fn on_node_output(&mut self, output: NodeOutput) {
        match output {
            NodeOutput::Exited { node, detail } => {
                self.abort(Some(node), format!("n{node} {detail}"));
            }
            NodeOutput::Line { node, line } => self.on_node_line(node, &line),
            NodeOutput::Problem {
                node,
                severity,
                kind,
                message,
            } => self.diagnose(severity, Some(node), kind, message),
            NodeOutput::Interrupted { signal } => {
                let message = format!(
                    "the run was interrupted by {} after {:.1} s of test time, in its {} phase: \
                     the history stops there",
                    crate::signals::name(signal),
                    self.now as f64 / 1e9,
                    self.phase.name()
                );
                self.diagnose(Severity::Warning, None, "interrupted", message);
                self.phase = Phase::Done;
            }
        }
    }

    pub(super) fn on_node_line(&mut self, node: u32, line: &[u8]) {
        // Only for diagnostics: formatted when one is needed, never on the happy path.
        let shown = ShownLine(line);
        let n = node as usize;
        if self.last_arrays.len() <= n {
            self.last_arrays.resize_with(n + 1, LastArray::default);
        }
        let last_array = &mut self.last_arrays[n];
        let envelope = match parse_envelope(line, self.opts.node_count, last_array) {
            Ok(e) => e,
            Err(problem) => {
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-line",
                    format!("n{node} wrote a line that {problem}: {shown}"),
                );
            }
        };
        let body = match envelope.body {
            WireBody::Raw {
                text,
                parsed_in_exact_mode,
                scanned,
            } if text.starts_with(b"{") => {
                // A body the exact mode parses is shown as a parsed map is written, wherever
                // it goes (see `Body::Reply`).
                if parsed_in_exact_mode {
                    Body::Reply(text, scanned)
                } else {
                    Body::Raw(text)
                }
            }
            WireBody::Raw { text, .. } if &*text == b"null" => Body::Map(Map::new()),
            WireBody::Parsed(Value::Object(map)) => Body::Map(map),
            WireBody::Parsed(Value::Null) => Body::Map(Map::new()),
            other => {
                let other = match other {
                    WireBody::Parsed(value) => value,
                    WireBody::Raw { text, .. } => {
                        serde_json::from_slice(&text).unwrap_or(Value::Null)
                    }
                };
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-body",
                    format!(
                        "n{node} sent a message whose body is not a JSON object ({}): {shown}",
                        kind_of(&other)
                    ),
                );
            }
        };
        if envelope.bad_id {
            return self.diagnose(
                Severity::Error,
                Some(node),
                "bad-id",
                format!("n{node} sent a message whose top-level `id` is not an integer: {shown}"),
            );
        }
        let node_count = self.opts.node_count;
        let [src_addr, dest_addr] = envelope.addrs.unwrap_or_else(|| {
            [
                Addr::parse_bytes(&envelope.src, node_count),
                Addr::parse_bytes(&envelope.dest, node_count),
            ]
        });
        let src = match src_addr {
            Some(Addr::Node(n)) if n == node => Addr::Node(n),
            // Maelstrom routes a message sent in another node's name; so do we, but say so.
            Some(Addr::Node(other)) => {
                self.diagnose(
                    Severity::Warning,
                    Some(node),
                    "other-src",
                    format!("n{node} sent a message as n{other}: {shown}"),
                );
                Addr::Node(other)
            }
            _ => {
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-src",
                    format!(
                        "n{node} sent a message with src {:?}; a node must send as its own id (was init handled?): {shown}",
                        String::from_utf8_lossy(&envelope.src)
                    ),
                )
            }
        };
        let Some(dest) = dest_addr else {
            return self.diagnose(
                Severity::Error,
                Some(node),
                "bad-dest",
                format!(
                    "n{node} sent a message to {:?}, which is not a node, client or service of this test: {shown}",
                    String::from_utf8_lossy(&envelope.dest)
                ),
            );
        };
        if let Addr::Client(c) = dest {
            match self.clients.get(c as usize) {
                Some(client) if client.open => {}
                Some(client) if in_reply_to(&body) == Some(client.last_answered) => {
                    return self.diagnose(
                        Severity::Error,
                        Some(node),
                        "closed-client",
                        format!(
                            "n{node} sent c{c} a second reply to its request {}, which was \
                             already answered and the client closed (Maelstrom stops reading a \
                             node's output when this happens): {shown}",
                            client.last_answered
                        ),
                    );
                }
                Some(client) => {
                    // Maelstrom throws here and stops reading this node's stdout for the rest
                    // of the test, so a node that does this fails there: an error here too.
                    let which = match client.role {
                        Role::Worker(_) => {
                            "whose worker had given up on it (a timeout or an indeterminate \
                             reply) and had since moved on to its next operation with a new client"
                        }
                        Role::Init(_) => "which sent init and closed after the init_ok",
                        Role::Setup(_) => "which closed at the end of the test",
                    };
                    return self.diagnose(
                        Severity::Error,
                        Some(node),
                        "closed-client",
                        format!(
                            "n{node} sent a message to c{c}, a client {which}; Maelstrom stops \
                             reading a node's output when this happens: {shown}"
                        ),
                    );
                }
                None => {
                    return self.diagnose(
                        Severity::Error,
                        Some(node),
                        "bad-dest",
                        format!(
                            "n{node} sent a message to c{c}, a client that never existed: {shown}"
                        ),
                    )
                }
            }
        }
        self.send(src, dest, body);
    }

    /// A message to a client that is not the reply it waits for. Maelstrom's clients drop it
    /// silently; a late reply to a request the client gave up on is normal under faults, but
    /// a reply to no request at all, a second reply, or a message that is not a reply is
    /// named.
    pub(super) fn stray_reply(
        &mut self,
        client: u32,
        src: Addr,
        in_reply_to: Option<u64>,
        body: &Body,
    ) {
        let c = &self.clients[client as usize];
        let problem = match in_reply_to {
            None => format!(
                "sent c{client} a message without in_reply_to: a client only takes replies to \
                 its requests"
            ),
            Some(id) if id == 0 || id >= c.next_msg_id => format!(
                "replied to c{client} with in_reply_to {id}, which matches no request it sent \
                 (msg_id 1 to {}): the client ignores it",
                c.next_msg_id - 1
            ),
            Some(id) if id == c.last_answered => format!(
                "sent a second reply to c{client}'s request {id}, which was already answered: \
                 the client ignores it"
            ),
            Some(_) => return,
        };
        let node = match src {
            Addr::Node(n) => Some(n),
            _ => None,
        };
        let mut text = Vec::new();
        body.write_json(&mut text);
        let message = format!("{src} {problem}: {}", ShownLine(&text));
        self.diagnose(Severity::Warning, node, "stray-reply", message);
    }
}

/// The body's `in_reply_to` as a parsed map reads it (`Value::as_u64`).
pub(super) fn in_reply_to(body: &Body) -> Option<u64> {
    let from_map = |map: &Map<String, Value>| map.get("in_reply_to").and_then(Value::as_u64);
    match body {
        Body::Map(map) => from_map(map),
        Body::Raw(text) | Body::Reply(text, _) => ReplyText::new(text)
            .in_reply_to()
            .unwrap_or_else(|| from_map(&body.as_map())),
    }
}

/// Parses a line into an envelope, or says what is wrong with it: in the fast mode when its
/// result is the exact mode's, else in the exact mode (see [`EnvelopeSeed`]).
/// `last_array`: the writer's (see [`LastArray`]).
#[inline(always)]
fn parse_envelope<'a>(
    line: &'a [u8],
    node_count: usize,
    last_array: &mut LastArray,
) -> Result<WireEnvelope<'a>, String> {
    // Inlined, so that the envelope is built where it is used instead of copied out twice.
    match plain::read(line, node_count, last_array) {
        Some(envelope) => Ok(envelope),
        None => parse_envelope_with_serde(line, node_count),
    }
}

/// [`parse_envelope`] of a line the plain lane leaves to serde.
#[inline(never)]
fn parse_envelope_with_serde(line: &[u8], node_count: usize) -> Result<WireEnvelope<'_>, String> {
    let mut de = serde_json::Deserializer::from_slice(line);
    de.disable_recursion_limit();
    let fast = EnvelopeSeed {
        node_count,
        exact: false,
    }
    .deserialize(&mut de)
    .and_then(|envelope| de.end().map(|()| envelope));
    match fast {
        Ok(envelope) => match &envelope.body {
            WireBody::Raw {
                text,
                parsed_in_exact_mode: true,
                ..
            } if may_differ_as_a_value(text) => parse_envelope_exactly(line, node_count),
            _ => Ok(envelope),
        },
        Err(_) => parse_envelope_exactly(line, node_count),
    }
}

/// Whether serde_json might refuse this validated JSON text as a value (which the exact mode
/// of the wire check parses it into) although it skipped over it: only nesting deeper than
/// [`MAX_DEPTH`], a lone surrogate (in a `\u` escape) or a number out of range (an exponent,
/// or hundreds of digits) can. Cheap and conservative: true for any backslash, any `e` or `E`
/// after a digit or `.`, any run of 155 digits, or more than `MAX_DEPTH` opening brackets.
fn may_differ_as_a_value(text: &[u8]) -> bool {
    if memchr::memchr(b'\\', text).is_some() {
        return true;
    }
    let exponent = memchr::memchr2_iter(b'e', b'E', text)
        .any(|i| i > 0 && matches!(text[i - 1], b'0'..=b'9' | b'.'));
    if exponent {
        return true;
    }
    // A run of 309 digits (the least that overflows a float) holds a sample point followed
    // by at least 155 digits.
    const STRIDE: usize = 154;
    let long_run = (0..text.len()).step_by(STRIDE).any(|i| {
        text[i..]
            .iter()
            .take(STRIDE + 1)
            .take_while(|b| b.is_ascii_digit())
            .count()
            > STRIDE
    });
    long_run || memchr::memchr2_iter(b'[', b'{', text).count() > MAX_DEPTH
}

/// The exact mode of the wire check (see [`EnvelopeSeed`]).
fn parse_envelope_exactly(line: &[u8], node_count: usize) -> Result<WireEnvelope<'_>, String> {
    let read = |unbounded: bool| {
        let mut de = serde_json::Deserializer::from_slice(line);
        if unbounded {
            de.disable_recursion_limit();
        }
        let envelope = EnvelopeSeed {
            node_count,
            exact: true,
        }
        .deserialize(&mut de)?;
        de.end().map(|()| envelope)
    };
    let error = match read(false) {
        Ok(envelope) => return Ok(envelope),
        Err(e) => e,
    };
    if error.to_string().starts_with("recursion limit exceeded") {
        // Deeper than serde_json's default: accepted up to MAX_DEPTH, as Maelstrom does.
        let depth = nesting_depth(line);
        if depth > MAX_DEPTH {
            return Err(format!(
                "is nested {depth} levels deep, deeper than the {MAX_DEPTH} accepted"
            ));
        }
        return read(true).map_err(|e| describe_bad_line(line, e));
    }
    Err(describe_bad_line(line, error))
}

fn describe_bad_line(line: &[u8], error: serde_json::Error) -> String {
    let values = serde_json::Deserializer::from_slice(line).into_iter::<IgnoredAny>();
    let mut count = 0;
    for value in values {
        match value {
            Ok(_) => count += 1,
            Err(_) => {
                count = 0;
                break;
            }
        }
    }
    if count >= 2 {
        return format!(
            "holds {count} JSON values: write one message per line, each ended by a newline"
        );
    }
    let mut de = serde_json::Deserializer::from_slice(line);
    de.disable_recursion_limit();
    if nesting_depth(line) <= MAX_DEPTH && IgnoredAny::deserialize(&mut de).is_ok() {
        format!(
            "is not a Maelstrom message ({error}); a message is {{\"src\", \"dest\", \"body\"}} \
             and nothing else"
        )
    } else {
        format!("is not JSON ({error}); stdout is only for messages, log to stderr")
    }
}

/// How deeply arrays and objects nest in `line` (strings skipped); cheap, for bad lines only.
fn nesting_depth(line: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in line {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A line as shown in a diagnostic: quoted, lossy UTF-8, cut at 200 characters.
pub(super) struct ShownLine<'a>(&'a [u8]);

impl std::fmt::Display for ShownLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(self.0);
        let mut shown: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            shown.push('…');
        }
        write!(f, "{shown:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<WireEnvelope<'_>, String> {
        parse_envelope(line.as_bytes(), 3, &mut LastArray::default())
    }

    /// The body's text and whether the exact mode would have parsed it.
    fn raw(e: &WireEnvelope<'_>) -> (String, bool) {
        match &e.body {
            WireBody::Raw {
                text,
                parsed_in_exact_mode,
                ..
            } => (
                String::from_utf8(text.to_vec()).unwrap(),
                *parsed_in_exact_mode,
            ),
            WireBody::Parsed(v) => panic!("parsed in the fast mode: {v}"),
        }
    }

    #[test]
    fn a_body_for_a_node_is_kept_as_the_sender_wrote_it() {
        let line = r#"{"src":"n0","dest":"n1","body":{"z":1,"a":[18446744073709551616, 2.50]}}"#;
        let e = parse(line).unwrap();
        let body = r#"{"z":1,"a":[18446744073709551616, 2.50]}"#;
        assert_eq!(raw(&e), (body.to_string(), false));
    }

    #[test]
    fn a_body_for_a_client_or_service_is_kept_as_text_shown_as_a_map() {
        for dest in ["c4", "lin-kv"] {
            let line = format!(r#"{{"src":"n0","dest":"{dest}","body":{{"in_reply_to": 1}}}}"#);
            let e = parse(&line).unwrap();
            assert_eq!(
                raw(&e),
                (r#"{"in_reply_to": 1}"#.to_string(), true),
                "{dest}"
            );
        }
        // `dest` after the body: shown as a map, whoever the recipient.
        let e = parse(r#"{"body":{"in_reply_to":1},"src":"n0","dest":"n2"}"#).unwrap();
        assert!(raw(&e).1);
        // Text reads as the same map, and a reply's is shown as that map is written.
        let text: Box<[u8]> = br#"{"in_reply_to": 1, "a": 2.50}"#.to_vec().into();
        assert_eq!(Body::Raw(text.clone()).into_map()["in_reply_to"], 1);
        let mut shown = Vec::new();
        Body::Reply(text, None).write_json(&mut shown);
        assert_eq!(shown, br#"{"a":2.5,"in_reply_to":1}"#);
    }

    #[test]
    fn what_serde_json_refuses_as_a_value_is_refused_in_a_reply() {
        // Skipping over these as text accepts them; the exact mode refuses them in a body it
        // parses, and so does the wire check, with its diagnostics.
        let deep = format!("{}{}", "[".repeat(1001), "]".repeat(1001));
        let long = "1".repeat(400);
        for body in [
            r#"{"a":"\ud800"}"#.to_string(),
            r#"{"a":1e999}"#.to_string(),
            format!(r#"{{"a":{long}}}"#),
            format!(r#"{{"a":{deep}}}"#),
        ] {
            let to_client = format!(r#"{{"src":"n0","dest":"c1","body":{body}}}"#);
            assert!(parse(&to_client).is_err(), "{body}");
            let to_node = format!(r#"{{"src":"n0","dest":"n1","body":{body}}}"#);
            assert!(parse(&to_node).is_ok(), "{body}");
        }
        // Fine as values: read in the fast mode or the exact one alike.
        let fine = format!(
            r#"{{"a":"\u00e9","b":1e5,"c":{}}}"#,
            "[".repeat(200) + &"]".repeat(200)
        );
        let line = format!(r#"{{"src":"n0","dest":"c1","body":{fine}}}"#);
        let e = parse(&line).unwrap();
        assert!(matches!(e.body, WireBody::Parsed(Value::Object(_))));
        assert!(may_differ_as_a_value(fine.as_bytes()));
        assert!(!may_differ_as_a_value(
            br#"{"type":"read_ok","messages":[1,2,3]}"#
        ));
    }

    #[test]
    fn the_envelope_stays_closed_and_its_body_valid() {
        let unknown = parse(r#"{"src":"n0","dest":"n1","body":{},"extra":1}"#);
        assert!(unknown.unwrap_err().contains("unknown field `extra`"));
        let twice = parse(r#"{"src":"n0","dest":"n1","src":"n2","body":{}}"#);
        assert!(twice.unwrap_err().contains("duplicate field `src`"));
        let missing = parse(r#"{"src":"n0","dest":"n1"}"#);
        assert!(missing.unwrap_err().contains("missing field `body`"));
        // A raw body is still checked JSON: a broken one makes the line bad.
        let broken = parse(r#"{"src":"n0","dest":"n1","body":{"a":[1,}}"#);
        assert!(broken.unwrap_err().contains("is not JSON"));
    }
}
