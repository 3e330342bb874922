//! The sans-IO core: the [`Node`] trait, the [`Ctx`] a node acts through, and the [`Engine`]
//! that feeds a node input lines and clock ticks and collects its output lines.
//!
//! Nothing here touches a clock, a socket or a thread: time comes in as an argument, output
//! goes into a buffer. [`crate::run`] drives an engine from stdin/stdout in real time; the
//! workbench's simulator drives the very same engine in virtual time.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::io::Write as _;
use std::rc::Rc;
use std::time::Duration;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::protocol::{self, ErrorCode, RpcError, WriteError};
use crate::read::BodyReader;
use crate::reply_to::Answers;
pub use crate::reply_to::ReplyTo;

/// How many bytes of an offending input line a diagnostic quotes.
pub(crate) const QUOTE_LIMIT: usize = 300;

/// The shortest period [`Ctx::every`] accepts; shorter periods are raised to it so that a
/// periodic timer can never spin [`Engine::advance`] forever.
pub const MIN_PERIOD: Duration = Duration::from_millis(1);

/// A Maelstrom node: a single-threaded state machine that owns its state.
///
/// The runtime calls the `on_*` methods one at a time, with `&mut self`; the node acts only
/// through the [`Ctx`]. Time and randomness must come from the context (`ctx.now()`,
/// `ctx.rng()`), never from the wall clock or the OS, so that the same node runs unchanged in
/// the deterministic simulator.
pub trait Node: Sized + 'static {
    /// The typed request, usually an enum with `#[serde(rename_all = "snake_case")]`. It may
    /// borrow from the input line (`&'de str`, `&'de RawValue`).
    ///
    /// Declared as a plain enum (no `tag`), the runtime picks the variant from the body's
    /// `type` and reads the variant's fields straight from the body: one pass. A newtype
    /// variant (`Sync(SyncBody)`) reads the whole body, `type` included. serde's internally
    /// tagged enums (`tag = "type"`) work too but cost more, as serde buffers the body into a
    /// tree before it picks the variant. Structs, `serde_json::Value` and the like get the
    /// body as serde_json would give it. See the guide's "Cheap messages".
    ///
    /// A body whose `type` the request does not know (serde's "unknown variant" error for that
    /// type) is answered with error 10 (not-supported); any other deserialization error with
    /// error 12 (malformed-request).
    type Request<'de>: Deserialize<'de>;
    /// The payload of timers set with [`Ctx::after`] and [`Ctx::every`] (which needs it to be
    /// `Clone`); `()` when unused. Timers that run a closure ([`Ctx::run_after`],
    /// [`Ctx::run_every`]) need no payload type at all.
    type Timer: 'static;

    /// A hand-written reader for request bodies, tried before serde (see [`BodyReader`]):
    /// `Some` is the request; `None` lets serde read the body, which reads it or explains in
    /// the error answer what is wrong with it. The default leaves every body to serde.
    ///
    /// Worth it only for the few requests a node gets thousands of times a second. It must
    /// never accept a body serde would refuse, nor read one differently (test it against
    /// serde, on good and bad bodies); see the guide's "Cheap messages".
    fn read_request<'de>(ty: &str, body: &mut BodyReader<'de>) -> Option<Self::Request<'de>> {
        let _ = (ty, body);
        None
    }

    /// Called once, right after the runtime answered `init` with `init_ok`.
    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        let _ = ctx;
    }

    /// Called for every message that is not `init` and not a reply to one of our RPCs.
    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Self::Request<'_>, from: ReplyTo);

    /// Called when a timer set with [`Ctx::after`] or [`Ctx::every`] fires.
    fn on_timer(&mut self, ctx: &mut Ctx<Self>, timer: Self::Timer) {
        let _ = (ctx, timer);
    }
}

/// A handle to cancel a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub(crate) u64);

/// What a pending RPC's continuation receives: the reply body, or why there is none.
pub(crate) type Continuation<N> = Box<dyn FnOnce(&mut N, &mut Ctx<N>, Result<&str, RpcError>)>;

/// Code to run later with the node and its context.
pub(crate) type Action<N> = Box<dyn FnOnce(&mut N, &mut Ctx<N>)>;

