//! The simulated network, as Maelstrom's `net.clj` behaves.
//!
//! Every participant (server node, client, service) has a queue ordered by delivery deadline
//! (send time + latency) and a single delivery slot: the slot takes the earliest-deadline message
//! queued *at that moment*, checks partitions right then, waits for the deadline and delivers,
//! then takes the next. So a message that is queued while the slot waits on a later deadline
//! waits behind it (head-of-line blocking), and a message that passed the partition check is
//! delivered even if a partition starts before its deadline.
//!
//! The network does not keep time itself: [`Network::send`] and [`Network::deliver`] return the
//! time at which the caller must call `deliver` for that recipient next.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

use rand::Rng as _;
use serde::Serialize;

use crate::history::{Nanos, NANOS_PER_MS};
use crate::Rng;

mod journal;
mod message;

use journal::{EventKind, HeadWriter};
pub use journal::{Journal, JournalEvent, LinesJournal, BODY_KEY};
pub(crate) use message::parse_value;
pub use message::{Addr, Body, Message};

/// `--latency-dist`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LatencyDist {
    Constant,
    Uniform,
    Exponential,
}

/// Latency between non-client participants; client traffic is always instantaneous.
#[derive(Clone, Copy, Debug)]
pub struct Latency {
    pub mean_ms: u64,
    pub dist: LatencyDist,
}

impl Latency {
    /// Refuses the settings on which Maelstrom breaks (exponential or uniform with mean 0).
    pub fn new(mean_ms: u64, dist: LatencyDist) -> anyhow::Result<Latency> {
        if mean_ms == 0 && dist != LatencyDist::Constant {
            anyhow::bail!(
                "--latency-dist {} needs --latency above 0 (Maelstrom fails on it: use constant)",
                format!("{dist:?}").to_lowercase()
            );
        }
        Ok(Latency { mean_ms, dist })
    }

    /// One draw, truncated to whole milliseconds as Maelstrom does.
    fn sample(&self, rng: &mut Rng) -> Nanos {
        let ms = match self.dist {
            LatencyDist::Constant => self.mean_ms,
            LatencyDist::Uniform => rng.gen_range(0..2 * self.mean_ms),
            LatencyDist::Exponential => {
                let u: f64 = rng.gen();
                (-(1.0 - u).ln() * self.mean_ms as f64) as u64
            }
        };
        ms * NANOS_PER_MS
    }
}

/// Traffic class for statistics: client traffic has a client at either end; everything else
/// (node to node, node to service) is servers traffic.
fn is_client_traffic(m: &Message) -> bool {
    m.src.is_client() || m.dest.is_client()
}

/// send / recv counts for one class of traffic.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    pub send_count: u64,
    pub recv_count: u64,
    /// Distinct messages sent (Maelstrom's msg-count).
    pub msg_count: u64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetStats {
    pub all: Counts,
    pub clients: Counts,
    pub servers: Counts,
    /// Messages dropped by partitions.
    pub dropped: u64,
}

impl NetStats {
    fn sent(&mut self, m: &Message) {
        for c in self.classes(m) {
            c.send_count += 1;
            c.msg_count += 1;
        }
    }

    fn received(&mut self, m: &Message) {
        for c in self.classes(m) {
            c.recv_count += 1;
        }
    }

    /// The `all` counts and the counts of the message's own class.
    fn classes(&mut self, m: &Message) -> [&mut Counts; 2] {
        let class = if is_client_traffic(m) {
            &mut self.clients
        } else {
            &mut self.servers
        };
        [&mut self.all, class]
    }
}

/// Who drops messages from whom: `dest -> srcs it ignores`. Only server nodes appear.
pub type Grudge = BTreeMap<u32, BTreeSet<u32>>;

/// What a fault rule ([`Network::set_fault_rule`]) decides for a message as it is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Send it as usual.
    Deliver,
    /// Lose it: counted and journaled as a drop, never delivered.
    Drop,
    /// Deliver it this many nanoseconds later than its latency says.
    Delay(Nanos),
}

/// Decides the [`Fate`] of each message at the time it is sent (the test harness's lost and
/// delayed messages); the partition check still applies at delivery.
pub type FaultRule = Box<dyn FnMut(Nanos, &Message) -> Fate>;

