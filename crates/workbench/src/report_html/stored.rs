//! A stored run as the report reads it back: `results.json`, `history.jsonl` and the message
//! journal `messages.jsonl`, each optional (a hand-written history has no journal).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::json_scan;
use crate::history::{History, Nanos, OpType, Pair, Process, SmallKeyHasher};
pub use journal::{read_journal, BodyText, JournalBuilder};
#[cfg(test)]
use journal::{JournalLine, SerdeJournalLine};
#[cfg(test)]
use short_name::ShortName;

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Received at this time.
    Delivered(Nanos),
    /// Dropped by a partition at this time (when the recipient's delivery slot reached it).
    Dropped(Nanos),
    /// Still queued when the test ended.
    InFlight,
}

/// One message of the journal: its send, and its delivery or drop.
///
/// Names (participants, types) are shared between the messages: a run journals tens of
/// thousands of messages between a few dozen participants.
#[derive(Clone, Debug)]
pub struct JournalMessage {
    pub id: u64,
    pub src: Arc<str>,
    pub dest: Arc<str>,
    pub sent: Nanos,
    /// The body's `type`.
    pub kind: Arc<str>,
    /// The body's JSON text as it was journaled (kept as text: a read reply of a big run holds
    /// thousands of values, and only a few bodies are ever looked into).
    pub body: BodyText,
    pub fate: Fate,
}

impl JournalMessage {
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The body's JSON text.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// The body's `msg_id` (None when absent or not an integer), read from the body when asked
    /// (only client traffic's are: a run's journal is mostly server messages).
    pub fn msg_id(&self) -> Option<u64> {
        envelope(&self.body).msg_id
    }

    /// The body's `in_reply_to` (None when absent or not an integer), as [`Self::msg_id`].
    pub fn in_reply_to(&self) -> Option<u64> {
        envelope(&self.body).in_reply_to
    }

    /// The body parsed (an empty map if it is not an object).
    pub fn body_map(&self) -> Map<String, Value> {
        serde_json::from_str(&self.body).unwrap_or_default()
    }

    pub fn is_client_traffic(&self) -> bool {
        is_client(&self.src) || is_client(&self.dest)
    }
}

/// Client ids are `c<number>`.
pub fn is_client(id: &str) -> bool {
    id.strip_prefix('c')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Only the `type` of a body.
#[derive(Deserialize)]
struct BodyType {
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// The files of one run directory, parsed.
pub struct StoredRun<'h> {
    pub dir: PathBuf,
    /// `results.json`, or `Value::Null` when there is none.
    pub results: Value,
    /// Borrowed from the run when it has just been made, read from `history.jsonl` otherwise.
    pub history: Cow<'h, History>,
    /// Messages in send order (empty without a journal).
    pub messages: Vec<JournalMessage>,
    pub has_journal: bool,
    /// The history's pairs as positions in its ops, found once (see [`StoredRun::pairs`]).
    pub(super) pair_positions: OnceLock<Vec<(usize, Option<usize>)>>,
}

impl<'h> StoredRun<'h> {
    /// Reads a run directory; `history` is the run's own when the caller has it in memory
    /// (so that a big history is not parsed a second time).
    pub fn load(dir: &Path, history: Option<&'h History>) -> anyhow::Result<StoredRun<'h>> {
        StoredRun::load_with(dir, history, None)
    }

    /// [`StoredRun::load`], with the journal's messages too when the caller has them (the run
    /// has just written `messages.jsonl`, see [`JournalBuilder`]).
    pub fn load_with(
        dir: &Path,
        history: Option<&'h History>,
        messages: Option<Vec<JournalMessage>>,
    ) -> anyhow::Result<StoredRun<'h>> {
        let results = match std::fs::read_to_string(dir.join("results.json")) {
            Ok(text) => serde_json::from_str(&text).context("parsing results.json")?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
            Err(e) => return Err(e).context("reading results.json"),
        };
        let history = match history {
            Some(h) => Cow::Borrowed(h),
            None => {
                let path = dir.join("history.jsonl");
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Cow::Owned(History::from_jsonl(&text)?)
            }
        };
        let journal = dir.join("messages.jsonl");
        let has_journal = journal.exists();
        let messages = match messages {
            Some(messages) if has_journal => messages,
            _ if has_journal => read_journal(&journal)?,
            _ => Vec::new(),
        };
        Ok(StoredRun {
            dir: dir.to_path_buf(),
            results,
            history,
            messages,
            has_journal,
            pair_positions: OnceLock::new(),
        })
    }

    /// [`History::pairs`] of the run's history: found once, as positions, for the report's
    /// parts that each walk them (the op messages, the trails, the plots and the data).
    pub fn pairs(&self) -> Vec<Pair<'_>> {
        let ops = &self.history.ops;
        let at = self
            .pair_positions
            .get_or_init(|| pair_positions(&self.history));
        at.iter()
            .map(|&(invoke, completion)| Pair {
                invoke: &ops[invoke],
                completion: completion.map(|c| &ops[c]),
            })
            .collect()
    }

    /// Test time at the end of the run: `perf.test_time_s`, else the last event seen.
    pub fn end_time(&self) -> Nanos {
        if let Some(s) = self.results["perf"]["test_time_s"].as_f64() {
            return (s * 1e9).round() as Nanos;
        }
        let last_op = self.history.ops.iter().map(|op| op.time).max().unwrap_or(0);
        let last_msg = self
            .messages
            .iter()
            .map(|m| match m.fate {
                Fate::Delivered(t) | Fate::Dropped(t) => t,
                Fate::InFlight => m.sent,
            })
            .max()
            .unwrap_or(0);
        last_op.max(last_msg)
    }
}

