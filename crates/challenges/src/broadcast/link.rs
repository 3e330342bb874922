//! Our end of a reliable link to one peer ([`Link`]), and the node's links by peer ([`Links`]).

use std::collections::VecDeque;
use std::time::Duration;

use glomers_node::{Ctx, Node};

use super::{send_gossip, Config, ValuesText};

/// One transmission awaiting its ack.
#[derive(Debug)]
struct Batch {
    sent: Duration,
    values: Vec<u64>,
    relay: Vec<u64>,
}

/// Our end of a reliable link to one peer.
#[derive(Debug)]
pub(super) struct Link {
    /// Values for the peer to keep, sent with the next tick's flush.
    pub queue: Vec<u64>,
    /// Values for the peer to keep and distribute (we use it as our hub), sent at once.
    pub relay: Vec<u64>,
    /// Transmissions not acknowledged yet, with their seqs, in the order sent (seqs grow: the
    /// first is the oldest, and a seq is found by binary search).
    inflight: VecDeque<(u64, Batch)>,
    next_seq: u64,
    /// Seqs of the peer's transmissions that we have to acknowledge.
    pub owed: Vec<u64>,
    /// When the oldest owed ack was incurred.
    pub owed_since: Duration,
    /// The peer is one of the cluster's nodes (a link to anyone else only answers).
    pub member: bool,
    /// Consecutive retransmission timeouts without an ack in between.
    timeouts: u32,
    /// Smoothed ack round trip and its variation, once measured, in nanoseconds (integer
    /// arithmetic with the same results as `Duration`'s, whose divisions by 2, 4 and 8 are
    /// exact too, at a fraction of the instructions).
    rtt: Option<(u64, u64)>,
    /// [`Link::rto_of`] as of the last change of `rtt` or `timeouts` (kept: every full tick
    /// asks each link for it).
    rto: Duration,
    /// Emptied vectors of acknowledged batches, to take the queues' place when they are sent
    /// (so that sending moves the queue into its batch instead of copying it).
    spare: Vec<Vec<u64>>,
}

impl Link {
    /// How many emptied vectors a link keeps for its queues.
    const SPARE: usize = 4;

    pub fn new(member: bool, cfg: &Config) -> Link {
        let mut link = Link {
            queue: Vec::new(),
            relay: Vec::new(),
            inflight: VecDeque::new(),
            next_seq: 0,
            owed: Vec::new(),
            owed_since: Duration::ZERO,
            member,
            timeouts: 0,
            rtt: None,
            rto: Duration::ZERO,
            spare: Vec::new(),
        };
        link.rto = link.rto_of(cfg);
        link
    }

    /// Suspect: a timeout without an ack since. We stop using the peer as a hub.
    pub fn suspect(&self) -> bool {
        self.timeouts >= 1
    }

