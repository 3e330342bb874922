//! Answering requests: [`ReplyTo`], the handle a node answers a request through, the `reply`
//! methods of [`Ctx`], and the book of requests that still await their answer (so that a
//! request answered twice, or never, is noticed).

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use crate::engine::{Ctx, Engine, Node};
use crate::protocol::{ErrorBody, ErrorCode, RpcError};

impl<N: Node> Ctx<N> {
    /// Answers a request. `body` must serialize to a JSON object with a `type`; the runtime
    /// adds `in_reply_to`, replacing any `in_reply_to` or `msg_id` the body holds (so a reply
    /// received from another node can be relayed as it is). A request without `msg_id` expects
    /// no answer: then nothing is sent.
    ///
    /// A request is answered once. A second answer (through a clone of `to`) is a bug in the
    /// node: it is not sent, and it panics in debug builds (tests) or is logged in release
    /// builds; see [`Engine::set_strict`].
    pub fn reply(&mut self, to: &ReplyTo, body: impl Serialize) {
        let Some(msg_id) = self.claim_answer(to) else {
            return;
        };
        if let Err(e) = self.emit(to.src(), &body, Some(msg_id), None) {
            self.log(format_args!(
                "reply to {} (in_reply_to {msg_id}) not sent: {e}",
                to.src()
            ));
        }
    }

    /// The `msg_id` to answer `to` with, if it wants an answer and has none yet (a second
    /// answer is reported here).
    #[inline]
    pub(crate) fn claim_answer(&mut self, to: &ReplyTo) -> Option<u64> {
        let msg_id = to.msg_id?;
        if self.answers.answer(to.request) == Answer::Again {
            self.answered_twice(to, msg_id);
            return None;
        }
        Some(msg_id)
    }

    #[cold]
    fn answered_twice(&mut self, to: &ReplyTo, msg_id: u64) {
        let what = format!(
            "request {msg_id} from {} answered twice; the second answer is not sent",
            to.src()
        );
        if self.strict {
            panic!("glomers-node: {what} (debug builds panic on this; Engine::set_strict(false) only logs it)");
        }
        self.log(format_args!("bug: {what}"));
    }

    /// Answers a request with `Ok`'s body or `Err`'s error: the usual end of a chain whose
    /// steps fail with [`RpcError`] or [`crate::KvError`] (`?`-style with `map_err`, or as
    /// they come).
    pub fn reply_result<T: Serialize, E: Into<RpcError>>(
        &mut self,
        to: &ReplyTo,
        result: Result<T, E>,
    ) {
        match result {
            Ok(body) => self.reply(to, body),
            Err(e) => self.reply_failure(to, e),
        }
    }

    /// Answers a request with an error body carrying `error`'s code and text: an
    /// [`RpcError`] as received, or a [`crate::KvError`] (a timeout stays code 0, indefinite).
    pub fn reply_failure(&mut self, to: &ReplyTo, error: impl Into<RpcError>) {
        let error = error.into();
        self.reply(to, ErrorBody::new(error.code, error.text));
    }

    /// Answers a request with an error body `{"type":"error","code":..,"text":..}`.
    pub fn reply_error(&mut self, to: &ReplyTo, code: ErrorCode, text: impl Into<String>) {
        let text = text.into();
        self.reply(to, ErrorBody::new(code, text));
    }
}

impl<N: Node> Engine<N> {
    /// Whether a second answer to one request panics (`true`, the default in debug builds, so
    /// that tests fail on it) or is only logged (`false`, the default in release builds). The
    /// second answer is never sent.
    pub fn set_strict(&mut self, strict: bool) {
        self.ctx.strict = strict;
    }

    /// Requests delivered with a `msg_id` that the node has not answered yet, oldest first, as
    /// (sender, `msg_id`). At most 100 000 are remembered one by one; see
    /// [`Engine::unanswered_count`] for the total.
    pub fn unanswered(&self) -> Vec<(String, u64)> {
        self.ctx.answers.open_requests().0
    }

