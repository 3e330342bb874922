//! Challenge #3, broadcast (3a-3e): every value a client broadcasts to any node must end up in
//! every node's `read`, partitions notwithstanding, with few messages and low latency.
//!
//! # Design
//!
//! **A star of our own.** The first node of `node_ids` is the *hub*; every other node is a
//! *leaf*. Maelstrom's `topology` is answered and ignored: its default 5×5 grid has diameter 8,
//! so at 100 ms a hop a value would need up to 800 ms to cross it, while a star has diameter 2
//! and lets every leaf receive exactly one message per hub flush, the fewest a leaf can receive
//! for a given freshness.
//!
//! - A leaf hands a client's value to the hub at once (one message per value, in `relay`).
//! - The hub batches: every `hub_period` it sends each leaf one message with whatever that leaf
//!   has not been sent yet (deltas only; never a leaf's own values back).
//!
//! So a value takes 100 ms (leaf to hub) + up to `hub_period` (waiting for the flush) + 100 ms
//! (hub to leaf) to reach every node, and costs about one message, plus one message per leaf
//! per flush shared by all the values of that period.
//!
//! **Reliable links, acks for free.** Each link is a tiny reliable channel: a data message
//! carries a per-link `seq`, the receiver acknowledges it, and what stays unacknowledged is
//! resent after a retransmission timeout. Acks ride on the data the receiver sends anyway (the
//! hub's next flush, the leaf's next client value); only when nothing has been sent for
//! `ack_delay` does a bare ack go out. Once every value is everywhere and acknowledged, the
//! cluster is silent: the 10 s recovery phase costs a handful of final acks. There is no
//! periodic anti-entropy, because it would cost messages when there is nothing new.
//!
//! **Partitions.** Messages sent into a partition are lost for good; retransmission recovers
//! them once it heals, whichever node was cut off. Two refinements keep partitions cheap and
//! the cut-off nodes useful:
//! - *Down links only probe.* After two timeouts in a row a link stops sending a batch per
//!   flush and only retransmits everything it holds, at a backed-off interval of at most
//!   `max_rto`. Any ack brings it back. (One timeout never stalls a link, so a slow ack cannot
//!   add latency to a healthy cluster.)
//! - *Hub failover.* The hub is not a fixed node but the first node, in `node_ids` order, whose
//!   link is not suspect (has not timed out since its last ack). When a leaf's hub stops
//!   acknowledging, the leaf hands what it had given it to the next node in line as well,
//!   perhaps itself: a node that finds itself first in line distributes to every node. So a
//!   partitioned side without `n0` keeps spreading its own values within itself. Relaying is
//!   loop-free: a node only relays to a node before it in the order, and only values new to
//!   it. A value is acknowledged only once its receiver holds it on its own reliable links, so
//!   nothing is dropped on the way.
//!
//! The retransmission timeout adapts to the measured ack delay (Jacobson/Karels, floored at
//! `min_rto`, which must cover `ack_delay`); every transmission has its own `seq`, so every ack
//! is an unambiguous sample.
//!
//! **Modes.** [`Mode::Default`] flushes the hub every 120 ms: about 2.5 messages per client op
//! at 25 nodes, 100 ops/s and 100 ms latency, every node has a value 200-320 ms after its
//! broadcast. [`Mode::Frugal`] flushes every 500 ms: about one message per op, 200-700 ms.
//! The binary takes the mode as its argument (`frugal`).
//!
//! Set-full's *stable latency* (Maelstrom's measure) comes out lower than those spreads,
//! about 125 ms median and 200 ms max in default mode: Maelstrom delivers to a node through
//! one slot, so a client request that arrives while a hub batch is on its way waits for that
//! batch and is answered with its values, and a broadcast is acknowledged (the clock starts)
//! only when its request is delivered.
//!
//! # Wire format
//!
//! Node-to-node messages are `{"type":"gossip","seq":S,"values":[..],"relay":[..],"acks":[..]}`,
//! sent without `msg_id` (links do their own acknowledging). `values` are to be kept, `relay`
//! values kept and distributed; empty fields are left out, and a bare ack is just `acks`.
//! Client replies carry exactly the documented fields; `read_ok` lists the values sorted (kept
//! rendered, see [`Seen`]).
//!
//! Everything that decides what is sent, and in which order, iterates `BTreeMap`s and `Vec`s,
//! and time comes from `ctx.now()`, so the node replays exactly in the simulator.

