//! `raft`: a lin-kv store replicated with Raft (Ongaro and Ousterhout, "In Search of an
//! Understandable Consensus Algorithm"), written on glomers-node: one state machine per node,
//! continuations for RPCs, one periodic timer. No shared pointers, no locks.
//!
//! - **Election** ([`election`]): a follower that hears from no leader for a randomized
//!   timeout (from the context's RNG) becomes a candidate, asks every peer for its vote, and
//!   becomes leader with a majority. Votes go only to candidates whose log is at least as
//!   up to date as the voter's. A new leader appends a no-op entry of its own term, so earlier
//!   entries commit without waiting for a client.
//! - **Replication** ([`replication`]): the leader sends each follower the entries it lacks
//!   as soon as they are appended (a few requests ahead of the answers, batches of up to
//!   [`Config::batch`] entries), or an empty heartbeat when there is nothing new. An entry of the leader's term is committed once a
//!   majority stores it; followers learn the commit index with the next request.
//! - **State machine** ([`state_machine`]): committed entries are applied in order on every
//!   node. Every client op, reads included, is an entry: a read is answered when its entry is
//!   applied, so it reflects every write committed before it was invoked (no lease reads, so
//!   no clock assumptions).
//! - **Clients**: the leader appends the op and answers when it is applied. A follower forwards
//!   a client's request to the leader it knows and relays the answer; knowing none (or asked by
//!   another node, so requests never bounce), it answers 11 (temporarily unavailable), which is
//!   definite: the op was not appended. A leader that steps down answers its waiting clients 0
//!   (timeout, indefinite): their entries may still commit under the next leader.
//!
//! The log lives in memory: Maelstrom never restarts a node.

use std::collections::BTreeMap;
use std::time::Duration;

use glomers_node::{log, Ctx, ErrorCode, Node, ReplyTo};
use serde::{Deserialize, Serialize};

use crate::lin_kv::KvOp;

pub mod election;
pub mod replication;
pub mod state_machine;

use state_machine::{Outcome, Store};

/// Timing and batching, and one knob for fault injection.
#[derive(Clone, Debug)]
pub struct Config {
    /// A follower starts an election after hearing nothing for a time drawn uniformly from
    /// this range.
    pub election_timeout: (Duration, Duration),
    /// The leader contacts an idle follower at least this often.
    pub heartbeat: Duration,
    /// How often the node looks at its deadlines.
    pub tick: Duration,
    /// How long to wait for a peer's answer to a vote or append request.
    pub rpc_timeout: Duration,
    /// How long a follower waits for the leader's answer to a forwarded client op: longer
    /// than any client waits, so that the client, not the relay, decides when to give up.
    pub forward_timeout: Duration,
    /// Most entries per append request.
    pub batch: usize,
    /// Most append requests awaiting an answer per follower (new entries go out at once, up
    /// to this many requests ahead of the answers).
    pub pipeline: usize,
    /// Nodes (leader included) that must store an entry before it commits; `None` is a
    /// majority, the only correct value. Anything else is a deliberately broken Raft.
    pub commit_quorum: Option<usize>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            election_timeout: (Duration::from_millis(500), Duration::from_millis(1000)),
            heartbeat: Duration::from_millis(100),
            tick: Duration::from_millis(20),
            rpc_timeout: Duration::from_millis(500),
            forward_timeout: Duration::from_secs(10),
            batch: 64,
            pipeline: 3,
            commit_quorum: None,
        }
    }
}

/// One log entry: the term of the leader that appended it, and the client op (`None` for a
/// new leader's no-op).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub term: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub op: Option<KvOp>,
}

/// Everything a node receives: the two Raft RPCs (which it also sends) and client ops, whose
/// own `type` tags (`read`, `write`, `cas`) are those of [`KvOp`].
#[derive(Deserialize, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    RequestVote(election::VoteRequest),
    AppendEntries(replication::AppendRequest),
    #[serde(untagged)]
    Client(KvOp),
}

/// What the node is doing in its current term.
enum Role {
    Follower,
    Candidate {
        votes: usize,
    },
    Leader {
        /// Per follower: the next index to send and the highest index known stored there.
        next_index: BTreeMap<String, u64>,
        match_index: BTreeMap<String, u64>,
        /// Per follower: append requests awaiting their answer.
        in_flight: BTreeMap<String, usize>,
        /// When each follower was last sent a request.
        last_sent: BTreeMap<String, Duration>,
    },
}

