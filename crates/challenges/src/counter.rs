//! Challenge #4, grow-only counter, and its pn-counter variant: `add {delta}` → `add_ok`,
//! `read` → `read_ok {value}`, on top of `seq-kv`.
//!
//! # Design
//!
//! Every node owns one key in seq-kv, `counter-<node id>`, which only it writes. The key holds
//! an [`Entry`], the JSON array `[seq, total]`: `total` is the sum of every add this node
//! acknowledged, `seq` a number the node raises on every write.
//!
//! - **add** is acknowledged at once and kept in memory (`total`): Maelstrom's processes live
//!   for the whole test, and the node flushes `total` to its key until a write succeeds, so an
//!   acknowledged add is never lost.
//! - **read** is answered locally: own `total` plus the newest entry seen for each peer. No
//!   round trip to the store per read.
//! - **sync**, one at a time on a timer: write the own key, then read every peer's key. The
//!   sync runs every [`Config::period`] while something changes (own total, or a peer's total
//!   in the last sync) and backs off, doubling up to [`Config::idle_period`], while nothing
//!   does. An add that arrives during a long backoff pulls the next sync in to one period.
//!
//! No node-to-node messages at all: seq-kv is never partitioned, so the partition nemesis does
//! not touch this node's traffic, and the only messages are sync calls (2 per key per sync).
//!
//! # How seq-kv's traps are handled
//!
//! seq-kv (spec 2.2) serves each request from a random state between the caller's last index
//! and the newest; a request that changes the state is re-run on the newest state and moves the
//! caller's index there. So:
//!
//! - **Fresh peer reads by construction.** Every sync first *writes* the own key with a new
//!   `seq` (a real change even when the total did not move: writing an unchanged value would be
//!   served from an old state and catch nothing up), and sends the peer reads only after that
//!   write is acknowledged. The write moved this node's index to the newest state, so each read
//!   is served from a state at least that new, which holds every peer write acknowledged before
//!   our write was applied. A peer's last flush is therefore seen by the first sync of ours
//!   that starts after it, at most `idle_period` later: final reads, 10 s after the last adds,
//!   are exact.
//! - **Own key written with cas, never with write.** The write is
//!   `cas(key, from = last value we know is stored, to = [seq + 1, total])` (from `null` with
//!   `create_if_not_exists` for the first one). Values are unique (seq only grows), so a
//!   request that timed out and lands late can never overwrite a newer value: its `from` no
//!   longer matches. An unchanged `from` always matches in any state we can be served (only we
//!   write the key, and our index is at or after our last acknowledged write), so a
//!   `precondition-failed` or a timeout means "unknown": the node then reads its own key, takes
//!   that as the next `from`, and tries again; a failed cas also catches the caller up, so this
//!   settles within a round or two. Peer reads happen only after a successful cas.
//! - **Merging.** For each peer the node keeps the entry with the highest `seq` it has read, so
//!   stale answers (including those served across the 32-state window's wrap-around) never
//!   move a peer's total backwards. This works for pn-counter totals too, which may shrink.
//! - **Timeouts.** seq-kv never drops a message (services are never partitioned), so a
//!   timeout only means "slow"; a too-short one wastes a call and turns a write into an
//!   unknown. Each call's timeout follows the measured round trips (RFC 6298's estimator,
//!   between [`Config::timeout`] and [`Config::max_timeout`], doubled after each timeout).
//! - **Restart.** The first sync reads the own key before writing: a node restarted under the
//!   same id adopts the stored total and seq (adds it had acknowledged but not flushed are lost;
//!   Maelstrom has no restart fault).
//!
//! # Modes
//!
//! [`Mode::Grow`] (`g-counter`) refuses negative deltas with error 12; [`Mode::PosNeg`]
//! (`pn-counter`) takes any. The binaries: `g-counter` (pass the trailing argument `pn` for the
//! pn-counter mode) and `pn-counter`.
//!
//! # Cost
//!
//! A sync costs 2 messages per key (a request and its reply), `2 × node-count` in all. With the
//! defaults and challenge 4's load (3 nodes, 100 ops/s for 20 s) that is 6 messages per node per
//! second during the test and a few syncs in the 10 s recovery: 0.22 servers messages per op
//! measured, with or without `--latency 100 --latency-dist exponential`. A longer
//! [`Config::period`] trades fresher non-final reads for fewer messages.
//!
//! The final reads stay exact as long as a sync (two store round trips in a row, plus the
//! queueing of Maelstrom's one-delivery-at-a-time network) is well under 3 s: in simulation,
//! every seed passes with exponential latency of mean 300 ms, and about 5 % fail at 500 ms,
//! where the 10 s recovery no longer covers three back-to-back syncs.