pub(crate) struct Pending<N: Node> {
    /// Where the RPC's deadline sits in the queue.
    pub(crate) key: (Duration, u64),
    pub(crate) dest: Box<str>,
    pub(crate) timeout: Duration,
    /// Set when the request could not even be sent: the deadline is then immediate and the
    /// continuation gets this error instead of a timeout.
    pub(crate) failure: Option<RpcError>,
    pub(crate) then: Continuation<N>,
}

/// Code to run at every period of a [`Ctx::run_every`] timer.
pub(crate) type RepeatedAction<N> = Box<dyn FnMut(&mut N, &mut Ctx<N>)>;

/// Makes the next payload of a periodic timer from the last.
type Refill<T> = fn(&T) -> T;

/// Timers and RPC deadlines by key (deadline, creation order), earliest first: a deque kept
/// sorted. A node has a few events at a time, mostly queued after all the others and taken
/// from the front, where a deque costs a copy and a `BTreeMap` a walk and an allocation.
///
/// An event taken out of the middle (an RPC answered before its deadline, a timer
/// cancelled) leaves a hole, so that a node with many RPCs outstanding does not shift them
/// all on each reply: holes at the front go at once (the front is always an event), the
/// others when they are as many as the events.
pub(crate) struct EventQueue<N: Node> {
    events: VecDeque<Slot<N>>,
    /// How many entries of `events` are holes (`None`).
    holes: usize,
}

/// An event by its key, or the hole it left.
type Slot<N> = ((Duration, u64), Option<Event<N>>);

impl<N: Node> Default for EventQueue<N> {
    fn default() -> Self {
        EventQueue {
            events: VecDeque::new(),
            holes: 0,
        }
    }
}

impl<N: Node> EventQueue<N> {
    /// Queues `event` at `key`, which must not be queued (creation numbers are unique).
    #[inline(always)]
    pub(crate) fn insert(&mut self, key: (Duration, u64), event: Event<N>) {
        match self.events.back() {
            Some((last, _)) if *last > key => self.insert_inside(key, event),
            // Nearly always: a timer re-armed, a new RPC's deadline.
            _ => self.events.push_back((key, Some(event))),
        }
    }

    /// [`EventQueue::insert`] of a key before the last.
    #[inline(never)]
    fn insert_inside(&mut self, key: (Duration, u64), event: Event<N>) {
        let at = self.events.partition_point(|(k, _)| *k < key);
        self.events.insert(at, (key, Some(event)));
    }

    /// Takes the event at `key` out of the queue, if it is there.
    pub(crate) fn remove(&mut self, key: &(Duration, u64)) -> Option<Event<N>> {
        let at = self.events.binary_search_by(|(k, _)| k.cmp(key)).ok()?;
        let event = self.events[at].1.take()?;
        self.holes += 1;
        if at == 0 {
            self.drop_front_holes();
        } else if self.holes > 16 && self.holes * 2 > self.events.len() {
            self.events.retain(|(_, event)| event.is_some());
            self.holes = 0;
        }
        Some(event)
    }

    fn drop_front_holes(&mut self) {
        while let Some((_, None)) = self.events.front() {
            self.events.pop_front();
            self.holes -= 1;
        }
    }

    /// The earliest event.
    #[inline]
    pub(crate) fn first_key_value(&self) -> Option<(&(Duration, u64), &Event<N>)> {
        match self.events.front() {
            Some((key, Some(event))) => Some((key, event)),
            _ => None,
        }
    }

    /// Takes the earliest event out of the queue.
    #[inline]
    pub(crate) fn pop_first(&mut self) -> Option<((Duration, u64), Event<N>)> {
        let (key, event) = self.events.pop_front()?;
        if self.holes > 0 {
            self.drop_front_holes();
        }
        event.map(|event| (key, event))
    }

    /// How many events are queued.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.events.len() - self.holes
    }
}

pub(crate) enum Event<N: Node> {
    Timer {
        id: u64,
        period: Option<(Duration, Refill<N::Timer>)>,
        payload: N::Timer,
    },
    /// A closure timer ([`Ctx::run_after`]).
    Once {
        id: u64,
        action: Action<N>,
    },
    /// A periodic closure timer ([`Ctx::run_every`]).
    Repeat {
        id: u64,
        period: Duration,
        action: RepeatedAction<N>,
    },
    RpcDeadline {
        msg_id: u64,
    },
}