    /// Down: two timeouts in a row. Then only probes go out.
    pub fn down(&self) -> bool {
        self.timeouts >= 2
    }

    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
            && self.relay.is_empty()
            && self.inflight.is_empty()
            && self.owed.is_empty()
    }

    /// Something waits in the queues for a flush.
    pub fn has_queued(&self) -> bool {
        !(self.queue.is_empty() && self.relay.is_empty())
    }

    /// The retransmission timeout.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// `max(min_rto, srtt + 4 rttvar)`, doubled per timeout in a row (at most 8), capped at
    /// `max(max_rto, that base)`. In nanoseconds as `u128` (no overflow, and the cap is never
    /// above `Duration::MAX`, so `Duration::saturating_mul` gives the same).
    fn rto_of(&self, cfg: &Config) -> Duration {
        let min_rto = cfg.min_rto.as_nanos();
        let base = match self.rtt {
            Some((srtt, rttvar)) => min_rto.max(u128::from(srtt) + 4 * u128::from(rttvar)),
            None => min_rto,
        };
        let cap = cfg.max_rto.as_nanos().max(base);
        let rto = (base << self.timeouts.min(8)).min(cap);
        match u64::try_from(rto) {
            Ok(nanos) => Duration::from_nanos(nanos),
            Err(_) => Duration::new((rto / 1_000_000_000) as u64, (rto % 1_000_000_000) as u32),
        }
    }

    pub fn timed_out(&self, now: Duration) -> bool {
        match self.inflight.front() {
            Some((_, oldest)) => now >= oldest.sent + self.rto,
            None => false,
        }
    }

    /// The earliest time at which a tick has something to do on this link other than flushing
    /// its queues: the oldest transmission times out, or owed acks are due to go bare
    /// (`Duration::MAX` if neither can happen).
    pub fn deadline(&self, ack_delay: Duration) -> Duration {
        let timeout = match self.inflight.front() {
            Some((_, oldest)) => oldest.sent + self.rto,
            None => Duration::MAX,
        };
        match self.owed.is_empty() {
            true => timeout,
            false => timeout.min(self.owed_since + ack_delay),
        }
    }

    pub fn on_ack(&mut self, seq: u64, now: Duration, cfg: &Config) {
        let Ok(at) = self.inflight.binary_search_by_key(&seq, |(seq, _)| *seq) else {
            return; // Already acknowledged, or requeued after a timeout.
        };
        let (_, batch) = self.inflight.remove(at).expect("found");
        self.timeouts = 0;
        // Simulated times are far below 2^64 ns (584 years).
        let sample = u64::try_from(now.saturating_sub(batch.sent).as_nanos()).unwrap_or(u64::MAX);
        self.rtt = Some(match self.rtt {
            None => (sample, sample / 2),
            Some((srtt, rttvar)) => {
                let err = srtt.abs_diff(sample);
                // As `Duration`'s `srtt * 7 / 8 + sample / 8` and `rttvar * 3 / 4 + err / 4`.
                (
                    ((u128::from(srtt) * 7 / 8) as u64) + sample / 8,
                    ((u128::from(rttvar) * 3 / 4) as u64) + err / 4,
                )
            }
        });
        self.rto = self.rto_of(cfg);
        for mut list in [batch.values, batch.relay] {
            if list.capacity() > 0 && self.spare.len() < Self::SPARE {
                list.clear();
                self.spare.push(list);
            }
        }
    }

    /// A retransmission timeout: everything unacknowledged goes back in the queues (to go out
    /// again in one transmission) and the timeout backs off. Returns the timeouts in a row.
    pub fn time_out(&mut self, cfg: &Config) -> u32 {
        self.requeue();
        self.timeouts += 1;
        self.rto = self.rto_of(cfg);
        self.timeouts
    }

    /// Puts everything unacknowledged back in the queues, to go out again in one transmission.
    fn requeue(&mut self) {
        let (mut values, mut relay) = (Vec::new(), Vec::new());
        for (_, batch) in std::mem::take(&mut self.inflight) {
            values.extend(batch.values);
            relay.extend(batch.relay);
        }
        values.append(&mut self.queue);
        relay.append(&mut self.relay);
        self.queue = values;
        self.relay = relay;
    }

    /// Sends the queues (if anything is queued) as one new transmission, with every owed ack.
    pub fn flush<N: Node>(&mut self, ctx: &mut Ctx<N>, peer: &str, cache: &mut ValuesText) {
        if !self.has_queued() {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let values = take_queue(&mut self.queue, &mut self.spare);
        let relay = take_queue(&mut self.relay, &mut self.spare);
        send_gossip(ctx, peer, Some(seq), &values, &relay, &self.owed, cache);
        self.owed.clear();
        let sent = ctx.now();
        // After every seq in flight: the order stays sorted.
        self.inflight.push_back((
            seq,
            Batch {
                sent,
                values,
                relay,
            },
        ));
    }

    /// Sends owed acks bare if they have waited `ack_delay` for a ride.
    pub fn flush_acks<N: Node>(
        &mut self,
        ctx: &mut Ctx<N>,
        peer: &str,
        ack_delay: Duration,
        cache: &mut ValuesText,
    ) {
        if self.owed.is_empty() || ctx.now() < self.owed_since + ack_delay {
            return;
        }
        send_gossip(ctx, peer, None, &[], &[], &self.owed, cache);
        self.owed.clear();
    }
}