/// A recipient's messages waiting for the delivery slot, in order of (deadline, send order):
/// equal deadlines stay FIFO. The heap holds small keys (deadline, id, where the message is
/// kept), so that sifting moves no messages.
#[derive(Default)]
struct Queue {
    heap: BinaryHeap<Reverse<(Nanos, u64, u32)>>,
    /// The messages, at the indices their keys name; `None` where a slot is free.
    kept: Vec<Option<Message>>,
    /// Free indices in `kept`.
    free: Vec<u32>,
}

impl Queue {
    fn push(&mut self, deadline: Nanos, message: Message) {
        let id = message.id;
        let at = match self.free.pop() {
            Some(at) => {
                self.kept[at as usize] = Some(message);
                at
            }
            None => {
                self.kept.push(Some(message));
                (self.kept.len() - 1) as u32
            }
        };
        self.heap.push(Reverse((deadline, id, at)));
    }

    /// The earliest message and its deadline.
    fn pop(&mut self) -> Option<(Nanos, Message)> {
        let Reverse((deadline, _, at)) = self.heap.pop()?;
        self.free.push(at);
        let message = self.kept[at as usize].take().expect("a kept message");
        Some((deadline, message))
    }
}

#[derive(Default)]
struct Mailbox {
    /// Empty whenever the slot is (a message goes to the slot as soon as it is free).
    queue: Queue,
    /// The message in the delivery slot, if any.
    in_slot: Option<Message>,
}

/// Every participant's mailbox, indexed by its number (a lookup per send and delivery: no
/// hashing).
#[derive(Default)]
struct Mailboxes {
    nodes: Vec<Mailbox>,
    clients: Vec<Mailbox>,
    services: Vec<Mailbox>,
}

impl Mailboxes {
    fn slot(&mut self, addr: Addr) -> (&mut Vec<Mailbox>, usize) {
        match addr {
            Addr::Node(i) => (&mut self.nodes, i as usize),
            Addr::Client(i) => (&mut self.clients, i as usize),
            Addr::Service(i) => (&mut self.services, i as usize),
        }
    }

    fn get_mut(&mut self, addr: Addr) -> Option<&mut Mailbox> {
        let (boxes, i) = self.slot(addr);
        boxes.get_mut(i)
    }

    fn get_or_insert(&mut self, addr: Addr) -> &mut Mailbox {
        let (boxes, i) = self.slot(addr);
        if boxes.len() <= i {
            boxes.resize_with(i + 1, Mailbox::default);
        }
        &mut boxes[i]
    }
}

/// The network: per-recipient queues, partitions, statistics and an optional journal.
pub struct Network {
    latency: Latency,
    mailboxes: Mailboxes,
    grudge: Grudge,
    next_id: u64,
    stats: NetStats,
    journal: Option<Box<dyn Journal>>,
    /// Writes the journal lines' heads.
    head: Box<HeadWriter>,
    /// A map body's text as the journal keeps it (kept to reuse its allocation).
    journal_body: Vec<u8>,
    fault_rule: Option<FaultRule>,
    /// Maelstrom's `--log-net-send` / `--log-net-recv`: print each message to stderr as it
    /// is sent / delivered.
    log: NetLog,
}

/// Which messages [`Network`] prints to stderr as they go.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetLog {
    pub send: bool,
    pub recv: bool,
}

impl Network {
    pub fn new(latency: Latency) -> Network {
        Network {
            latency,
            mailboxes: Mailboxes::default(),
            grudge: Grudge::new(),
            next_id: 0,
            stats: NetStats::default(),
            journal: None,
            head: Box::default(),
            journal_body: Vec::new(),
            fault_rule: None,
            log: NetLog::default(),
        }
    }

    /// Prints sends and/or deliveries to stderr as they happen.
    pub fn with_log(mut self, log: NetLog) -> Network {
        self.log = log;
        self
    }

    /// Journal every send, delivery and drop into `out` (`messages.jsonl`, see [`Journal`]).
    pub fn with_journal(mut self, out: Box<dyn Journal>) -> Network {
        self.journal = Some(out);
        self
    }