use std::time::Duration;

use glomers_node::{log, Ctx, ErrorCode, Join, KvError, Node, ReplyTo, TimerId};
use serde::{Deserialize, Serialize};

/// Which counter: grow-only (`g-counter`) or positive-negative (`pn-counter`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// `g-counter`: negative deltas are refused (error 12).
    #[default]
    Grow,
    /// `pn-counter`: any delta.
    PosNeg,
}

impl Mode {
    /// The mode from a binary's trailing arguments: none (or `g`) for [`Mode::Grow`], `pn` for
    /// [`Mode::PosNeg`].
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Mode, String> {
        match args {
            [] => Ok(Mode::Grow),
            [one] => match one.as_ref() {
                "g" | "g-counter" => Ok(Mode::Grow),
                "pn" | "pn-counter" => Ok(Mode::PosNeg),
                other => Err(format!(
                    "unknown argument {other:?}: expected nothing, `g` or `pn`"
                )),
            },
            _ => Err("expected at most one argument, `g` or `pn`".into()),
        }
    }
}

/// Timing of the sync loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Time between sync starts while something changes.
    pub period: Duration,
    /// The longest time between sync starts when nothing changes. It bounds how long after a
    /// peer's last flush this node's view is exact: keep `period + idle_period` plus a few
    /// store round trips well under the 10 s of Maelstrom's recovery phase.
    pub idle_period: Duration,
    /// Delay before retrying a sync whose write failed.
    pub retry: Duration,
    /// The shortest timeout of a seq-kv call. The timeout adapts to the round trips the node
    /// measures (TCP's estimator: smoothed round trip plus four deviations), doubling after each
    /// timeout, between this and `max_timeout`.
    pub timeout: Duration,
    /// The longest timeout of a seq-kv call.
    pub max_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            period: Duration::from_millis(1000),
            idle_period: Duration::from_millis(3000),
            retry: Duration::from_millis(100),
            timeout: Duration::from_millis(1000),
            max_timeout: Duration::from_millis(5000),
        }
    }
}

/// What a node's key holds: `[seq, total]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry(
    /// Raised on every write of the key.
    pub u64,
    /// The sum of the owner's acknowledged adds.
    pub i64,
);

impl Entry {
    pub fn seq(&self) -> u64 {
        self.0
    }

    pub fn total(&self) -> i64 {
        self.1
    }
}

/// What this node knows about its own key in seq-kv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// Not looked at yet: the first sync reads it and adopts what a previous life stored.
    Recovering,
    /// A write may or may not have landed: read the key before the next cas.
    Unknown,
    /// The key does not exist (as far as we know).
    Absent,
    /// The key holds this entry.
    Known(Entry),
}

#[derive(Debug, Clone)]
struct Peer {
    id: String,
    key: String,
    entry: Entry,
}

/// The requests clients send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    Add { delta: i64 },
    Read,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Response {
    AddOk,
    ReadOk { value: i64 },
}

/// Round-trip estimate for seq-kv calls (RFC 6298's smoothed RTT and deviation), which sets
/// their timeout: seq-kv never drops a message, so a timeout only means "slower than usual",
/// and a too-short one wastes a call and turns a write into an unknown.
#[derive(Debug, Clone, Copy, Default)]
struct RttEstimate {
    srtt: Option<Duration>,
    rttvar: Duration,
    /// Timeouts since the last measured round trip; each doubles the timeout.
    backoff: u32,
}