/// The queue's contents, for a batch; the queue is left empty with a spare vector's room (an
/// empty queue is left alone: its batch gets an empty vector, which costs nothing).
fn take_queue(queue: &mut Vec<u64>, spare: &mut Vec<Vec<u64>>) -> Vec<u64> {
    if queue.is_empty() {
        return Vec::new();
    }
    std::mem::replace(queue, spare.pop().unwrap_or_default())
}

/// The node's links, by peer, in the peers' order (the order a tick goes over them, so the
/// order of what it sends). A link is found by its index; Maelstrom's node ids (`n<k>`) find
/// their index without comparing names.
#[derive(Debug, Default)]
pub(super) struct Links {
    /// Sorted.
    peers: Vec<String>,
    /// `links[i]` is our link to `peers[i]`.
    links: Vec<Link>,
    /// For each peer named `n<k>`, `by_number[k]` is its index + 1 (0: no such peer).
    by_number: Vec<u32>,
}

impl Links {
    /// Names `n<k>` with `k` below this are found through [`Links::by_number`].
    const NUMBERED: usize = 1 << 12;

    /// The index of the link to `peer`, if there is one.
    pub fn find(&self, peer: &str) -> Option<usize> {
        match node_number(peer) {
            Some(k) => match self.by_number.get(k) {
                Some(&i) if i > 0 => Some(i as usize - 1),
                _ => None,
            },
            None => self.search(peer).ok(),
        }
    }

    fn search(&self, peer: &str) -> Result<usize, usize> {
        self.peers.binary_search_by(|p| p.as_str().cmp(peer))
    }

    /// Adds `link` to `peer`, which has none yet; returns its index. (Indices of the links
    /// after it move up.)
    pub fn insert(&mut self, peer: &str, link: Link) -> usize {
        let at = self.search(peer).expect_err("a new peer");
        self.peers.insert(at, peer.to_string());
        self.links.insert(at, link);
        self.by_number.clear();
        for (i, peer) in self.peers.iter().enumerate() {
            if let Some(k) = node_number(peer) {
                if k >= self.by_number.len() {
                    self.by_number.resize(k + 1, 0);
                }
                self.by_number[k] = i as u32 + 1;
            }
        }
        at
    }

    pub fn get(&self, i: usize) -> &Link {
        &self.links[i]
    }

    /// The link at `i` with its peer's name.
    pub fn get_mut(&mut self, i: usize) -> (&str, &mut Link) {
        (&self.peers[i], &mut self.links[i])
    }

    pub fn values(&self) -> impl Iterator<Item = &Link> + '_ {
        self.links.iter()
    }

    /// Every link with its peer's name, in order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&str, &mut Link)> + '_ {
        self.peers.iter().map(String::as_str).zip(&mut self.links)
    }
}