    pub fn stats(&self) -> NetStats {
        self.stats
    }

    pub fn set_grudge(&mut self, grudge: Grudge) {
        self.grudge = grudge;
    }

    /// Lets `rule` decide the fate of every message sent from now on (`None`: no rule).
    pub fn set_fault_rule(&mut self, rule: Option<FaultRule>) {
        self.fault_rule = rule;
    }

    pub fn heal(&mut self) {
        self.grudge.clear();
    }

    /// Sends a message. Returns `Some(t)` when the recipient's delivery slot took it (or a
    /// message queued before it), meaning the caller must call [`Network::deliver`] for `dest`
    /// at time `t`.
    pub fn send(
        &mut self,
        now: Nanos,
        src: Addr,
        dest: Addr,
        body: impl Into<Body>,
        rng: &mut Rng,
    ) -> Option<Nanos> {
        let id = self.next_id;
        self.next_id += 1;
        let message = Message {
            id,
            src,
            dest,
            body: body.into(),
        };
        let fate = match self.fault_rule.as_mut() {
            Some(rule) => rule(now, &message),
            None => Fate::Deliver,
        };
        let latency = if is_client_traffic(&message) {
            0
        } else {
            self.latency.sample(rng)
        };
        self.stats.sent(&message);
        self.journal_event(now, EventKind::Send, &message, true);
        let latency = match fate {
            Fate::Deliver => latency,
            Fate::Delay(extra) => latency + extra,
            Fate::Drop => {
                self.stats.dropped += 1;
                self.journal_event(now, EventKind::Drop, &message, false);
                return None;
            }
        };
        let deadline = now + latency;
        let mailbox = self.mailboxes.get_or_insert(dest);
        if mailbox.in_slot.is_some() {
            mailbox.queue.push(deadline, message);
            return None;
        }
        // The slot is free, so the queue is empty: it would hand this message straight
        // back to `fill_slot`, and `take_into_slot` put it in the slot (done here, with the
        // mailbox at hand).
        debug_assert!(mailbox.queue.heap.is_empty());
        if !partitioned(&self.grudge, &message) {
            mailbox.in_slot = Some(message);
            return Some(deadline.max(now));
        }
        self.stats.dropped += 1;
        self.journal_event(now, EventKind::Drop, &message, false);
        None
    }

    /// Takes the message in `dest`'s delivery slot (its deadline has come), and refills the slot.
    /// Returns the message and, if the slot was refilled, when to deliver next.
    pub fn deliver(&mut self, now: Nanos, dest: Addr) -> (Option<Message>, Option<Nanos>) {
        let Some(mailbox) = self.mailboxes.get_mut(dest) else {
            return (None, None);
        };
        let message = mailbox.in_slot.take();
        let queued = !mailbox.queue.heap.is_empty();
        if let Some(m) = &message {
            self.stats.received(m);
            self.journal_event(now, EventKind::Recv, m, false);
        }
        // Most slots have nothing queued behind them.
        let next = if queued {
            self.fill_slot(now, dest)
        } else {
            None
        };
        (message, next)
    }

    /// Moves the earliest queued message into the slot, dropping (for good) those a partition
    /// forbids right now.
    fn fill_slot(&mut self, now: Nanos, dest: Addr) -> Option<Nanos> {
        loop {
            let mailbox = self.mailboxes.get_mut(dest)?;
            let (deadline, message) = mailbox.queue.pop()?;
            if let Some(at) = self.take_into_slot(now, dest, deadline, message) {
                return Some(at);
            }
        }
    }

    /// Puts `message` (the earliest for `dest`) into `dest`'s free slot, or drops it for good
    /// if a partition forbids it right now (`None`). When to deliver it.
    fn take_into_slot(
        &mut self,
        now: Nanos,
        dest: Addr,
        deadline: Nanos,
        message: Message,
    ) -> Option<Nanos> {
        if partitioned(&self.grudge, &message) {
            self.stats.dropped += 1;
            self.journal_event(now, EventKind::Drop, &message, false);
            return None;
        }
        self.mailboxes.get_mut(dest).expect("mailbox").in_slot = Some(message);
        Some(deadline.max(now))
    }