    /// How many requests delivered with a `msg_id` are not answered yet.
    pub fn unanswered_count(&self) -> u64 {
        self.ctx.answers.open_count()
    }

    /// Logs the requests never answered, if any: [`crate::run`] calls this when its input
    /// ends; a test harness may call it (or check [`Engine::unanswered`]) at the end of a run.
    pub fn report_unanswered(&mut self) {
        let count = self.unanswered_count();
        if count == 0 {
            return;
        }
        const SHOWN: usize = 10;
        let open = self.unanswered();
        let mut list: Vec<String> = open
            .iter()
            .take(SHOWN)
            .map(|(src, msg_id)| format!("{src} msg_id {msg_id}"))
            .collect();
        if count > SHOWN as u64 {
            list.push(format!("and {} more", count - SHOWN as u64));
        }
        self.ctx.log(format_args!(
            "{count} request(s) never answered: {}",
            list.join(", ")
        ));
    }
}

/// Whom to answer: the sender of a request and its `msg_id`. Cheap to clone (short ids such as
/// `c12` or `n3` are stored inline), so a node may keep it to reply later.
///
/// Each request is answered once: the runtime notices a second answer through any clone of
/// the same `ReplyTo` (see [`crate::Ctx::reply`]) and reports requests never answered when
/// the node stops ([`crate::Engine::unanswered`]).
#[derive(Clone, PartialEq, Eq)]
pub struct ReplyTo {
    pub(crate) src: Name,
    pub(crate) msg_id: Option<u64>,
    /// The runtime's number for the request, 0 when not tracked (made with [`ReplyTo::new`]).
    pub(crate) request: u64,
}

impl ReplyTo {
    /// A handle to answer `msg_id` of `src`, for requests the runtime did not deliver (tests,
    /// or a request handed over from elsewhere). Answers through it are not tracked.
    #[inline]
    pub fn new(src: &str, msg_id: Option<u64>) -> Self {
        ReplyTo {
            src: Name::new(src),
            msg_id,
            request: 0,
        }
    }

    /// The node or client that sent the request.
    #[inline]
    pub fn src(&self) -> &str {
        self.src.as_str()
    }

    /// The request's `msg_id`; `None` when the sender expects no reply.
    #[inline]
    pub fn msg_id(&self) -> Option<u64> {
        self.msg_id
    }
}

impl fmt::Debug for ReplyTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTo")
            .field("src", &self.src())
            .field("msg_id", &self.msg_id)
            .finish()
    }
}

const INLINE: usize = 22;

/// A node id without a heap allocation when it is short.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Name {
    Inline { len: u8, bytes: [u8; INLINE] },
    Shared(Arc<str>),
}

impl Name {
    #[inline]
    pub(crate) fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            // Ids of two or three bytes (`c12`, `n3`: nearly every request) copied by fixed
            // moves rather than a call to `memcpy`.
            match *s.as_bytes() {
                [a, b] => bytes[..2].copy_from_slice(&[a, b]),
                [a, b, c] => bytes[..3].copy_from_slice(&[a, b, c]),
                _ => bytes[..s.len()].copy_from_slice(s.as_bytes()),
            }
            Name::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Name::Shared(s.into())
        }
    }

    /// The id's bytes (those of a `str`), without checking them again.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Name::Inline { len, bytes } => &bytes[..*len as usize],
            Name::Shared(s) => s.as_bytes(),
        }
    }

    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // The bytes were copied from a &str, so this cannot fail.
            Name::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..*len as usize]).unwrap_or("")
            }
            Name::Shared(s) => s,
        }
    }
}

/// Open requests remembered individually; beyond this the oldest are only counted.
const REMEMBERED: usize = 100_000;

/// A request delivered with a `msg_id` and not answered yet.
#[derive(Clone)]
struct Open {
    src: Name,
    msg_id: u64,
}

/// What [`Answers::answer`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The first answer (or an untracked one): send it.
    First,
    /// The request was answered already.
    Again,
}