impl RttEstimate {
    fn sample(&mut self, rtt: Duration) {
        match self.srtt {
            None => {
                self.srtt = Some(rtt);
                self.rttvar = rtt / 2;
            }
            Some(srtt) => {
                let deviation = srtt.max(rtt) - srtt.min(rtt);
                self.rttvar = (self.rttvar * 3 + deviation) / 4;
                self.srtt = Some((srtt * 7 + rtt) / 8);
            }
        }
        self.backoff = 0;
    }

    fn timed_out(&mut self) {
        self.backoff = (self.backoff + 1).min(8);
    }

    fn timeout(&self, config: &Config) -> Duration {
        let base = match self.srtt {
            Some(srtt) => srtt + self.rttvar * 4,
            None => config.timeout,
        };
        (base.max(config.timeout) * (1 << self.backoff)).min(config.max_timeout)
    }
}

/// The timer payload: start a sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick;

/// Counts for tests and curious readers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Syncs started.
    pub syncs: u64,
    /// seq-kv calls sent.
    pub kv_calls: u64,
    /// Own-key writes that failed or timed out.
    pub write_failures: u64,
}

/// The counter node, for both `g-counter` and `pn-counter` (see the module docs).
#[derive(Debug, Clone)]
pub struct Counter {
    mode: Mode,
    config: Config,
    /// This node's key, `counter-<node id>`; set at init.
    key: String,
    /// The sum of every add this node acknowledged (plus what a previous life stored).
    total: i64,
    /// The `seq` of the next write.
    next_seq: u64,
    stored: Stored,
    /// Every other node, in `node_ids` order.
    peers: Vec<Peer>,
    /// When the current (or last) sync started.
    sync_started: Duration,
    /// Whether a sync is running (its calls are in flight).
    syncing: bool,
    /// Whether the current sync saw anything change.
    saw_change: bool,
    /// The current time between syncs: `period`, or more while idle.
    interval: Duration,
    /// The armed sync timer and when it fires (None while a sync runs).
    next_tick: Option<(TimerId, Duration)>,
    rtt: RttEstimate,
    stats: Stats,
}

/// A grow-only counter node: `Counter` in [`Mode::Grow`].
pub type GCounter = Counter;

impl Default for Counter {
    fn default() -> Self {
        Counter::new(Mode::Grow)
    }
}

impl Counter {
    /// A counter node in `mode`, with the default [`Config`].
    pub fn new(mode: Mode) -> Self {
        Counter::with_config(mode, Config::default())
    }

    /// The `g-counter` node.
    pub fn g_counter() -> Self {
        Counter::new(Mode::Grow)
    }

    /// The `pn-counter` node.
    pub fn pn_counter() -> Self {
        Counter::new(Mode::PosNeg)
    }

    /// A counter node from a binary's trailing arguments (see [`Mode::from_args`]).
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Self, String> {
        Mode::from_args(args).map(Counter::new)
    }