pub struct Raft {
    config: Config,
    // Raft's persistent state (kept in memory).
    term: u64,
    voted_for: Option<String>,
    /// Entry 0 is a sentinel of term 0, so that log indices start at 1 as in the paper.
    log: Vec<Entry>,
    // Volatile state.
    role: Role,
    leader: Option<String>,
    commit_index: u64,
    last_applied: u64,
    store: Store,
    election_deadline: Duration,
    /// Leader only: clients waiting for the entry at each index.
    waiting: BTreeMap<u64, ReplyTo>,
}

impl Raft {
    pub fn new(config: Config) -> Raft {
        Raft {
            config,
            term: 0,
            voted_for: None,
            log: vec![Entry { term: 0, op: None }],
            role: Role::Follower,
            leader: None,
            commit_index: 0,
            last_applied: 0,
            store: Store::default(),
            election_deadline: Duration::ZERO,
            waiting: BTreeMap::new(),
        }
    }

    fn last_index(&self) -> u64 {
        self.log.len() as u64 - 1
    }

    fn last_term(&self) -> u64 {
        self.log.last().map_or(0, |e| e.term)
    }

    /// The term of the entry at `index`, if the log has it.
    fn term_at(&self, index: u64) -> Option<u64> {
        self.log.get(index as usize).map(|e| e.term)
    }

    fn peers(ctx: &Ctx<Self>) -> Vec<String> {
        let me = ctx.node_id();
        ctx.node_ids()
            .iter()
            .filter(|id| *id != me)
            .cloned()
            .collect()
    }

    /// How many nodes must store an entry for it to commit.
    fn quorum(&self, ctx: &Ctx<Self>) -> usize {
        self.config
            .commit_quorum
            .unwrap_or(ctx.node_ids().len() / 2 + 1)
    }

    fn is_leader(&self) -> bool {
        matches!(self.role, Role::Leader { .. })
    }

    /// A client op: appended by the leader, forwarded by a follower that knows the leader.
    fn on_client_op(&mut self, ctx: &mut Ctx<Self>, op: KvOp, from: ReplyTo) {
        if self.is_leader() {
            self.log.push(Entry {
                term: self.term,
                op: Some(op),
            });
            self.waiting.insert(self.last_index(), from);
            self.replicate(ctx);
            return;
        }
        let from_client = from.src().starts_with('c');
        match &self.leader {
            Some(leader) if from_client => ctx
                .call(leader, &op)
                .timeout(self.config.forward_timeout)
                .relay(from),
            _ => ctx.reply_error(
                &from,
                ErrorCode::TemporarilyUnavailable,
                "not the leader, and no leader known",
            ),
        }
    }

    /// Every [`Config::tick`]: the leader replicates (or sends heartbeats), anyone else stands
    /// for election once its deadline is past.
    fn tick(&mut self, ctx: &mut Ctx<Self>) {
        if self.is_leader() {
            self.replicate(ctx);
        } else if ctx.now() >= self.election_deadline {
            self.start_election(ctx);
        }
    }

    /// Applies newly committed entries; the leader answers the clients waiting for them.
    fn apply_committed(&mut self, ctx: &mut Ctx<Self>) {
        let applicable = self.commit_index.min(self.last_index());
        while self.last_applied < applicable {
            self.last_applied += 1;
            let index = self.last_applied;
            let Some(op) = &self.log[index as usize].op else {
                continue;
            };
            let outcome: Outcome = self.store.apply(op);
            if let Some(client) = self.waiting.remove(&index) {
                match outcome {
                    Ok(reply) => ctx.reply(&client, reply),
                    Err((code, text)) => ctx.reply_error(&client, code, text),
                }
            }
        }
    }

    /// Sees a newer term: becomes its follower. Clients waiting on this node as leader are
    /// told the outcome is unknown.
    fn step_down(&mut self, ctx: &mut Ctx<Self>, term: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        if self.is_leader() {
            log!(ctx, "term {}: stepping down", self.term);
            for (_, client) in std::mem::take(&mut self.waiting) {
                ctx.reply_error(
                    &client,
                    ErrorCode::Timeout,
                    "leadership lost; the op may or may not commit",
                );
            }
        }
        self.role = Role::Follower;
        self.leader = None;
    }
}

impl Default for Raft {
    fn default() -> Raft {
        Raft::new(Config::default())
    }
}

impl Node for Raft {
    type Request<'de> = Request;
    type Timer = ();

    fn on_init(&mut self, ctx: &mut Ctx<Self>) {
        self.reset_election_deadline(ctx);
        ctx.run_every(self.config.tick, |node: &mut Self, ctx| node.tick(ctx));
    }

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        match req {
            Request::Client(op) => self.on_client_op(ctx, op, from),
            Request::RequestVote(vote) => self.on_request_vote(ctx, vote, from),
            Request::AppendEntries(append) => self.on_append_entries(ctx, append, from),
        }
    }
}