use std::time::Duration;

use glomers_node::{log, BodyReader, Ctx, Node, ReplyTo};
use serde::Deserialize;

mod link;
mod read;
mod seen;
#[cfg(test)]
mod tests;

use link::{Link, Links};
pub use seen::Seen;

/// How the node trades messages for latency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Challenge 3d: low latency, a few messages per op.
    #[default]
    Default,
    /// Challenge 3e: about one message per op, latency well under a second.
    Frugal,
}

/// The node's timing knobs. [`Config::for_mode`] gives the tuned values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How often the hub sends each leaf what is new for it. Every node also checks its
    /// retransmission and ack timers at this period.
    pub hub_period: Duration,
    /// How long an ack may wait for a data message to ride on before it is sent bare.
    pub ack_delay: Duration,
    /// The least retransmission timeout; must exceed `ack_delay` + `hub_period` + a round trip
    /// or healthy links retransmit spuriously.
    pub min_rto: Duration,
    /// The most a backed-off retransmission timeout grows to (bounds how long a healed link
    /// waits for its next probe).
    pub max_rto: Duration,
}

impl Config {
    pub fn for_mode(mode: Mode) -> Config {
        match mode {
            Mode::Default => Config {
                hub_period: Duration::from_millis(120),
                ack_delay: Duration::from_millis(1000),
                min_rto: Duration::from_millis(1800),
                max_rto: Duration::from_millis(3000),
            },
            Mode::Frugal => Config {
                hub_period: Duration::from_millis(500),
                ack_delay: Duration::from_millis(2000),
                min_rto: Duration::from_millis(3000),
                max_rto: Duration::from_millis(4000),
            },
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::for_mode(Mode::Default)
    }
}

/// What clients and other nodes send us. Declared without `tag = "type"`: the runtime picks
/// the variant from the body's `type` and reads its fields straight from the body.
///
/// Read by hand ([`read`]), by serde when the body is unusual.
#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Maelstrom's suggested neighbours: acknowledged and ignored (see the module docs).
    Topology,
    Broadcast {
        message: u64,
    },
    Read,
    /// Node to node: values to keep, values to keep and pass on (`relay`), a `seq` when there
    /// are values (to acknowledge), and acks of the peer's seqs.
    Gossip {
        #[serde(default)]
        seq: Option<u64>,
        #[serde(default)]
        values: Vec<u64>,
        #[serde(default)]
        relay: Vec<u64>,
        #[serde(default)]
        acks: Vec<u64>,
    },
}

/// Sends `{"type":"gossip","seq":S,"values":[..],"relay":[..],"acks":[..]}`, leaving out
/// what is empty. `values` comes as `cache` renders it.
fn send_gossip<N: Node>(
    ctx: &mut Ctx<N>,
    peer: &str,
    seq: Option<u64>,
    values: &[u64],
    relay: &[u64],
    acks: &[u64],
    cache: &mut ValuesText,
) {
    ctx.send_with(peer, "gossip", |body| {
        if let Some(seq) = seq {
            body.u64("seq", seq);
        }
        if !values.is_empty() {
            // Digits and commas only: no line break to look for.
            body.raw_one_line("values", cache.render(values));
        }
        for (key, list) in [("relay", relay), ("acks", acks)] {
            if !list.is_empty() {
                body.u64s(key, list.iter().copied());
            }
        }
    });
}

/// The last few `values` lists sent and their JSON text: a hub's flush sends the same new
/// values to every leaf (but to the few leaves they came from, which get the list without
/// their own), so each list is rendered once per flush and copied for the other leaves.
#[derive(Debug, Default)]
struct ValuesText {
    /// (list, text), the most recently rendered at `next - 1`.
    lists: Vec<(Vec<u64>, String)>,
    /// The entry the next list not found replaces.
    next: usize,
}

impl ValuesText {
    /// How many lists are kept.
    const KEPT: usize = 8;

