//! The journal's messages as the report keeps them: built line by line from `messages.jsonl`,
//! or from the network's events as a run writes them (their bodies then ranges of the text
//! the store wrote, see [`BodyText`]).

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::io::BufRead as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::json_scan;
use super::short_name::{ShortName, RECENT};
use super::{body_kind, Fate, JournalMessage};
use crate::history::{Nanos, SmallKeyHasher};

/// A message's body text: its own, or a range of a text shared with other messages (the
/// journal's text as the store wrote it: the report need not copy each body again).
#[derive(Clone)]
pub struct BodyText(BodyRepr);

#[derive(Clone)]
enum BodyRepr {
    Own(Box<str>),
    Shared {
        text: Arc<String>,
        start: u32,
        end: u32,
    },
    /// A range of the chunk of text the journal is still writing (only inside the builder:
    /// [`JournalBuilder::chunk_done`] shares the chunk with it).
    Pending {
        start: u32,
        end: u32,
    },
}

impl BodyText {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            BodyRepr::Own(text) => text,
            BodyRepr::Shared { text, start, end } => &text[*start as usize..*end as usize],
            BodyRepr::Pending { .. } => "",
        }
    }
}

impl From<&str> for BodyText {
    fn from(text: &str) -> BodyText {
        BodyText(BodyRepr::Own(text.into()))
    }
}

impl std::ops::Deref for BodyText {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for BodyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A line of the journal, borrowed from the line's text.
pub(super) struct JournalLine<'a> {
    pub(super) time: Nanos,
    pub(super) kind: Cow<'a, str>,
    pub(super) id: u64,
    pub(super) src: Cow<'a, str>,
    pub(super) dest: Cow<'a, str>,
    /// The body's JSON text.
    pub(super) body: Option<&'a str>,
}

/// A journal line as serde reads it (any layout, escapes included).
#[derive(Deserialize)]
pub(super) struct SerdeJournalLine<'a> {
    pub(super) time: Nanos,
    #[serde(rename = "type", borrow)]
    pub(super) kind: Cow<'a, str>,
    pub(super) id: u64,
    #[serde(borrow)]
    pub(super) src: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) dest: Cow<'a, str>,
    #[serde(default, borrow)]
    pub(super) body: Option<&'a RawValue>,
}

impl<'a> JournalLine<'a> {
    /// A journal line: as the network writes them (its fields in its order, no escapes but in
    /// the body) read directly, the body only checked to be JSON; any other line by serde.
    pub(super) fn parse(line: &'a str) -> Option<JournalLine<'a>> {
        JournalLine::parse_as_written(line.trim_end()).or_else(|| {
            let l = serde_json::from_str::<SerdeJournalLine>(line).ok()?;
            Some(JournalLine {
                time: l.time,
                kind: l.kind,
                id: l.id,
                src: l.src,
                dest: l.dest,
                body: l.body.map(RawValue::get),
            })
        })
    }

    /// A line in the network's layout (`messages.jsonl` as the network writes it), its body
    /// checked to be JSON; any other layout answers `None` and is left to serde.
    pub(super) fn parse_as_written(line: &'a str) -> Option<JournalLine<'a>> {
        let rest = line.strip_prefix("{\"time\":")?;
        let (time, rest) = json_scan::leading_u64(rest)?;
        let (kind, rest) = json_scan::leading_plain_str(rest.strip_prefix(",\"type\":")?)?;
        let (id, rest) = json_scan::leading_u64(rest.strip_prefix(",\"id\":")?)?;
        let (src, rest) = json_scan::leading_plain_str(rest.strip_prefix(",\"src\":")?)?;
        let (dest, rest) = json_scan::leading_plain_str(rest.strip_prefix(",\"dest\":")?)?;
        let body = match rest {
            "}" => None,
            _ => {
                let text = rest.strip_prefix(",\"body\":")?.strip_suffix('}')?;
                serde_json::from_str::<&RawValue>(text).ok()?;
                Some(text)
            }
        };
        Some(JournalLine::borrowed(time, kind, id, src, dest, body))
    }

    /// A line of borrowed parts.
    pub(super) fn borrowed(
        time: Nanos,
        kind: &'a str,
        id: u64,
        src: &'a str,
        dest: &'a str,
        body: Option<&'a str>,
    ) -> JournalLine<'a> {
        JournalLine {
            time,
            kind: Cow::Borrowed(kind),
            id,
            src: Cow::Borrowed(src),
            dest: Cow::Borrowed(dest),
            body,
        }
    }
}

/// Reads `messages.jsonl`; a line that does not parse is skipped with a note on stderr.
pub fn read_journal(path: &Path) -> anyhow::Result<Vec<JournalMessage>> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    let mut journal = JournalBuilder::default();
    // One buffer for every line (a line is parsed in place, borrowed).
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader
            .read_line(&mut line)
            .with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            break;
        }
        journal.push_line(&line);
    }
    Ok(journal.finish(&path.display().to_string()))
}