/// `k` for a name `n<k>` (`k` written as Rust writes it: no leading zero) with `k` below
/// [`Links::NUMBERED`].
fn node_number(name: &str) -> Option<usize> {
    let digits = name.strip_prefix('n')?.as_bytes();
    crate::decimal::canonical_small(digits, 4).filter(|&k| k < Links::NUMBERED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_numbers_are_the_canonical_ones() {
        for (name, k) in [("n0", Some(0)), ("n7", Some(7)), ("n24", Some(24))] {
            assert_eq!(node_number(name), k);
        }
        for name in [
            "n", "n01", "n00", "c1", "n1a", "nn", "n-1", "n99999", "", "n4096",
        ] {
            assert_eq!(node_number(name), None, "{name}");
        }
        assert_eq!(node_number("n4095"), Some(4095));
    }

    /// Whatever names links are made for, in whatever order, each is found at the index
    /// where a sorted list of the names has it, and names without a link are not found.
    #[test]
    fn links_are_found_by_name_in_sorted_order() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let cfg = Config::default();
        let name = |rng: &mut glomers_node::rand_chacha::ChaCha8Rng| match rng.gen_range(0..4) {
            0 => format!("n0{}", rng.gen_range(0..3)),
            1 => format!("x{}", rng.gen_range(0..30)),
            2 => format!("n{}", rng.gen_range(4090..4100)),
            _ => format!("n{}", rng.gen_range(0..30)),
        };
        for _ in 0..50 {
            let mut links = Links::default();
            let mut names = std::collections::BTreeSet::new();
            for _ in 0..40 {
                let peer = name(&mut rng);
                if names.insert(peer.clone()) {
                    let member = rng.gen_bool(0.5);
                    let i = links.insert(&peer, Link::new(member, &cfg));
                    assert_eq!(links.get(i).member, member);
                }
                for probe in (0..10).map(|_| name(&mut rng)).chain([peer]) {
                    let want = names.iter().position(|n| *n == probe);
                    assert_eq!(links.find(&probe), want, "{probe}");
                }
                let order: Vec<String> = links.iter_mut().map(|(p, _)| p.to_string()).collect();
                assert!(order.iter().eq(names.iter()));
            }
        }
    }

    /// The round-trip estimate and timeout in integer nanoseconds are those `Duration`'s
    /// arithmetic gives (the way they were computed before), over random samples, timeouts
    /// and knobs.
    #[test]
    fn the_timeout_is_what_duration_arithmetic_gives() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let duration = |rng: &mut glomers_node::rand_chacha::ChaCha8Rng| match rng.gen_range(0..4) {
            0 => Duration::from_millis(rng.gen_range(0..5000)),
            1 => Duration::from_nanos(rng.gen_range(0..u64::MAX / 16)),
            2 => Duration::new(rng.gen_range(0..1 << 40), rng.gen_range(0..1_000_000_000)),
            _ => Duration::from_nanos(rng.gen_range(0..1000)),
        };
        for _ in 0..300 {
            let cfg = Config {
                hub_period: Duration::from_millis(100),
                ack_delay: Duration::from_millis(100),
                min_rto: duration(&mut rng),
                max_rto: duration(&mut rng),
            };
            let mut link = Link::new(true, &cfg);
            let mut rtt: Option<(Duration, Duration)> = None;
            for _ in 0..30 {
                let sample = match rng.gen_range(0..3) {
                    0 => Duration::from_millis(rng.gen_range(0..3000)),
                    _ => Duration::from_nanos(rng.gen_range(0..1 << 50)),
                };
                let sent = Duration::from_secs(rng.gen_range(0..100));
                link.inflight.push_back((
                    link.next_seq,
                    Batch {
                        sent,
                        values: Vec::new(),
                        relay: Vec::new(),
                    },
                ));
                link.timeouts = rng.gen_range(0..12);
                link.on_ack(link.next_seq, sent + sample, &cfg);
                link.next_seq += 1;
                rtt = Some(match rtt {
                    None => (sample, sample / 2),
                    Some((srtt, rttvar)) => {
                        let err = srtt.abs_diff(sample);
                        (srtt * 7 / 8 + sample / 8, rttvar * 3 / 4 + err / 4)
                    }
                });
                let (srtt, rttvar) = rtt.unwrap();
                assert_eq!(
                    link.rtt,
                    Some((srtt.as_nanos() as u64, rttvar.as_nanos() as u64))
                );
                for timeouts in [0, 1, 2, 5, 8, 9, 30] {
                    link.timeouts = timeouts;
                    let base = cfg.min_rto.max(srtt + 4 * rttvar);
                    let cap = cfg.max_rto.max(base);
                    let expected = base.saturating_mul(1 << timeouts.min(8)).min(cap);
                    assert_eq!(link.rto_of(&cfg), expected);
                }
            }
        }
    }
}