/// The book of open requests, numbered in delivery order. Most requests are answered by the
/// handler they are delivered to, before the next one arrives: the newest request sits in
/// `current`, which costs a few instructions to fill and clear. A request still open when the
/// next arrives (answered later, or never) moves to `parked`.
pub(crate) struct Answers {
    /// The number the next request gets (numbers start at 1; 0 means untracked).
    next: u64,
    /// The newest request, while it is open.
    current: Option<(u64, Open)>,
    /// Older requests by number, increasing: parking is a push at the back, an answer a
    /// binary search that leaves a hole (`None`). Holes at the front are dropped at once, the
    /// others when they outnumber the open requests.
    parked: VecDeque<(u64, Option<Open>)>,
    /// How many of `parked` are open.
    parked_open: usize,
    /// How many open requests are remembered one by one (beyond: only counted).
    remembered: usize,
    /// Open requests dropped from `parked` (too many): counted, and answers to numbers below
    /// `forgotten_below` are not checked.
    forgotten: u64,
    forgotten_below: u64,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            next: 1,
            current: None,
            parked: VecDeque::new(),
            parked_open: 0,
            remembered: REMEMBERED,
            forgotten: 0,
            forgotten_below: 0,
        }
    }
}

impl Answers {
    /// Records a delivered request; returns its number for the [`ReplyTo`].
    #[inline]
    pub(crate) fn open(&mut self, src: &Name, msg_id: u64) -> u64 {
        let number = self.next;
        self.next += 1;
        let open = Open {
            src: src.clone(),
            msg_id,
        };
        if let Some((older, still_open)) = self.current.replace((number, open)) {
            self.park(older, still_open);
        }
        number
    }

    #[cold]
    fn park(&mut self, number: u64, open: Open) {
        self.parked.push_back((number, Some(open)));
        self.parked_open += 1;
        if self.parked_open > self.remembered {
            // Forget the oldest open request.
            while let Some((oldest, open)) = self.parked.pop_front() {
                if open.is_some() {
                    self.parked_open -= 1;
                    self.forgotten += 1;
                    self.forgotten_below = oldest + 1;
                    break;
                }
            }
            self.drop_holes();
        }
    }

    /// Marks request `number` answered.
    #[inline]
    pub(crate) fn answer(&mut self, number: u64) -> Answer {
        if number == 0 {
            return Answer::First;
        }
        match &self.current {
            Some((current, _)) if *current == number => {
                self.current = None;
                Answer::First
            }
            _ => self.answer_parked(number),
        }
    }

    #[cold]
    fn answer_parked(&mut self, number: u64) -> Answer {
        let found = match self.parked.binary_search_by_key(&number, |(n, _)| *n) {
            Ok(at) => self.parked[at].1.take().is_some(),
            Err(_) => false,
        };
        if found {
            self.parked_open -= 1;
            self.drop_holes();
        }
        if found || number < self.forgotten_below {
            Answer::First
        } else {
            Answer::Again
        }
    }

    /// Drops the holes at the front of `parked`, and all of them once they outnumber the open
    /// requests (so that one request never answered does not keep every later one's hole).
    fn drop_holes(&mut self) {
        while let Some((_, None)) = self.parked.front() {
            self.parked.pop_front();
        }
        if self.parked.len() > 2 * self.parked_open + 64 {
            self.parked.retain(|(_, open)| open.is_some());
        }
    }

    /// The open requests, oldest first, as (sender, msg_id), and how many more were too many
    /// to remember.
    pub(crate) fn open_requests(&self) -> (Vec<(String, u64)>, u64) {
        let list = self
            .parked
            .iter()
            .filter_map(|(_, open)| open.as_ref())
            .chain(self.current.iter().map(|(_, open)| open))
            .map(|open| (open.src.as_str().to_string(), open.msg_id))
            .collect();
        (list, self.forgotten)
    }