    /// Journals and logs an event, if there is a journal or a log (most runs have neither:
    /// then this costs one test).
    #[inline]
    fn journal_event(&mut self, now: Nanos, kind: EventKind, m: &Message, with_body: bool) {
        if self.journal.is_some() || self.log.send || self.log.recv {
            self.write_event(now, kind, m, with_body);
        }
    }

    fn write_event(&mut self, now: Nanos, kind: EventKind, m: &Message, with_body: bool) {
        if (kind == EventKind::Send && self.log.send) || (kind == EventKind::Recv && self.log.recv)
        {
            log_line(now, kind.as_str(), m);
        }
        let Some(out) = self.journal.as_mut() else {
            return;
        };
        // The line's head, then its body as it is (a map's as serde_json writes it): the
        // journal puts the pieces together where it keeps them.
        let body = match (&m.body, with_body) {
            (_, false) => None,
            (Body::Raw(text) | Body::Reply(text, _), true) => Some(&text[..]),
            (Body::Map(_), true) => {
                self.journal_body.clear();
                m.body.write_journal_json(&mut self.journal_body);
                Some(&self.journal_body[..])
            }
        };
        let head = self.head.write(now, kind, m);
        // A journal that cannot be written is reported once by the report (flush fails);
        // the test itself goes on.
        out.event(&JournalEvent {
            time: now,
            kind: kind.as_str(),
            id: m.id,
            src: head.src,
            dest: head.dest,
            src_addr: m.src,
            dest_addr: m.dest,
            body,
            head: head.bytes,
        });
    }