    pub fn with_config(mode: Mode, config: Config) -> Self {
        Counter {
            mode,
            config,
            key: String::new(),
            total: 0,
            next_seq: 1,
            stored: Stored::Recovering,
            peers: Vec::new(),
            sync_started: Duration::ZERO,
            syncing: false,
            saw_change: false,
            interval: config.period,
            next_tick: None,
            rtt: RttEstimate::default(),
            stats: Stats::default(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The value a `read` answers now: own total plus the newest total seen for every peer.
    pub fn value(&self) -> i64 {
        self.peers
            .iter()
            .fold(self.total, |sum, p| sum.saturating_add(p.entry.total()))
    }

    /// The sum of this node's acknowledged adds.
    pub fn own_total(&self) -> i64 {
        self.total
    }

    /// The newest entry seen for `peer`, if it is one.
    pub fn peer_entry(&self, peer: &str) -> Option<Entry> {
        self.peers.iter().find(|p| p.id == peer).map(|p| p.entry)
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether everything this node acknowledged is known to be stored.
    pub fn is_flushed(&self) -> bool {
        match self.stored {
            Stored::Known(e) => e.total() == self.total,
            Stored::Absent => self.total == 0,
            Stored::Recovering | Stored::Unknown => false,
        }
    }

    fn add(&mut self, ctx: &mut Ctx<Self>, delta: i64, from: &ReplyTo) {
        if delta < 0 && self.mode == Mode::Grow {
            ctx.reply_error(
                from,
                ErrorCode::MalformedRequest,
                format!("a g-counter only grows: delta {delta} is negative"),
            );
            return;
        }
        let Some(total) = self.total.checked_add(delta) else {
            ctx.reply_error(
                from,
                ErrorCode::Abort,
                format!("adding {delta} would overflow the counter"),
            );
            return;
        };
        self.total = total;
        ctx.reply(from, Response::AddOk);
        if delta != 0 {
            self.hurry(ctx);
        }
    }

    /// Something changed locally: make sure a sync starts within one period.
    fn hurry(&mut self, ctx: &mut Ctx<Self>) {
        self.interval = self.config.period;
        let soon = ctx.now().saturating_add(self.config.period);
        if let Some((id, at)) = self.next_tick {
            if at > soon {
                ctx.cancel(id);
                self.arm(ctx, self.config.period);
            }
        }
    }

    /// Accounts for one seq-kv call about to be sent: returns its timeout and send time.
    fn call(&mut self, ctx: &Ctx<Self>) -> (Duration, Duration) {
        self.stats.kv_calls += 1;
        (self.rtt.timeout(&self.config), ctx.now())
    }

    /// Feeds the outcome of a call sent at `sent` to the round-trip estimate.
    fn answered<T>(&mut self, ctx: &Ctx<Self>, sent: Duration, result: &Result<T, KvError>) {
        match result {
            Err(KvError::Timeout) => self.rtt.timed_out(),
            _ => self.rtt.sample(ctx.now().saturating_sub(sent)),
        }
    }

    fn arm(&mut self, ctx: &mut Ctx<Self>, delay: Duration) {
        let id = ctx.after(delay, Tick);
        self.next_tick = Some((id, ctx.now().saturating_add(delay)));
    }

    fn start_sync(&mut self, ctx: &mut Ctx<Self>) {
        if self.syncing {
            return;
        }
        self.syncing = true;
        self.next_tick = None;
        self.sync_started = ctx.now();
        self.saw_change = false;
        self.stats.syncs += 1;
        match self.stored {
            Stored::Recovering | Stored::Unknown => self.read_own(ctx),
            Stored::Absent | Stored::Known(_) => self.write_own(ctx),
        }
    }

    /// Learns what the own key holds, to use it as the next cas's `from`.
    fn read_own(&mut self, ctx: &mut Ctx<Self>) {
        let (timeout, sent) = self.call(ctx);
        let key = self.key.clone();
        ctx.seq_kv().timeout(timeout).read(
            key,
            move |node: &mut Self, ctx, result: Result<Entry, KvError>| {
                node.answered(ctx, sent, &result);
                match result {
                    Ok(entry) => {
                        if node.stored == Stored::Recovering {
                            // A previous life of this node stored this total.
                            node.total = node.total.saturating_add(entry.total());
                        }
                        node.next_seq = node.next_seq.max(entry.seq() + 1);
                        node.stored = Stored::Known(entry);
                    }
                    Err(KvError::KeyDoesNotExist) => node.stored = Stored::Absent,
                    Err(e) => {
                        log!(ctx, "reading own key {} failed: {e}", node.key);
                        return node.end_sync(ctx, true);
                    }
                }
                node.write_own(ctx);
            },
        );
    }

    /// Writes `[seq, total]` with a new seq, then reads the peers.
    fn write_own(&mut self, ctx: &mut Ctx<Self>) {
        let (from, create) = match self.stored {
            Stored::Known(entry) => (Some(entry), false),
            Stored::Absent => (None, true),
            Stored::Recovering | Stored::Unknown => return self.read_own(ctx),
        };
        let to = Entry(self.next_seq, self.total);
        self.next_seq += 1;
        let (timeout, sent) = self.call(ctx);
        let key = self.key.clone();
        ctx.seq_kv().timeout(timeout).cas(
            key,
            from,
            to,
            create,
            move |node: &mut Self, ctx, result| {
                node.answered(ctx, sent, &result);
                node.wrote(ctx, from, to, result)
            },
        );
    }

    fn wrote(
        &mut self,
        ctx: &mut Ctx<Self>,
        from: Option<Entry>,
        to: Entry,
        result: Result<(), KvError>,
    ) {
        match result {
            Ok(()) => {
                self.stored = Stored::Known(to);
                if from.map_or(0, |e| e.total()) != to.total() {
                    self.saw_change = true;
                }
                self.read_peers(ctx);
            }
            Err(e) => {
                // Only this node writes its key and `from` is what it last stored, so
                // this is a write of ours that timed out and landed after all (or this
                // cas timed out): find out what the key holds before writing again.
                log!(ctx, "writing own key {} failed: {e}", self.key);
                self.stats.write_failures += 1;
                self.stored = Stored::Unknown;
                self.end_sync(ctx, true);
            }
        }
    }

    /// Reads every peer's key at once, then ends the sync. Called only right after our own cas
    /// succeeded, so every read is served from a state at least as new as that cas.
    fn read_peers(&mut self, ctx: &mut Ctx<Self>) {
        let mut reads = Join::new();
        for i in 0..self.peers.len() {
            let (timeout, sent) = self.call(ctx);
            let key = self.peers[i].key.clone();
            let done = reads.slot();
            ctx.seq_kv().timeout(timeout).read(
                key,
                move |node: &mut Self, ctx, result: Result<Entry, KvError>| {
                    node.answered(ctx, sent, &result);
                    match result {
                        Ok(entry) => node.learn(i, entry),
                        Err(KvError::KeyDoesNotExist) => {}
                        Err(e) => {
                            log!(ctx, "reading {} failed: {e}", node.peers[i].key);
                            // We do not know what we missed: do not back off.
                            node.saw_change = true;
                        }
                    }
                    done(node, ctx, ());
                },
            );
        }
        reads.then(ctx, |node, ctx, _| node.end_sync(ctx, false));
    }

    fn learn(&mut self, i: usize, entry: Entry) {
        let peer = &mut self.peers[i];
        if entry.seq() > peer.entry.seq() {
            if entry.total() != peer.entry.total() {
                self.saw_change = true;
            }
            peer.entry = entry;
        }
    }

    /// Ends a sync and arms the next one: soon after a failed write, one period after this
    /// sync's start if anything changed, else after a doubled interval (capped).
    fn end_sync(&mut self, ctx: &mut Ctx<Self>, failed: bool) {
        self.syncing = false;
        let delay = if failed {
            self.config.retry
        } else {
            self.interval = if self.saw_change || !self.is_flushed() {
                self.config.period
            } else {
                (self.interval * 2).min(self.config.idle_period)
            };
            let elapsed = ctx.now().saturating_sub(self.sync_started);
            self.interval.saturating_sub(elapsed)
        };
        self.arm(ctx, delay);
    }
}

impl Node for Counter {
    type Request<'de> = Request;
    type Timer = Tick;

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        self.key = key_of(ctx.node_id());
        let me = ctx.node_id().to_string();
        self.peers = ctx
            .node_ids()
            .iter()
            .filter(|id| **id != me)
            .map(|id| Peer {
                id: id.clone(),
                key: key_of(id),
                entry: Entry::default(),
            })
            .collect();
        self.arm(ctx, self.config.period);
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Add { delta } => self.add(ctx, delta, &from),
            Request::Read => ctx.reply(
                &from,
                Response::ReadOk {
                    value: self.value(),
                },
            ),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: Tick) {
        self.start_sync(ctx);
    }
}

/// The seq-kv key a node owns.
pub fn key_of(node_id: &str) -> String {
    format!("counter-{node_id}")
}

#[cfg(test)]
mod tests;