    /// How many requests are open.
    pub(crate) fn open_count(&self) -> u64 {
        self.parked_open as u64 + u64::from(self.current.is_some()) + self.forgotten
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Names of every length keep their text and compare as their text does.
    #[test]
    fn names_keep_their_text() {
        let texts: Vec<String> = (0..30)
            .flat_map(|len| ["n", "é", "c9"].map(|unit| unit.repeat(len)))
            .collect();
        for a in &texts {
            let name = Name::new(a);
            assert_eq!(name.as_str(), a);
            assert_eq!(name.as_bytes(), a.as_bytes());
            for b in &texts {
                assert_eq!(name == Name::new(b), a == b, "{a} {b}");
            }
        }
    }

    #[test]
    fn answers_in_any_order_and_catches_seconds() {
        let mut a = Answers::default();
        let n = Name::new("c1");
        let ids: Vec<u64> = (1..=5).map(|m| a.open(&n, m)).collect();
        assert_eq!(a.answer(ids[2]), Answer::First);
        assert_eq!(a.answer(ids[2]), Answer::Again);
        assert_eq!(a.answer(ids[0]), Answer::First);
        assert_eq!(a.answer(ids[0]), Answer::Again);
        assert_eq!(a.open_count(), 3);
        let (open, forgotten) = a.open_requests();
        assert_eq!(
            open,
            vec![("c1".into(), 2), ("c1".into(), 4), ("c1".into(), 5)]
        );
        assert_eq!(forgotten, 0);
        assert_eq!(a.answer(0), Answer::First);
        assert_eq!(a.answer(999), Answer::Again);
    }

    #[test]
    fn long_open_requests_are_parked_and_found_again() {
        let mut a = Answers::default();
        let n = Name::new("c1");
        let first = a.open(&n, 1);
        for m in 2..10_000 {
            let id = a.open(&n, m);
            assert_eq!(a.answer(id), Answer::First);
        }
        assert_eq!(a.parked_open, 1);
        assert_eq!(a.open_count(), 1);
        assert_eq!(a.answer(first), Answer::First);
        assert_eq!(a.answer(first), Answer::Again);
        assert_eq!(a.open_count(), 0);
    }

    /// The book gives what a plain map of open requests gives (forgetting the oldest beyond
    /// its limit), whatever the order of deliveries and answers, first or repeated.
    #[test]
    fn the_book_answers_as_a_map_of_open_requests() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(21);
        for _ in 0..300 {
            let mut book = Answers {
                remembered: rng.gen_range(1..40),
                ..Answers::default()
            };
            let mut open = BTreeMap::new();
            let (mut forgotten, mut forgotten_below, mut issued) = (0u64, 0u64, Vec::new());
            for _ in 0..400 {
                if issued.is_empty() || rng.gen_bool(0.45) {
                    let msg_id = rng.gen_range(0..1000);
                    let number = book.open(&Name::new("c1"), msg_id);
                    open.insert(number, msg_id);
                    issued.push(number);
                    // The newest is never forgotten; the oldest parked ones are, beyond the limit.
                    while open.len() - 1 > book.remembered {
                        let (oldest, _) = open.pop_first().unwrap();
                        forgotten += 1;
                        forgotten_below = oldest + 1;
                    }
                } else {
                    let number = match rng.gen_range(0..4) {
                        0 => rng.gen_range(0..issued.len() as u64 + 3),
                        _ => issued[rng.gen_range(0..issued.len())],
                    };
                    let first =
                        number == 0 || open.remove(&number).is_some() || number < forgotten_below;
                    let expected = if first { Answer::First } else { Answer::Again };
                    assert_eq!(book.answer(number), expected, "{number}");
                }
                let list: Vec<(String, u64)> =
                    open.values().map(|&m| ("c1".to_string(), m)).collect();
                assert_eq!(book.open_requests(), (list, forgotten));
                assert_eq!(book.open_count(), open.len() as u64 + forgotten);
                assert!(book.parked.len() <= 2 * book.parked_open + 64);
            }
        }
    }
}