    /// `values` as a JSON array, `[1,2,3]` (what [`glomers_node::Fields::u64s`] writes).
    fn render(&mut self, values: &[u64]) -> &str {
        // The list rendered last first: a hub's flush sends most leaves the same one.
        let last = (self.next + Self::KEPT - 1) % Self::KEPT;
        let found = match self.lists.get(last) {
            Some((list, _)) if list == values => Some(last),
            _ => self.lists.iter().position(|(list, _)| list == values),
        };
        let at = match found {
            Some(at) => at,
            None => {
                let at = self.next;
                self.next = (at + 1) % Self::KEPT;
                if at == self.lists.len() {
                    self.lists.push(Default::default());
                }
                let (list, text) = &mut self.lists[at];
                list.clear();
                list.extend_from_slice(values);
                text.clear();
                text.push('[');
                let mut digits = itoa::Buffer::new();
                for (i, &value) in values.iter().enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(digits.format(value));
                }
                text.push(']');
                at
            }
        };
        &self.lists[at].1
    }
}

/// Values the acting hub queued for every other member, not yet copied into the links'
/// queues: copied once a tick, a stretch at a time, where copying each list into every link's
/// queue as it came cost a copy per list and link.
#[derive(Debug, Default)]
struct HubQueue {
    values: Vec<u64>,
    /// `(end, from, skip)`: the values from the previous run's end up to `end` are for every
    /// member link but those two (indices into `links`, which do not move while values wait:
    /// an insert copies them first).
    runs: Vec<(usize, Option<usize>, Option<usize>)>,
}

/// The only timer: flushes, retransmissions and delayed acks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick;

/// The broadcast node. See the module docs for the design.
#[derive(Debug, Default)]
pub struct Broadcast {
    cfg: Config,
    /// Remarks from construction (e.g. unknown arguments), logged at init.
    notes: Vec<String>,
    /// This node's id.
    me: String,
    /// Every node, in Maelstrom's order: also the order of preference for the hub.
    nodes: Vec<String>,
    /// Every value this node knows: what `read` returns.
    seen: Seen,
    /// Our links, by peer, made on first use (to every other node at once the first time
    /// this node acts as the hub).
    links: Links,
    /// Every other node has a link.
    all_links: bool,
    /// The `values` last sent, rendered.
    values_text: ValuesText,
    /// What the hub queued for its links and has not copied into their queues yet.
    hub_queue: HubQueue,
    /// A link that is not down may have something queued: the next tick flushes.
    flush_due: bool,
    /// No link's [`Link::deadline`] comes before this: until then, a tick without
    /// `flush_due` has nothing to do (most ticks of most nodes). Kept a lower bound: lowered
    /// whenever a link changes outside a tick, set exactly by each tick that looks at the
    /// links.
    quiet_until: Duration,
    /// Every tick looks at every link (to test the shortcut against).
    #[cfg(test)]
    scan_every_tick: bool,
}

impl Broadcast {
    pub fn new(mode: Mode) -> Broadcast {
        Broadcast::with_config(Config::for_mode(mode))
    }

    pub fn with_config(cfg: Config) -> Broadcast {
        Broadcast {
            cfg,
            ..Broadcast::default()
        }
    }