/// The journal's messages, built line by line: from the file ([`read_journal`]), or from the
/// lines as the network writes them, so that the report of a run that has just been made does
/// not read `messages.jsonl` back (see `report::RunDir::journal`).
#[derive(Default)]
pub struct JournalBuilder {
    /// The messages: the full chunks of [`JournalBuilder::CHUNK`], then the last one. A run's
    /// tens of thousands of messages are not grown into one vector as they come (each large
    /// realloc copies all of them again): the chunks are joined once, by `finish`.
    full: Vec<Vec<JournalMessage>>,
    messages: Vec<JournalMessage>,
    /// Message id → its index in `messages`, once the ids are not the indices (the network
    /// numbers its messages from 0 in send order, so a journal it wrote never needs this).
    by_id: Option<HashMap<u64, usize, BuildHasherDefault<SmallKeyHasher>>>,
    /// The names seen (participants, types), by their text: most are short, and found by
    /// their text packed into a number (hashed and compared at once, see [`ShortName`]).
    short_names: HashMap<ShortName, Arc<str>, BuildHasherDefault<SmallKeyHasher>>,
    names: HashMap<Box<[u8]>, Arc<str>, BuildHasherDefault<SmallKeyHasher>>,
    /// The short names found last, by a few bits of their packed text (empty until the first).
    recent: Vec<(ShortName, Option<Arc<str>>)>,
    /// Lines that were not a send, recv or drop of a known message.
    bad: usize,
    /// The first message whose body may still be pending (see [`JournalBuilder::chunk_done`]).
    pending_from: usize,
}

impl JournalBuilder {
    /// Messages per chunk (about 100 kB).
    pub(super) const CHUNK: usize = 1024;

    /// The number of messages so far.
    fn len(&self) -> usize {
        self.full.len() * JournalBuilder::CHUNK + self.messages.len()
    }

    /// The message at `index` (below [`JournalBuilder::len`]).
    fn message_mut(&mut self, index: usize) -> &mut JournalMessage {
        let (chunk, at) = (index / JournalBuilder::CHUNK, index % JournalBuilder::CHUNK);
        match self.full.get_mut(chunk) {
            Some(full) => &mut full[at],
            None => &mut self.messages[at],
        }
    }

    /// Adds a line of `messages.jsonl` (any layout serde reads).
    pub fn push_line(&mut self, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        match JournalLine::parse(line) {
            Some(event) => self.push(event),
            None => self.bad += 1,
        }
    }

    /// Adds an event as the network hands it over (see [`crate::net::Journal`]): nothing to
    /// parse, and its body is not checked to be JSON again (the wire check validated it, or
    /// the workbench wrote it).
    pub fn push_event(
        &mut self,
        time: Nanos,
        kind: &str,
        id: u64,
        src: &str,
        dest: &str,
        body: Option<&str>,
    ) {
        self.push(JournalLine::borrowed(time, kind, id, src, dest, body));
    }

    /// [`JournalBuilder::push_event`] of a send whose addresses are bytes (as the network
    /// writes them); false, with nothing added, when one is not UTF-8.
    pub fn push_send(
        &mut self,
        time: Nanos,
        id: u64,
        src: &[u8],
        dest: &[u8],
        body: Option<&str>,
    ) -> bool {
        let (Some(src), Some(dest)) = (self.name(src), self.name(dest)) else {
            return false;
        };
        self.send(time, id, src, dest, body);
        true
    }

    /// A delivery (`recv`) or a drop of the message `id`.
    pub fn push_fate(&mut self, time: Nanos, delivered: bool, id: u64) {
        let index = match &self.by_id {
            None => usize::try_from(id).ok().filter(|&i| i < self.len()),
            Some(by_id) => by_id.get(&id).copied(),
        };
        let Some(i) = index else {
            self.bad += 1;
            return;
        };
        self.message_mut(i).fate = if delivered {
            Fate::Delivered(time)
        } else {
            Fate::Dropped(time)
        };
    }

