//! [`ReplyTo`], the handle a node answers a request through, and the book of requests that
//! still await their answer (so that a request answered twice, or never, is noticed).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;

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
    pub fn new(src: &str, msg_id: Option<u64>) -> Self {
        ReplyTo {
            src: Name::new(src),
            msg_id,
            request: 0,
        }
    }

    /// The node or client that sent the request.
    pub fn src(&self) -> &str {
        self.src.as_str()
    }

    /// The request's `msg_id`; `None` when the sender expects no reply.
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
    pub(crate) fn new(s: &str) -> Self {
        if s.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..s.len()].copy_from_slice(s.as_bytes());
            Name::Inline {
                len: s.len() as u8,
                bytes,
            }
        } else {
            Name::Shared(s.into())
        }
    }

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

/// Requests kept in the window before the oldest open ones move to the side map.
const WINDOW: usize = 4096;
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

/// The book of open requests. Requests are numbered in delivery order; most are answered
/// soon, so the open ones sit in a window that starts at the oldest open request (O(1) per
/// request). Requests that stay open long (deferred answers, or forgotten ones) move to a
/// side map, so the window stays short.
#[derive(Default)]
pub(crate) struct Answers {
    /// The number the next request gets (numbers start at 1; 0 means untracked).
    next: u64,
    /// The number of `window[0]`.
    lo: u64,
    window: VecDeque<Option<Open>>,
    /// Open requests older than the window.
    stale: BTreeMap<u64, Open>,
    /// Open requests dropped from `stale` (too many): counted, and answers to numbers below
    /// `forgotten_below` are not checked.
    forgotten: u64,
    forgotten_below: u64,
}

impl Answers {
    /// Records a delivered request; returns its number for the [`ReplyTo`].
    pub(crate) fn open(&mut self, src: &Name, msg_id: u64) -> u64 {
        if self.next == 0 {
            self.next = 1;
            self.lo = 1;
        }
        let number = self.next;
        self.next += 1;
        self.window.push_back(Some(Open {
            src: src.clone(),
            msg_id,
        }));
        if self.window.len() > WINDOW {
            if let Some(Some(open)) = self.window.pop_front() {
                self.stale.insert(self.lo, open);
                if self.stale.len() > REMEMBERED {
                    if let Some((oldest, _)) = self.stale.pop_first() {
                        self.forgotten += 1;
                        self.forgotten_below = oldest + 1;
                    }
                }
            }
            self.lo += 1;
            self.trim();
        }
        number
    }

    /// Marks request `number` answered.
    pub(crate) fn answer(&mut self, number: u64) -> Answer {
        if number == 0 {
            return Answer::First;
        }
        if number >= self.lo {
            let slot = self.window.get_mut((number - self.lo) as usize);
            match slot.and_then(Option::take) {
                Some(_) => {
                    self.trim();
                    Answer::First
                }
                None => Answer::Again,
            }
        } else if self.stale.remove(&number).is_some() || number < self.forgotten_below {
            Answer::First
        } else {
            Answer::Again
        }
    }

    /// Drops answered requests from the front of the window.
    fn trim(&mut self) {
        while let Some(None) = self.window.front() {
            self.window.pop_front();
            self.lo += 1;
        }
    }

    /// The open requests, oldest first, as (sender, msg_id), and how many more were too many
    /// to remember.
    pub(crate) fn open_requests(&self) -> (Vec<(String, u64)>, u64) {
        let list = self
            .stale
            .values()
            .chain(self.window.iter().flatten())
            .map(|open| (open.src.as_str().to_string(), open.msg_id))
            .collect();
        (list, self.forgotten)
    }

    /// How many requests are open.
    pub(crate) fn open_count(&self) -> u64 {
        self.stale.len() as u64 + self.window.iter().flatten().count() as u64 + self.forgotten
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn long_open_requests_move_aside_and_the_window_stays_short() {
        let mut a = Answers::default();
        let n = Name::new("c1");
        let first = a.open(&n, 1);
        for m in 2..10_000 {
            let id = a.open(&n, m);
            assert_eq!(a.answer(id), Answer::First);
        }
        assert!(a.window.len() <= 1, "{}", a.window.len());
        assert_eq!(a.open_count(), 1);
        assert_eq!(a.answer(first), Answer::First);
        assert_eq!(a.answer(first), Answer::Again);
        assert_eq!(a.open_count(), 0);
    }
}
