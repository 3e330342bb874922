//! Leader election: randomized timeouts, votes for up-to-date candidates, majorities.

use std::collections::BTreeMap;

use glomers_node::rand::Rng;
use glomers_node::{log, Ctx, ReplyTo, RpcError};
use serde::{Deserialize, Serialize};

use super::{Entry, Raft, Request, Role};

#[derive(Debug, Deserialize, Serialize)]
pub struct VoteRequest {
    pub term: u64,
    pub candidate: String,
    pub last_log_index: u64,
    pub last_log_term: u64,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct VoteReply {
    pub term: u64,
    pub granted: bool,
}

impl Raft {
    pub(super) fn reset_election_deadline(&mut self, ctx: &mut Ctx<Self>) {
        let (low, high) = self.config.election_timeout;
        let timeout = ctx.rng().gen_range(low..=high);
        self.election_deadline = ctx.now() + timeout;
    }

    /// No leader heard from in time: stand for the next term.
    pub(super) fn start_election(&mut self, ctx: &mut Ctx<Self>) {
        self.term += 1;
        self.voted_for = Some(ctx.node_id().to_string());
        self.role = Role::Candidate { votes: 1 };
        self.leader = None;
        self.reset_election_deadline(ctx);
        log!(ctx, "term {}: standing for election", self.term);
        let term = self.term;
        for peer in Self::peers(ctx) {
            let request = Request::RequestVote(VoteRequest {
                term,
                candidate: ctx.node_id().to_string(),
                last_log_index: self.last_index(),
                last_log_term: self.last_term(),
            });
            ctx.call(&peer, request)
                .timeout(self.config.rpc_timeout)
                .then(
                    move |node: &mut Self, ctx, reply: Result<VoteReply, RpcError>| {
                        if let Ok(reply) = reply {
                            node.on_vote_reply(ctx, term, reply);
                        }
                    },
                );
        }
        // A single node is its own majority.
        self.count_votes(ctx);
    }

    pub(super) fn on_request_vote(
        &mut self,
        ctx: &mut Ctx<Self>,
        vote: VoteRequest,
        from: ReplyTo,
    ) {
        if vote.term > self.term {
            self.step_down(ctx, vote.term);
        }
        let up_to_date =
            (vote.last_log_term, vote.last_log_index) >= (self.last_term(), self.last_index());
        let free = self.voted_for.as_ref().is_none_or(|v| *v == vote.candidate);
        let granted = vote.term == self.term && free && up_to_date;
        if granted {
            self.voted_for = Some(vote.candidate);
            self.reset_election_deadline(ctx);
        }
        ctx.reply(
            &from,
            serde_json::json!({"type": "request_vote_ok", "term": self.term, "granted": granted}),
        );
    }

    fn on_vote_reply(&mut self, ctx: &mut Ctx<Self>, term: u64, reply: VoteReply) {
        if reply.term > self.term {
            self.step_down(ctx, reply.term);
            return;
        }
        if self.term != term || !reply.granted {
            return;
        }
        if let Role::Candidate { votes } = &mut self.role {
            *votes += 1;
            self.count_votes(ctx);
        }
    }

    fn count_votes(&mut self, ctx: &mut Ctx<Self>) {
        let majority = ctx.node_ids().len() / 2 + 1;
        if matches!(self.role, Role::Candidate { votes } if votes >= majority) {
            self.become_leader(ctx);
        }
    }

    fn become_leader(&mut self, ctx: &mut Ctx<Self>) {
        log!(ctx, "term {}: leader", self.term);
        let peers = Self::peers(ctx);
        let next = self.last_index() + 1;
        self.role = Role::Leader {
            next_index: peers.iter().map(|p| (p.clone(), next)).collect(),
            match_index: peers.iter().map(|p| (p.clone(), 0)).collect(),
            in_flight: peers.iter().map(|p| (p.clone(), 0)).collect(),
            last_sent: BTreeMap::new(),
        };
        self.leader = Some(ctx.node_id().to_string());
        // A no-op of the new term, so that entries of earlier terms commit now.
        self.log.push(Entry {
            term: self.term,
            op: None,
        });
        self.replicate(ctx);
    }
}