/// The context a node acts through: its identity, the clock, a seeded RNG, and the ways to
/// send messages and set timers.
pub struct Ctx<N: Node> {
    pub(crate) node_id: String,
    pub(crate) node_ids: Vec<String>,
    pub(crate) initialized: bool,
    now: Duration,
    rng: ChaCha8Rng,
    pub(crate) out: Vec<u8>,
    /// In a RefCell so that `log!(ctx, "{}", ctx.node_id())` borrows `ctx` only shared.
    logs: RefCell<Vec<u8>>,
    /// `{"src":"<node id>"`, precomputed at init.
    pub(crate) src_prefix: Vec<u8>,
    /// `{"src":"<node id>","dest":"` in a fixed array, for the header writer (see
    /// [`crate::fields::Head`]).
    pub(crate) head: crate::fields::Head,
    pub(crate) next_msg_id: u64,
    next_seq: u64,
    /// Timers and RPC deadlines by (deadline, creation order).
    pub(crate) queue: EventQueue<N>,
    /// Live timers: id -> key in `queue`.
    pub(crate) timers: BTreeMap<u64, (Duration, u64)>,
    /// Outstanding RPCs by msg_id.
    pub(crate) pending: BTreeMap<u64, Pending<N>>,
    /// The timeout of [`Ctx::call`] and the service clients unless they set one.
    pub(crate) default_timeout: Duration,
    /// Requests delivered with a `msg_id` and not answered yet.
    pub(crate) answers: Answers,
    /// Whether a second answer to a request panics (true in debug builds) or is only logged.
    pub(crate) strict: bool,
    /// Actions of dropped [`crate::Deferred`] guards, run when the current handler returns.
    pub(crate) deferred: Rc<RefCell<VecDeque<Action<N>>>>,
}

impl<N: Node> Ctx<N> {
    fn new(seed: u64) -> Self {
        Ctx {
            node_id: String::new(),
            node_ids: Vec::new(),
            initialized: false,
            now: Duration::ZERO,
            rng: ChaCha8Rng::seed_from_u64(seed),
            out: Vec::with_capacity(64 * 1024),
            logs: RefCell::new(Vec::new()),
            src_prefix: Vec::new(),
            head: crate::fields::Head::default(),
            next_msg_id: 1,
            next_seq: 0,
            queue: EventQueue::default(),
            timers: BTreeMap::new(),
            pending: BTreeMap::new(),
            default_timeout: crate::kv::DEFAULT_TIMEOUT,
            answers: Answers::default(),
            strict: cfg!(debug_assertions),
            deferred: Rc::default(),
        }
    }

    /// This node's id (`"n0"`...). Empty before `init`.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// Every node's id, in Maelstrom's order, this one included. Empty before `init`.
    pub fn node_ids(&self) -> &[String] {
        &self.node_ids
    }

    /// Time since the node started: real time under [`crate::run`], virtual time in the
    /// simulator. Never goes backwards.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The node's random number generator, seeded by the runtime. Use it (with
    /// [`rand::Rng`]) for every random choice so that a simulation replays exactly.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }

    /// Sends a message that expects no reply (no `msg_id`).
    pub fn send(&mut self, dest: &str, body: impl Serialize) {
        if let Err(e) = self.emit(dest, &body, None, None) {
            self.log(format_args!("send to {dest} not sent: {e}"));
        }
    }

    /// Fires `timer` once, `delay` from now.
    pub fn after(&mut self, delay: Duration, timer: N::Timer) -> TimerId {
        let deadline = self.now.saturating_add(delay);
        self.schedule(deadline, None, timer)
    }

    /// Fires `timer` every `period` (at least [`MIN_PERIOD`]), first one period from now.
    /// Each firing re-arms at its deadline plus the period, so the rhythm does not drift.
    pub fn every(&mut self, period: Duration, timer: N::Timer) -> TimerId
    where
        N::Timer: Clone,
    {
        let period = period.max(MIN_PERIOD);
        let deadline = self.now.saturating_add(period);
        self.schedule(deadline, Some((period, Clone::clone)), timer)
    }

    /// Cancels a timer. Cancelling a fired one-shot timer or an unknown id does nothing.
    pub fn cancel(&mut self, id: TimerId) {
        if let Some(key) = self.timers.remove(&id.0) {
            self.queue.remove(&key);
        }
    }