    /// Builds the node from command-line arguments (without the program name): `frugal` or
    /// `default` picks the [`Mode`]; `hub-ms=N`, `ack-ms=N`, `rto-ms=N` and `max-rto-ms=N`
    /// override single [`Config`] knobs (for tuning). Anything else is logged at init and
    /// otherwise ignored.
    pub fn from_args(args: &[String]) -> Broadcast {
        let mut mode = Mode::Default;
        let mut notes = Vec::new();
        let mut overrides = Vec::new();
        for arg in args {
            match arg.as_str() {
                "frugal" => mode = Mode::Frugal,
                "default" => mode = Mode::Default,
                other => match other.split_once('=') {
                    Some((knob, value)) => match value.parse::<u64>() {
                        Ok(ms) if ["hub-ms", "ack-ms", "rto-ms", "max-rto-ms"].contains(&knob) => {
                            overrides.push((knob.to_string(), Duration::from_millis(ms)))
                        }
                        _ => notes.push(format!("ignoring unknown argument {other:?}")),
                    },
                    None => notes.push(format!("ignoring unknown argument {other:?}")),
                },
            }
        }
        let mut cfg = Config::for_mode(mode);
        for (knob, value) in overrides {
            match knob.as_str() {
                "hub-ms" => cfg.hub_period = value.max(Duration::from_millis(1)),
                "ack-ms" => cfg.ack_delay = value,
                "rto-ms" => cfg.min_rto = value.max(Duration::from_millis(1)),
                _ => cfg.max_rto = value,
            }
        }
        notes.push(format!("mode {mode:?}, {cfg:?}"));
        Broadcast {
            cfg,
            notes,
            ..Broadcast::default()
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// The values this node knows (what `read` answers).
    pub fn messages(&self) -> &Seen {
        &self.seen
    }

    /// Whether every link is idle: nothing queued, in flight, or owed.
    pub fn is_quiet(&self) -> bool {
        !self.hub_queue_reaches_a_link() && self.links.values().all(Link::is_idle)
    }

    /// Whether a value waiting in the hub's queue is for some link (not every one is: a run
    /// may leave out the only links there are).
    fn hub_queue_reaches_a_link(&self) -> bool {
        let mut start = 0;
        self.hub_queue.runs.iter().any(|&(end, from, skip)| {
            let some = end > start
                && self
                    .links
                    .values()
                    .enumerate()
                    .any(|(i, link)| link.member && Some(i) != from && Some(i) != skip);
            start = end;
            some
        })
    }

    /// The node that distributes what we learn from clients: the first node in Maelstrom's
    /// order whose link is not suspect (perhaps this node itself).
    pub fn acting_hub(&self) -> &str {
        for node in &self.nodes {
            let suspect = self
                .links
                .find(node)
                .is_some_and(|i| self.links.get(i).suspect());
            if *node == self.me || !suspect {
                return node;
            }
        }
        &self.me
    }

    /// The index of our link to `peer`, made now if need be.
    fn link(&mut self, peer: &str) -> usize {
        match self.links.find(peer) {
            Some(i) => i,
            None => {
                // The hub's queue names links by index, which an insert moves.
                self.copy_hub_queue();
                let member = self.nodes.iter().any(|n| n == peer);
                self.links.insert(peer, Link::new(member, &self.cfg))
            }
        }
    }

    /// Takes note of a change to link `i` made outside a tick, for the tick's shortcut.
    fn touched(&mut self, i: usize) {
        let link = self.links.get(i);
        if link.has_queued() && !link.down() {
            self.flush_due = true;
        }
        self.quiet_until = self.quiet_until.min(link.deadline(self.cfg.ack_delay));
    }

    /// Sees to it that every node gets `values`: as the acting hub, by queueing them for
    /// every other node (but `from` and `skip`, which have them); otherwise by handing them to
    /// the acting hub for relaying.
    fn distribute<N: Node>(
        &mut self,
        ctx: &mut Ctx<N>,
        values: &[u64],
        from: Option<&str>,
        skip: Option<&str>,
    ) {
        if values.is_empty() {
            return;
        }
        let hub = self.acting_hub();
        if hub == self.me {
            if !self.all_links {
                // Made here rather than at init: a leaf's every tick looks at each of its links.
                for i in 0..self.nodes.len() {
                    if self.nodes[i] != self.me {
                        let peer = self.nodes[i].clone();
                        self.link(&peer);
                    }
                }
                self.all_links = true;
            }
            let from = from.and_then(|peer| self.links.find(peer));
            let skip = skip.and_then(|peer| self.links.find(peer));
            self.flush_due = true;
            // In a cluster of one, nobody to send to (and no tick to empty the queue).
            if self.links.values().any(|link| link.member) {
                let queue = &mut self.hub_queue;
                queue.values.extend_from_slice(values);
                queue.runs.push((queue.values.len(), from, skip));
            }
        } else {
            let i = match self.links.find(hub) {
                Some(i) => i,
                None => {
                    let hub = hub.to_string();
                    self.link(&hub)
                }
            };
            // What this node queued as the hub goes out with this flush, as it was queued.
            self.copy_hub_queue();
            let (hub, link) = self.links.get_mut(i);
            link.relay.extend_from_slice(values);
            link.flush(ctx, hub, &mut self.values_text);
            self.touched(i);
        }
    }

    fn on_gossip(
        &mut self,
        ctx: &mut Ctx<Self>,
        peer: &str,
        seq: Option<u64>,
        values: &[u64],
        mut relay: Vec<u64>,
        acks: &[u64],
    ) {
        let now = ctx.now();
        let i = self.link(peer);
        let (_, link) = self.links.get_mut(i);
        for &ack in acks {
            link.on_ack(ack, now, &self.cfg);
        }
        if let Some(seq) = seq {
            if link.owed.is_empty() {
                link.owed_since = now;
            }
            link.owed.push(seq);
        }
        self.touched(i);
        self.seen.extend(values);
        // Values that come to be relayed are distributed by whoever learns them first that
        // way; a plain value came from a hub that sends it to everyone itself.
        relay.retain(|&v| self.seen.insert(v));
        self.distribute(ctx, &relay, Some(peer), None);
    }

    /// Copies what the hub queued into its member links' queues (but the links each run
    /// leaves out), in the order queued: each link's queue then holds what `distribute`
    /// would have put there value list by value list. Done before anything looks at a
    /// link's queue (a tick, a flush) or moves links (an insert).
    fn copy_hub_queue(&mut self) {
        let HubQueue { values, runs } = &mut self.hub_queue;
        if values.is_empty() {
            return;
        }
        for (i, (_, link)) in self.links.iter_mut().enumerate() {
            if !link.member {
                continue;
            }
            // Runs that leave this link out split what it gets into stretches.
            let (mut start, mut run_start) = (0, 0);
            for &(end, from, skip) in runs.iter() {
                if from == Some(i) || skip == Some(i) {
                    link.queue.extend_from_slice(&values[start..run_start]);
                    start = end;
                }
                run_start = end;
            }
            link.queue.extend_from_slice(&values[start..]);
        }
        values.clear();
        runs.clear();
    }

    fn on_tick(&mut self, ctx: &mut Ctx<Self>) {
        let now = ctx.now();
        let idle = !self.flush_due && now < self.quiet_until;
        #[cfg(test)]
        let idle = idle && !self.scan_every_tick;
        if idle {
            return;
        }
        self.copy_hub_queue();
        let cfg = &self.cfg;
        let mut reroute = Vec::new();
        let mut quiet_until = Duration::MAX;
        for (peer, link) in self.links.iter_mut() {
            if link.timed_out(now) {
                match link.time_out(cfg) {
                    1 if !link.relay.is_empty() => {
                        // Our hub does not answer: hand its relaying to the next one too.
                        reroute.push((peer.to_string(), link.relay.clone()));
                    }
                    2 => log!(ctx, "link to {peer} down; probing every {:?}", link.rto()),
                    _ => {}
                }
                link.flush(ctx, peer, &mut self.values_text);
            } else if !link.down() {
                link.flush(ctx, peer, &mut self.values_text);
            }
            link.flush_acks(ctx, peer, cfg.ack_delay, &mut self.values_text);
            quiet_until = quiet_until.min(link.deadline(cfg.ack_delay));
        }
        // Every link that is not down has flushed its queues (what `reroute` queues is
        // noted by `distribute`).
        self.flush_due = false;
        self.quiet_until = quiet_until;
        for (peer, values) in reroute {
            self.distribute(ctx, &values, None, Some(&peer));
            log!(
                ctx,
                "no ack from hub {peer}; relaying through {} now",
                self.acting_hub()
            );
        }
    }
}

impl Node for Broadcast {
    type Request<'de> = Request;
    type Timer = Tick;

    fn read_request<'de>(ty: &str, body: &mut BodyReader<'de>) -> Option<Request> {
        read::read(ty, body)
    }

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        for note in std::mem::take(&mut self.notes) {
            log!(ctx, "{note}");
        }
        self.me = ctx.node_id().to_string();
        self.nodes = ctx.node_ids().to_vec();
        if !self.nodes.contains(&self.me) {
            self.nodes.push(self.me.clone());
        }
        if self.nodes.len() > 1 {
            ctx.every(self.cfg.hub_period, Tick);
        }
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Topology => ctx.reply_with(&from, "topology_ok", |_| {}),
            Request::Broadcast { message } => {
                if self.seen.insert(message) {
                    self.distribute(ctx, &[message], None, None);
                }
                ctx.reply_with(&from, "broadcast_ok", |_| {});
            }
            Request::Read => {
                let messages = self.seen.json();
                ctx.reply_with(&from, "read_ok", |body| {
                    // Digits and commas only: no line break to look for.
                    body.raw_one_line("messages", messages);
                });
            }
            Request::Gossip {
                seq,
                values,
                relay,
                acks,
            } => self.on_gossip(ctx, from.src(), seq, &values, relay, &acks),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, _: Tick) {
        self.on_tick(ctx);
    }
}