/// [`History::pairs`] as positions in the history's ops (the same walk).
fn pair_positions(history: &History) -> Vec<(usize, Option<usize>)> {
    let mut open: HashMap<Process, usize, BuildHasherDefault<SmallKeyHasher>> = HashMap::default();
    let mut pairs = Vec::new();
    for (i, op) in history.ops.iter().enumerate() {
        if !op.is_client() {
            continue;
        }
        if op.kind == OpType::Invoke {
            open.insert(op.process, pairs.len());
            pairs.push((i, None));
        } else if let Some(k) = open.remove(&op.process) {
            pairs[k].1 = Some(i);
        }
    }
    pairs
}

/// The top-level fields a body's envelope is read from (a repeated one is left to serde).
const ENVELOPE_FIELDS: [&str; 3] = ["type", "msg_id", "in_reply_to"];

/// A body's `type` (when it is a string), from the walk over its top-level fields; anything
/// unusual is left to serde. A body as nodes write them, `type` first, is read at once (see
/// [`leading_type`]).
fn body_kind(body: &str) -> Option<Cow<'_, str>> {
    if let Some(kind) = leading_type(body) {
        return Some(Cow::Borrowed(kind));
    }
    let fields = json_scan::top_level_fields(body, ENVELOPE_FIELDS);
    match fields.and_then(|[kind, ..]| json_scan::as_optional_plain_str(kind)) {
        Some(kind) => kind.map(Cow::Borrowed),
        None => serde_json::from_str::<BodyType>(body)
            .ok()
            .and_then(|b| b.kind)
            .map(Cow::Owned),
    }
}

/// The `type` of a body that begins `{"type":"` (as nodes write them) or ends `"type":"…"}`
/// (as the workbench does, keys in order), when that is surely its only `type`: no escape
/// anywhere in it (so every quote opens or closes a string, and no key is `type` written
/// another way) and no other `"type"` in its text. A body is a JSON object, so such a first or
/// last field is a top-level one.
fn leading_type(body: &str) -> Option<&str> {
    const KEY: &str = "\"type\":";
    let bytes = body.as_bytes();
    if let Some(rest) = body.strip_prefix("{\"type\":\"") {
        // The value ends at the first quote; from that quote on, the one pass looks for an
        // escape or another `"type"` (the prefix has neither, the value is looked at apart).
        let end = memchr::memchr(b'"', rest.as_bytes())?;
        let value = &rest[..end];
        let tail = &bytes[body.len() - rest.len() + end..];
        if memchr::memchr(b'\\', value.as_bytes()).is_some() {
            return None;
        }
        for at in memchr::memchr2_iter(b'\\', b'y', tail) {
            if tail[at] == b'\\' || (at >= 2 && tail.get(at - 2..at + 4) == Some(&b"\"type\""[..]))
            {
                return None;
            }
        }
        return Some(value);
    }
    // One pass for both: an escape anywhere, and where `"type"` is first.
    let mut first = None;
    for at in memchr::memchr2_iter(b'\\', b'y', bytes) {
        if bytes[at] == b'\\' {
            return None;
        }
        if at >= 2 && bytes.get(at - 2..at + 4) == Some(&b"\"type\""[..]) {
            first.get_or_insert(at - 2);
        }
    }
    let inner = body.strip_suffix("\"}")?;
    let open = memchr::memrchr(b'"', inner.as_bytes())?;
    let key_at = inner[..open].strip_suffix(KEY)?.len();
    if !matches!(bytes.get(key_at.checked_sub(1)?), Some(b',' | b'{')) || first != Some(key_at) {
        return None;
    }
    Some(&inner[open + 1..])
}