    /// Flushes the journal.
    pub fn flush(&mut self) -> std::io::Result<()> {
        match self.journal.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

/// Whether a partition forbids this message right now.
fn partitioned(grudge: &Grudge, m: &Message) -> bool {
    match (m.src, m.dest) {
        (Addr::Node(src), Addr::Node(dest)) => grudge.get(&dest).is_some_and(|s| s.contains(&src)),
        _ => false,
    }
}

/// One `--log-net-send` / `--log-net-recv` line: test time, event, id, route and body.
fn log_line(now: Nanos, kind: &str, m: &Message) {
    let mut body = Vec::new();
    m.body.write_json(&mut body);
    eprintln!(
        "{:>10.3} s  {kind} #{} {} -> {} {}",
        now as f64 / 1e9,
        m.id,
        m.src,
        m.dest,
        String::from_utf8_lossy(&body)
    );
}

#[cfg(test)]
mod tests {
    use super::message::push_addr;
    use super::*;
    use rand::SeedableRng;
    use serde_json::{Map, Value};

    /// The queue of keys over kept messages hands them out as one heap of whole messages
    /// ordered by (deadline, id) would.
    #[test]
    fn queued_messages_come_out_in_deadline_then_send_order() {
        use rand::Rng as _;
        let mut rng = Rng::seed_from_u64(9);
        let mut queue = Queue::default();
        let mut reference = BinaryHeap::new();
        let mut most_waiting = 0;
        for id in 0..5000u64 {
            let deadline = rng.gen_range(0..50);
            let message = Message {
                id,
                src: Addr::Node(0),
                dest: Addr::Node(1),
                body: Body::Raw(b"{}".to_vec().into()),
            };
            queue.push(deadline, message);
            reference.push(Reverse((deadline, id)));
            most_waiting = most_waiting.max(reference.len());
            while rng.gen_bool(0.45) {
                let expected = reference.pop().map(|Reverse(key)| key);
                let got = queue.pop().map(|(deadline, m)| (deadline, m.id));
                assert_eq!(got, expected);
            }
        }
        // Freed places are taken again: no more are kept than were ever waiting at once.
        assert_eq!(queue.kept.len(), most_waiting);
        while let Some(Reverse(key)) = reference.pop() {
            assert_eq!(queue.pop().map(|(deadline, m)| (deadline, m.id)), Some(key));
        }
        assert!(queue.pop().is_none() && queue.kept.iter().all(Option::is_none));
    }

    fn body(n: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("n".into(), n.into());
        m
    }

    fn net(ms: u64, dist: LatencyDist) -> (Network, Rng) {
        (
            Network::new(Latency::new(ms, dist).unwrap()),
            Rng::seed_from_u64(7),
        )
    }

    /// An address is written as its id in a JSON string, whatever its number of digits.
    #[test]
    fn addresses_are_written_as_json_strings_of_their_ids() {
        let mut ids: Vec<Addr> = (0..300)
            .flat_map(|i| [Addr::Node(i), Addr::Client(i)])
            .collect();
        ids.extend([
            Addr::Client(u32::MAX),
            Addr::Node(123_456),
            Addr::Service(0),
            Addr::Service(1),
        ]);
        for addr in ids {
            let mut out = b"x".to_vec();
            push_addr(&mut out, addr);
            assert_eq!(
                out,
                format!("x{}", serde_json::to_string(&addr).unwrap()).into_bytes()
            );
        }
    }

    /// The short path of `Addr::parse_bytes` reads ids as `Addr::parse` does.
    #[test]
    fn addresses_are_parsed_from_bytes_as_from_text() {
        use rand::Rng as _;
        let mut rng = Rng::seed_from_u64(3);
        let mut ids: Vec<Vec<u8>> = [
            "n0",
            "n24",
            "n25",
            "c0",
            "c01",
            "n+1",
            "c4294967295",
            "c4294967296",
            "c999999999",
            "n",
            "c",
            "",
            "lin-kv",
            "seq-kv",
            "n٣",
            "x1",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        let alphabet = b"nc0123456789+-x";
        for _ in 0..20_000 {
            let len = rng.gen_range(0..12);
            ids.push(
                (0..len)
                    .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                    .collect(),
            );
        }
        ids.push(vec![b'n', 0xff]);
        for id in &ids {
            for node_count in [0, 1, 3, 25] {
                let text = std::str::from_utf8(id).ok();
                let expected = text.and_then(|t| Addr::parse(t, node_count));
                assert_eq!(Addr::parse_bytes(id, node_count), expected, "{id:?}");
            }
        }
    }

    #[test]
    fn server_traffic_pays_latency_and_client_traffic_does_not() {
        let (mut net, mut rng) = net(100, LatencyDist::Constant);
        let t = net.send(5, Addr::Node(0), Addr::Node(1), body(1), &mut rng);
        assert_eq!(t, Some(5 + 100 * NANOS_PER_MS));
        let t = net.send(5, Addr::Client(3), Addr::Node(2), body(2), &mut rng);
        assert_eq!(t, Some(5));
        let t = net.send(5, Addr::Node(0), Addr::Service(1), body(3), &mut rng);
        assert_eq!(t, Some(5 + 100 * NANOS_PER_MS));
        let s = net.stats();
        assert_eq!(s.clients.send_count, 1);
        assert_eq!(s.servers.send_count, 2);
        assert_eq!(s.all.msg_count, 3);
    }

    #[test]
    fn one_delivery_slot_per_recipient() {
        // A message queued while the slot waits on a later deadline waits behind it.
        let (mut net, mut rng) = net(100, LatencyDist::Uniform);
        let mut deadlines = Vec::new();
        for i in 0..50 {
            if let Some(t) = net.send(i, Addr::Node(0), Addr::Node(1), body(i), &mut rng) {
                deadlines.push(t);
            }
        }
        assert_eq!(
            deadlines.len(),
            1,
            "only the first send fills the idle slot"
        );
        let mut now = deadlines[0];
        let mut delivered = 0;
        loop {
            let (m, next) = net.deliver(now, Addr::Node(1));
            assert!(m.is_some());
            delivered += 1;
            match next {
                Some(t) => {
                    assert!(t >= now, "delivery times never go backwards");
                    now = t;
                }
                None => break,
            }
        }
        assert_eq!(delivered, 50);
        assert_eq!(net.stats().all.recv_count, 50);
    }

    #[test]
    fn constant_latency_is_fifo_per_destination() {
        let (mut net, mut rng) = net(10, LatencyDist::Constant);
        let mut next = None;
        for i in 0..5 {
            let t = net.send(i * 1000, Addr::Node(0), Addr::Node(1), body(i), &mut rng);
            next = next.or(t);
        }
        let mut now = next.unwrap();
        let mut order = Vec::new();
        loop {
            let (m, t) = net.deliver(now, Addr::Node(1));
            order.push(m.unwrap().body.as_map()["n"].as_u64().unwrap());
            match t {
                Some(t) => now = t,
                None => break,
            }
        }
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn partitions_are_checked_when_the_slot_takes_a_message() {
        let (mut net, mut rng) = net(100, LatencyDist::Constant);
        let mut grudge = Grudge::new();
        grudge.insert(1, [0].into());
        net.set_grudge(grudge.clone());
        // Sent during the partition: dropped at once, even though the partition heals before
        // the deadline.
        assert_eq!(
            net.send(0, Addr::Node(0), Addr::Node(1), body(1), &mut rng),
            None
        );
        net.heal();
        assert_eq!(net.stats().dropped, 1);
        // Passed the check before the partition: delivered although a partition starts.
        let t = net
            .send(10, Addr::Node(0), Addr::Node(1), body(2), &mut rng)
            .unwrap();
        net.set_grudge(grudge);
        let (m, _) = net.deliver(t, Addr::Node(1));
        assert_eq!(m.unwrap().body.as_map()["n"], 2);
        // Clients and services are never partitioned.
        assert!(net
            .send(20, Addr::Client(0), Addr::Node(1), body(3), &mut rng)
            .is_some());
    }

    #[test]
    fn exponential_latency_has_the_requested_mean() {
        let (mut net, mut rng) = net(100, LatencyDist::Exponential);
        let n = 20_000u64;
        let mut total = 0;
        for i in 0..n {
            // A fresh recipient each time, so every send fills an idle slot at its deadline.
            let t = net
                .send(
                    0,
                    Addr::Node(0),
                    Addr::Node(i as u32 + 1),
                    body(i),
                    &mut rng,
                )
                .unwrap();
            total += t;
        }
        let mean_ms = total as f64 / n as f64 / NANOS_PER_MS as f64;
        assert!((95.0..105.0).contains(&mean_ms), "mean {mean_ms}");
    }

    #[test]
    fn a_fault_rule_drops_and_delays_at_send_time() {
        let (mut net, mut rng) = net(10, LatencyDist::Constant);
        net.set_fault_rule(Some(Box::new(|_, m: &Message| {
            match m.body.as_map()["n"].as_u64() {
                Some(1) => Fate::Drop,
                Some(2) => Fate::Delay(5 * NANOS_PER_MS),
                _ => Fate::Deliver,
            }
        })));
        assert_eq!(
            net.send(0, Addr::Node(0), Addr::Node(1), body(1), &mut rng),
            None
        );
        assert_eq!(net.stats().dropped, 1);
        let t = net.send(0, Addr::Node(0), Addr::Node(1), body(2), &mut rng);
        assert_eq!(t, Some(15 * NANOS_PER_MS));
        let (m, _) = net.deliver(15 * NANOS_PER_MS, Addr::Node(1));
        assert_eq!(m.unwrap().body.as_map()["n"], 2);
        net.set_fault_rule(None);
        let t = net.send(20, Addr::Node(0), Addr::Node(1), body(1), &mut rng);
        assert_eq!(t, Some(20 + 10 * NANOS_PER_MS));
    }

    #[test]
    fn refuses_what_maelstrom_breaks_on() {
        assert!(Latency::new(0, LatencyDist::Exponential).is_err());
        assert!(Latency::new(0, LatencyDist::Uniform).is_err());
        assert!(Latency::new(0, LatencyDist::Constant).is_ok());
    }

    #[test]
    fn parses_addresses() {
        assert_eq!(Addr::parse("n3", 5), Some(Addr::Node(3)));
        assert_eq!(Addr::parse("n5", 5), None);
        assert_eq!(Addr::parse("n03", 5), None);
        assert_eq!(Addr::parse("c12", 5), Some(Addr::Client(12)));
        assert_eq!(Addr::parse("seq-kv", 5), Some(Addr::Service(1)));
        assert_eq!(Addr::parse("nobody", 5), None);
        assert_eq!(Addr::Service(3).to_string(), "lin-tso");
    }
}