    /// Writes one log line (stderr under [`crate::run`], [`Engine::logs`] in the simulator).
    /// The [`crate::log!`] macro is shorter: `log!(ctx, "x = {x}")`.
    pub fn log(&self, args: fmt::Arguments) {
        let mut logs = self.logs.borrow_mut();
        let _ = logs.write_fmt(args);
        logs.push(b'\n');
    }

    /// How many RPCs await a reply or their timeout.
    pub fn pending_rpcs(&self) -> usize {
        self.pending.len()
    }

    /// How many timers are armed.
    pub fn pending_timers(&self) -> usize {
        self.timers.len()
    }

    pub(crate) fn bump_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    fn schedule(
        &mut self,
        deadline: Duration,
        period: Option<(Duration, Refill<N::Timer>)>,
        payload: N::Timer,
    ) -> TimerId {
        self.schedule_event(deadline, |id| Event::Timer {
            id,
            period,
            payload,
        })
    }

    /// Queues the event `make(id)` at `deadline` as a cancellable timer.
    pub(crate) fn schedule_event(
        &mut self,
        deadline: Duration,
        make: impl FnOnce(u64) -> Event<N>,
    ) -> TimerId {
        let id = self.bump_seq();
        let key = (deadline, id);
        self.queue.insert(key, make(id));
        self.timers.insert(id, key);
        TimerId(id)
    }

    /// Notes the new key of timer `id`, which is live (its entry is updated in place: a
    /// search, where an insert also prepares to add).
    #[inline]
    fn rearm(&mut self, id: u64, key: (Duration, u64)) {
        match self.timers.get_mut(&id) {
            Some(entry) => *entry = key,
            None => {
                self.timers.insert(id, key);
            }
        }
    }

    pub(crate) fn set_now(&mut self, now: Duration) {
        if now > self.now {
            self.now = now;
        }
    }

    /// The output buffer, `{"src":"<our id>"` (empty before init) and our id, borrowed
    /// together.
    pub(crate) fn output_parts(&mut self) -> (&mut Vec<u8>, &[u8], &str) {
        (&mut self.out, &self.src_prefix, &self.node_id)
    }

    /// Appends one message from this node to the output.
    pub(crate) fn emit(
        &mut self,
        dest: &str,
        body: &impl Serialize,
        in_reply_to: Option<u64>,
        msg_id: Option<u64>,
    ) -> Result<(), WriteError> {
        if self.src_prefix.is_empty() {
            // Only reachable before init, which no node code sees; keep it valid anyway.
            return protocol::write_message(
                &mut self.out,
                &self.node_id,
                dest,
                body,
                in_reply_to,
                msg_id,
            );
        }
        let start = self.out.len();
        self.out.extend_from_slice(&self.src_prefix);
        protocol::write_tail(&mut self.out, start, dest, body, in_reply_to, msg_id)
    }
}

impl<N: Node> fmt::Debug for Ctx<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("node_id", &self.node_id)
            .field("node_ids", &self.node_ids)
            .field("now", &self.now)
            .field("pending_rpcs", &self.pending.len())
            .field("pending_timers", &self.timers.len())
            .finish_non_exhaustive()
    }
}

/// The sans-IO core: owns a node and its context, takes input lines and clock readings, and
/// accumulates output lines and log lines for the caller to drain.
///
/// ```
/// # use glomers_node::{Engine, Node, Ctx, ReplyTo};
/// # use std::time::Duration;
/// # struct Quiet;
/// # impl Node for Quiet {
/// #     type Request<'de> = serde::de::IgnoredAny;
/// #     type Timer = ();
/// #     fn on_request(&mut self, _: &mut Ctx<Self>, _: serde::de::IgnoredAny, _: ReplyTo) {}
/// # }
/// let mut engine = Engine::new(Quiet, 42);
/// engine.handle_line(br#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#, Duration::ZERO);
/// let out = std::mem::take(engine.output());
/// assert_eq!(out, b"{\"src\":\"n1\",\"dest\":\"c0\",\"body\":{\"type\":\"init_ok\",\"in_reply_to\":1}}\n");
/// ```
pub struct Engine<N: Node> {
    pub(crate) node: N,
    pub(crate) ctx: Ctx<N>,
}

impl<N: Node> Engine<N> {
    /// A fresh engine; `seed` seeds [`Ctx::rng`].
    pub fn new(node: N, seed: u64) -> Self {
        Engine {
            node,
            ctx: Ctx::new(seed),
        }
    }