/// A body's envelope numbers: at once for a body as nodes and the workbench write them (see
/// [`quick_envelope`]), else from the walk over its top-level fields; anything unusual is left
/// to serde.
fn envelope(body: &str) -> Envelope {
    quick_envelope(body).unwrap_or_else(|| walked_envelope(body))
}

/// The envelope's numbers when each of `msg_id` and `in_reply_to` is surely absent or surely
/// a top-level integer, from one pass over the body for its escapes and underscores (rare in a
/// body but in these keys and in a few `type`s): the body is an object without an escape (so
/// every quote opens or closes a string, a `"key"` followed by `:` is a key, and no key is
/// written another way), and each key's text appears nowhere, or exactly once as a field with
/// no bracket before it or as the object's last (a number just before the object's closing
/// brace is a top-level value). Replies end `"in_reply_to":N}`; requests, keys in order, have
/// `"msg_id":N` first or after a few scalars. `None`: left to the walk (a read reply's long
/// array of arrays is skipped bracket by bracket there).
fn quick_envelope(body: &str) -> Option<Envelope> {
    // Each key's text, how far its first underscore is into it, and where it was (the
    // opening quote) and how often.
    const KEYS: [(&[u8], usize); 2] = [(b"\"msg_id\"", 4), (b"\"in_reply_to\"", 3)];
    let bytes = body.as_bytes();
    if bytes.first() != Some(&b'{') {
        return None;
    }
    let mut found = [(0usize, 0u32); 2];
    for at in memchr::memchr2_iter(b'\\', b'_', bytes) {
        if bytes[at] == b'\\' {
            return None;
        }
        for (&(key, underscore), (start, count)) in KEYS.iter().zip(&mut found) {
            if at >= underscore
                && bytes.get(at - underscore..at - underscore + key.len()) == Some(key)
            {
                *start = at - underscore;
                *count += 1;
            }
        }
    }
    // A key's number: `Some(None)` when absent, `None` when left to the walk.
    let field = |k: usize| -> Option<Option<u64>> {
        let ((key, _), (at, count)) = (KEYS[k], found[k]);
        match count {
            0 => Some(None),
            1 => {
                let (n, rest) = json_scan::leading_u64(body[at + key.len()..].strip_prefix(':')?)?;
                // The object's last field (looked at first: a read reply's long array before
                // its `in_reply_to` is then not looked through again), or one with no bracket
                // before it: every field before is a scalar, so it is a top-level one (a
                // bracket in a string before it only leaves the body to the walk).
                let last = rest == "}" && matches!(bytes[at - 1], b',' | b'{');
                let flat = || {
                    (rest.starts_with(',') || rest == "}")
                        && memchr::memchr2(b'[', b'{', &bytes[1..at]).is_none()
                };
                (last || flat()).then_some(Some(n))
            }
            _ => None,
        }
    };
    Some(Envelope {
        msg_id: field(0)?,
        in_reply_to: field(1)?,
    })
}

/// [`envelope`] by the walk over the top-level fields (or serde).
fn walked_envelope(body: &str) -> Envelope {
    let fields = json_scan::top_level_fields(body, ENVELOPE_FIELDS);
    let scanned = fields.and_then(|[_, msg_id, in_reply_to]| {
        Some(Envelope {
            msg_id: json_scan::as_optional_u64(msg_id)?,
            in_reply_to: json_scan::as_optional_u64(in_reply_to)?,
        })
    });
    scanned.unwrap_or_else(|| serde_json::from_str(body).unwrap_or_default())
}

/// The journal messages of each client op, by the history index of its invocation (see
/// [`op_messages`]).
pub type OpMessages = HashMap<usize, Vec<usize>, BuildHasherDefault<SmallKeyHasher>>;

/// For each client op (by the history index of its invocation), the journal messages that
/// belong to it: its requests and the replies to them, in send order.
///
/// A history the runner wrote names each op's client and its requests' `msg_id`s
/// ([`crate::history::OpRequests`]), so the match is exact. An op without them (a history
/// stored before they were recorded, or written by hand) is matched by time instead: an op's
/// first request leaves its client at the invocation's instant (client traffic has no
/// latency), and a process keeps its client until it is discarded.
pub fn op_messages(history: &History, messages: &[JournalMessage]) -> OpMessages {
    op_messages_of(history, &history.pairs(), messages)
}