    fn push(&mut self, event: JournalLine<'_>) {
        match &*event.kind {
            "send" => {
                let src = self.name(event.src.as_bytes()).expect("a str");
                let dest = self.name(event.dest.as_bytes()).expect("a str");
                self.send(event.time, event.id, src, dest, event.body);
            }
            "recv" | "drop" => self.push_fate(event.time, event.kind == "recv", event.id),
            _ => self.bad += 1,
        }
    }

    fn send(&mut self, time: Nanos, id: u64, src: Arc<str>, dest: Arc<str>, body: Option<&str>) {
        self.send_kept(time, id, src, dest, body, None);
    }

    /// A send whose body is kept in the chunk of journal text being written, at `at` in it
    /// (see [`JournalBuilder::chunk_done`]): the message's body will be that range of the
    /// chunk, not a copy. Its addresses' names are the caller's (found by
    /// [`JournalBuilder::name`], or kept from an earlier call).
    pub fn push_send_kept(
        &mut self,
        time: Nanos,
        id: u64,
        (src, dest): (Arc<str>, Arc<str>),
        body: &str,
        at: (u32, u32),
    ) {
        self.send_kept(time, id, src, dest, Some(body), Some(at));
    }

    /// The chunk of journal text the bodies pushed since the last chunk are ranges of
    /// ([`JournalBuilder::push_send_kept`]), now that it is written (the messages' bodies
    /// read empty until then).
    pub fn chunk_done(&mut self, chunk: &Arc<String>) {
        for i in self.pending_from..self.len() {
            let body = &mut self.message_mut(i).body;
            if let BodyRepr::Pending { start, end } = body.0 {
                body.0 = BodyRepr::Shared {
                    text: chunk.clone(),
                    start,
                    end,
                };
            }
        }
        self.pending_from = self.len();
    }

    fn send_kept(
        &mut self,
        time: Nanos,
        id: u64,
        src: Arc<str>,
        dest: Arc<str>,
        body: Option<&str>,
        at: Option<(u32, u32)>,
    ) {
        let index = self.len();
        match &mut self.by_id {
            None if id == index as u64 => {}
            None => {
                let mut by_id: HashMap<u64, usize, _> = (0..index).map(|i| (i as u64, i)).collect();
                by_id.insert(id, index);
                self.by_id = Some(by_id);
            }
            Some(by_id) => {
                by_id.insert(id, index);
            }
        }
        let body = body.unwrap_or("{}");
        let kind = match body_kind(body) {
            Some(kind) => self.name(kind.as_bytes()).expect("a str"),
            None => self.name(b"?").expect("a str"),
        };
        if self.messages.len() == JournalBuilder::CHUNK {
            let full = std::mem::replace(
                &mut self.messages,
                Vec::with_capacity(JournalBuilder::CHUNK),
            );
            self.full.push(full);
        }
        self.messages.push(JournalMessage {
            id,
            src,
            dest,
            sent: time,
            kind,
            body: match at {
                Some((start, end)) => BodyText(BodyRepr::Pending { start, end }),
                None => body.into(),
            },
            fate: Fate::InFlight,
        });
    }

    /// The shared name of this text (None when it is not UTF-8). A short one is looked for
    /// first in [`JournalBuilder::recent`] (a journal names a few dozen participants, over and
    /// over).
    pub fn name(&mut self, text: &[u8]) -> Option<Arc<str>> {
        if let Some(key) = ShortName::of(text) {
            if self.recent.is_empty() {
                self.recent = vec![(ShortName::NONE, None); RECENT];
            }
            let slot = &self.recent[key.slot()];
            if slot.0 == key {
                return slot.1.clone();
            }
            let name = match self.short_names.get(&key) {
                Some(name) => name.clone(),
                None => {
                    let name: Arc<str> = std::str::from_utf8(text).ok()?.into();
                    self.short_names.insert(key, name.clone());
                    name
                }
            };
            self.recent[key.slot()] = (key, Some(name.clone()));
            return Some(name);
        }
        if let Some(name) = self.names.get(text) {
            return Some(name.clone());
        }
        let name: Arc<str> = std::str::from_utf8(text).ok()?.into();
        self.names.insert(text.into(), name.clone());
        Some(name)
    }

    /// The messages in send order; skipped lines are noted on stderr, naming `source`.
    pub fn finish(self, source: &str) -> Vec<JournalMessage> {
        if self.bad > 0 {
            eprintln!(
                "{source}: skipped {} journal lines that were not a send, recv or drop of a \
                 known message",
                self.bad
            );
        }
        if self.full.is_empty() {
            return self.messages;
        }
        let mut all = Vec::with_capacity(self.len());
        for chunk in self.full {
            all.extend(chunk);
        }
        all.extend(self.messages);
        all
    }
}