    /// The earliest deadline among armed timers and pending RPCs.
    pub fn next_deadline(&self) -> Option<Duration> {
        self.ctx.queue.first_key_value().map(|(key, _)| key.0)
    }

    /// Sets the clock to `now` (it never goes back) and fires, in (deadline, creation order)
    /// order, every timer and RPC timeout due at or before it, including those that handlers
    /// set along the way. A periodic timer re-arms at its deadline plus its period, so a long
    /// jump fires every period it skipped.
    pub fn advance(&mut self, now: Duration) {
        self.ctx.set_now(now);
        let now = self.ctx.now;
        loop {
            match self.ctx.queue.first_key_value() {
                Some((key, _)) if key.0 <= now => {}
                _ => break,
            }
            let Some((key, event)) = self.ctx.queue.pop_first() else {
                break;
            };
            match event {
                Event::Timer {
                    id,
                    period,
                    payload,
                } => {
                    match period {
                        Some((period, refill)) => {
                            // Re-arm before the handler runs so that it may cancel.
                            let next = (key.0.saturating_add(period), self.ctx.bump_seq());
                            let again = Event::Timer {
                                id,
                                period: Some((period, refill)),
                                payload: refill(&payload),
                            };
                            self.ctx.queue.insert(next, again);
                            self.ctx.rearm(id, next);
                        }
                        None => {
                            self.ctx.timers.remove(&id);
                        }
                    }
                    self.node.on_timer(&mut self.ctx, payload);
                }
                Event::Once { id, action } => {
                    self.ctx.timers.remove(&id);
                    action(&mut self.node, &mut self.ctx);
                }
                Event::Repeat {
                    id,
                    period,
                    mut action,
                } => {
                    // Claim the next slot before running, as above; the action goes back into
                    // the queue afterwards unless it cancelled its own timer.
                    let next = (key.0.saturating_add(period), self.ctx.bump_seq());
                    self.ctx.rearm(id, next);
                    action(&mut self.node, &mut self.ctx);
                    if self.ctx.timers.get(&id) == Some(&next) {
                        self.ctx
                            .queue
                            .insert(next, Event::Repeat { id, period, action });
                    }
                }
                Event::RpcDeadline { msg_id } => {
                    if let Some(pending) = self.ctx.pending.remove(&msg_id) {
                        let error = pending.failure.unwrap_or_else(|| {
                            RpcError::new(
                                ErrorCode::Timeout,
                                format!(
                                    "rpc {msg_id} to {} timed out after {:?}",
                                    pending.dest, pending.timeout
                                ),
                            )
                        });
                        (pending.then)(&mut self.node, &mut self.ctx, Err(error));
                    }
                }
            }
            self.settle();
        }
    }

    /// Runs the actions of [`crate::Deferred`] guards dropped by the handler that just
    /// returned (and those their actions drop), in the order they were dropped.
    #[inline]
    pub(crate) fn settle(&mut self) {
        if !self.ctx.deferred.borrow().is_empty() {
            self.run_deferred();
        }
    }

    #[cold]
    fn run_deferred(&mut self) {
        loop {
            let next = self.ctx.deferred.borrow_mut().pop_front();
            let Some(action) = next else { break };
            action(&mut self.node, &mut self.ctx);
        }
    }

    /// Output lines so far, each a complete JSON message ending in `\n`. Drain it.
    pub fn output(&mut self) -> &mut Vec<u8> {
        &mut self.ctx.out
    }

    /// Log lines so far, each ending in `\n`. Drain it.
    pub fn logs(&mut self) -> &mut Vec<u8> {
        self.ctx.logs.get_mut()
    }

    /// The node.
    pub fn node(&self) -> &N {
        &self.node
    }

    /// The node, to change it between messages (tests).
    pub fn node_mut(&mut self) -> &mut N {
        &mut self.node
    }

    /// The node's context (ids, clock, pending counts).
    pub fn ctx(&self) -> &Ctx<N> {
        &self.ctx
    }

    /// Whether `init` has been handled.
    pub fn is_initialized(&self) -> bool {
        self.ctx.initialized
    }

    /// Runs `f` with the node and its context, as a handler would: for tests and drivers
    /// that want to make a node act (send, set a timer) outside a message.
    pub fn with_ctx<R>(&mut self, f: impl FnOnce(&mut N, &mut Ctx<N>) -> R) -> R {
        let result = f(&mut self.node, &mut self.ctx);
        self.settle();
        result
    }
}