/// [`op_messages`], given the history's pairs.
pub fn op_messages_of(
    history: &History,
    pairs: &[Pair<'_>],
    messages: &[JournalMessage],
) -> OpMessages {
    let mut out: OpMessages = OpMessages::default();
    let mut inferred = Vec::new();
    let mut exact = Vec::new();
    for pair in pairs {
        match history.requests(pair.invoke.index) {
            Some(r) => exact.push((pair.invoke.index, r)),
            None => inferred.push(*pair),
        }
    }
    if !exact.is_empty() {
        // (client, msg_id) → the request, and the replies to it (sorted by key, then by
        // journal order).
        let mut requests: HashMap<ClientMsg, usize, BuildHasherDefault<SmallKeyHasher>> =
            HashMap::default();
        let mut replies: Vec<(ClientMsg, usize)> = Vec::new();
        for (i, m) in messages.iter().enumerate() {
            if is_client(&m.src) {
                if let Some(k) = m.msg_id().and_then(|id| client_msg(&m.src, id)) {
                    requests.insert(k, i);
                }
            } else if is_client(&m.dest) {
                if let Some(k) = m.in_reply_to().and_then(|id| client_msg(&m.dest, id)) {
                    replies.push((k, i));
                }
            }
        }
        replies.sort_unstable();
        out.reserve(exact.len());
        for (invoke, r) in exact {
            let mut mine = Vec::new();
            for k in r.msg_ids.iter().filter_map(|&id| client_msg(r.client, id)) {
                mine.extend(requests.get(&k));
                let first = replies.partition_point(|&(key, _)| key < k);
                mine.extend(
                    replies[first..]
                        .iter()
                        .take_while(|&&(key, _)| key == k)
                        .map(|&(_, i)| i),
                );
            }
            mine.sort_unstable();
            out.insert(invoke, mine);
        }
    }
    if !inferred.is_empty() {
        out.extend(op_messages_by_time(&inferred, messages));
    }
    out
}

/// A client message's identity as numbers: the client's (`c<number>`, with the name's length,
/// so that `c07` is not `c7`) and the message's `msg_id`.
type ClientMsg = (u64, usize, u64);

fn client_msg(client: &str, msg_id: u64) -> Option<ClientMsg> {
    let digits = client.strip_prefix('c')?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = digits.parse().ok()?;
    Some((number, client.len(), msg_id))
}

/// The envelope's numbers of a client message.
#[derive(Deserialize, Default, Debug, PartialEq, Eq)]
struct Envelope {
    msg_id: Option<u64>,
    in_reply_to: Option<u64>,
}

/// [`op_messages`] for ops that do not name their requests: matched by time.
fn op_messages_by_time(
    pairs: &[crate::history::Pair<'_>],
    messages: &[JournalMessage],
) -> OpMessages {
    // Client requests by send time, and client messages by client: only those that are looked
    // up, at the instants these ops were invoked and of the clients that sent a request then
    // (these ops are usually a few of a big run's).
    type Fast = BuildHasherDefault<SmallKeyHasher>;
    let times: HashSet<Nanos, Fast> = pairs.iter().map(|p| p.invoke.time).collect();
    let mut requests_at: HashMap<Nanos, Vec<usize>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        if times.contains(&m.sent) && is_client(&m.src) {
            requests_at.entry(m.sent).or_default().push(i);
        }
    }
    let clients: HashSet<&str, Fast> = (requests_at.values().flatten())
        .map(|&i| &*messages[i].src)
        .collect();
    let mut by_client: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, m) in messages.iter().enumerate() {
        let client: &str = if is_client(&m.src) {
            &m.src
        } else if is_client(&m.dest) {
            &m.dest
        } else {
            continue;
        };
        if clients.contains(client) {
            by_client.entry(client).or_default().push(i);
        }
    }
    let mut claimed = vec![false; messages.len()];
    let mut out: OpMessages = OpMessages::default();
    for pair in pairs {
        let invoke = pair.invoke;
        let Some(candidates) = requests_at.get(&invoke.time) else {
            continue;
        };
        let Some(&first) = candidates.iter().find(|&&i| !claimed[i]) else {
            continue;
        };
        claimed[first] = true;
        let client = &*messages[first].src;
        let until = pair.completion.map(|c| c.time);
        let mut mine = Vec::new();
        for &i in &by_client[client] {
            let m = &messages[i];
            if m.sent < invoke.time || until.is_some_and(|t| m.sent > t) {
                continue;
            }
            if i != first && claimed[i] && is_client(&m.src) {
                continue;
            }
            if is_client(&m.src) {
                claimed[i] = true;
            }
            mine.push(i);
        }
        out.insert(invoke.index, mine);
    }
    out
}

/// The node that served an op: the destination of its first request.
pub fn serving_node(
    op_messages: &OpMessages,
    messages: &[JournalMessage],
    invoke_index: usize,
) -> Option<String> {
    let first = *op_messages.get(&invoke_index)?.first()?;
    Some(messages[first].dest.to_string())
}

mod journal;
mod short_name;
#[cfg(test)]
mod tests;