impl<N: Node + fmt::Debug> fmt::Debug for Engine<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("node", &self.node)
            .field("ctx", &self.ctx)
            .finish()
    }
}

/// The engine's driving interface as an object-safe trait, so that a driver can hold engines of
/// different node types side by side (`Vec<Box<dyn AnyEngine>>`). See [`Engine`] for what each
/// method does.
pub trait AnyEngine {
    /// [`Engine::handle_line`].
    fn handle_line(&mut self, line: &[u8], now: Duration);
    /// [`Engine::next_deadline`].
    fn next_deadline(&self) -> Option<Duration>;
    /// [`Engine::advance`].
    fn advance(&mut self, now: Duration);
    /// [`Engine::output`].
    fn output(&mut self) -> &mut Vec<u8>;
    /// [`Engine::logs`].
    fn logs(&mut self) -> &mut Vec<u8>;
}

impl<N: Node> AnyEngine for Engine<N> {
    fn handle_line(&mut self, line: &[u8], now: Duration) {
        Engine::handle_line(self, line, now)
    }

    fn next_deadline(&self) -> Option<Duration> {
        Engine::next_deadline(self)
    }

    fn advance(&mut self, now: Duration) {
        Engine::advance(self, now)
    }

    fn output(&mut self) -> &mut Vec<u8> {
        Engine::output(self)
    }

    fn logs(&mut self) -> &mut Vec<u8> {
        Engine::logs(self)
    }
}

#[cfg(test)]
mod queue_tests {
    use super::*;

    struct Idle;

    impl Node for Idle {
        type Request<'de> = serde::de::IgnoredAny;
        type Timer = u64;

        fn on_request(&mut self, _: &mut Ctx<Self>, _: serde::de::IgnoredAny, _: ReplyTo) {}
    }

    /// The event queue gives what a `BTreeMap` by key gives, whatever the order of inserts,
    /// removals and pops.
    #[test]
    fn the_event_queue_orders_as_a_map_by_key() {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let payload = |event: &Event<Idle>| match event {
            Event::Timer { payload, .. } => *payload,
            _ => unreachable!(),
        };
        let mut most_holes = 0;
        for round in 0..200 {
            let mut queue = EventQueue::<Idle>::default();
            let mut map = BTreeMap::new();
            let (mut seq, mut peak) = (0, 0);
            // Every other round takes more out of the middle than it pops (many holes).
            let op = |rng: &mut ChaCha8Rng| match rng.gen_range(0..6) {
                0 if round % 2 == 1 => 3,
                op => op,
            };
            for _ in 0..300 {
                match op(&mut rng) {
                    0..=2 => {
                        seq += 1;
                        let key = (Duration::from_millis(rng.gen_range(0..50)), seq);
                        let value = rng.gen::<u64>();
                        let timer = Event::Timer {
                            id: seq,
                            period: None,
                            payload: value,
                        };
                        queue.insert(key, timer);
                        map.insert(key, value);
                    }
                    3 => {
                        let key = match map.keys().nth(rng.gen_range(0..map.len().max(1))) {
                            Some(&key) if rng.gen_bool(0.8) => key,
                            _ => (
                                Duration::from_millis(rng.gen_range(0..50)),
                                rng.gen_range(0..seq + 2),
                            ),
                        };
                        let got = queue.remove(&key).map(|event| payload(&event));
                        assert_eq!(got, map.remove(&key));
                    }
                    4 => {
                        let got = queue.pop_first().map(|(key, event)| (key, payload(&event)));
                        assert_eq!(got, map.pop_first());
                    }
                    _ => {}
                }
                let first = queue
                    .first_key_value()
                    .map(|(key, event)| (*key, payload(event)));
                assert_eq!(first, map.first_key_value().map(|(k, v)| (*k, *v)));
                assert_eq!(queue.len(), map.len());
                // The front is an event; holes are counted right, and never more than the
                // most events queued at once (plus a few).
                assert!(queue.events.front().map_or(true, |(_, e)| e.is_some()));
                let holes = queue.events.iter().filter(|(_, e)| e.is_none()).count();
                assert_eq!(holes, queue.holes);
                peak = peak.max(map.len());
                assert!(holes <= 16 + peak, "{holes} {peak}");
                most_holes = most_holes.max(holes);
            }
        }
        assert!(most_holes > 16, "{most_holes}");
    }
}
