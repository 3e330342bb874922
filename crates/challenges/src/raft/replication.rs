//! Log replication: append requests (entries or heartbeats), the follower's consistency check,
//! and the leader's commit index.

use glomers_node::{Ctx, ReplyTo, RpcError};
use serde::{Deserialize, Serialize};

use super::{Entry, Raft, Request, Role};

#[derive(Debug, Deserialize, Serialize)]
pub struct AppendRequest {
    pub term: u64,
    pub leader: String,
    pub prev_log_index: u64,
    pub prev_log_term: u64,
    pub entries: Vec<Entry>,
    pub leader_commit: u64,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct AppendReply {
    pub term: u64,
    pub success: bool,
    /// On success, the highest index the follower now stores from this leader; on failure, a
    /// hint: the follower's last index, so the leader can skip back at once.
    pub index: u64,
}

impl Raft {
    /// Leader: sends each follower the entries it has not been sent yet, or a heartbeat when
    /// it has been sent everything and was last contacted a heartbeat ago.
    pub(super) fn replicate(&mut self, ctx: &mut Ctx<Self>) {
        for peer in Self::peers(ctx) {
            self.send_append(ctx, &peer);
        }
        // A single node (or a broken quorum of one) commits on its own.
        self.advance_commit(ctx);
    }

    fn send_append(&mut self, ctx: &mut Ctx<Self>, peer: &str) {
        let now = ctx.now();
        let last_index = self.last_index();
        let (heartbeat, pipeline) = (self.config.heartbeat, self.config.pipeline);
        let Role::Leader {
            next_index,
            in_flight,
            last_sent,
            ..
        } = &mut self.role
        else {
            return;
        };
        let next = next_index[peer];
        let idle = last_sent
            .get(peer)
            .is_none_or(|&at| now.saturating_sub(at) >= heartbeat);
        if in_flight[peer] >= pipeline || (next > last_index && !idle) {
            return;
        }
        let prev = next - 1;
        let end = last_index.min(prev + self.config.batch as u64);
        // Optimistically: the next request carries what follows this one.
        next_index.insert(peer.to_string(), end + 1);
        *in_flight.get_mut(peer).expect("every peer has a count") += 1;
        last_sent.insert(peer.to_string(), now);
        let request = Request::AppendEntries(AppendRequest {
            term: self.term,
            leader: ctx.node_id().to_string(),
            prev_log_index: prev,
            prev_log_term: self.log[prev as usize].term,
            entries: self.log[next as usize..=end as usize].to_vec(),
            leader_commit: self.commit_index,
        });
        let (term, peer_owned) = (self.term, peer.to_string());
        ctx.call(peer, request)
            .timeout(self.config.rpc_timeout)
            .then(
                move |node: &mut Self, ctx, reply: Result<AppendReply, RpcError>| {
                    node.on_append_reply(ctx, &peer_owned, term, reply)
                },
            );
    }

    fn on_append_reply(
        &mut self,
        ctx: &mut Ctx<Self>,
        peer: &str,
        term: u64,
        reply: Result<AppendReply, RpcError>,
    ) {
        if let Ok(r) = &reply {
            if r.term > self.term {
                self.step_down(ctx, r.term);
                return;
            }
        }
        if self.term != term {
            return;
        }
        let Role::Leader {
            next_index,
            match_index,
            in_flight,
            ..
        } = &mut self.role
        else {
            return;
        };
        let count = in_flight.get_mut(peer).expect("every peer has a count");
        *count = count.saturating_sub(1);
        let matched = match_index[peer];
        match reply {
            Ok(reply) if reply.success => {
                let matched = matched.max(reply.index);
                match_index.insert(peer.to_string(), matched);
                if next_index[peer] <= matched {
                    next_index.insert(peer.to_string(), matched + 1);
                }
                self.advance_commit(ctx);
            }
            // The follower lacks the entry before what we sent: go back to what it has.
            Ok(reply) => {
                let back = next_index[peer].min(reply.index + 1).max(matched + 1);
                next_index.insert(peer.to_string(), back);
            }
            // Lost or late: resend from what the follower is known to store.
            Err(_) => {
                next_index.insert(peer.to_string(), matched + 1);
            }
        }
        self.send_append(ctx, peer);
    }

    /// Leader: the highest index of its own term that enough nodes store becomes committed.
    fn advance_commit(&mut self, ctx: &mut Ctx<Self>) {
        let quorum = self.quorum(ctx);
        let Role::Leader { match_index, .. } = &self.role else {
            return;
        };
        let mut stored: Vec<u64> = match_index.values().copied().collect();
        stored.push(self.last_index());
        stored.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&candidate) = stored.get(quorum.saturating_sub(1)) else {
            return;
        };
        // Only an entry of the current term commits by counting (Raft, section 5.4.2).
        if candidate > self.commit_index && self.term_at(candidate) == Some(self.term) {
            self.commit_index = candidate;
            self.apply_committed(ctx);
        }
    }

    /// Follower (or a candidate or stale leader learning of a leader): the consistency check,
    /// then the entries, then the commit index.
    pub(super) fn on_append_entries(
        &mut self,
        ctx: &mut Ctx<Self>,
        append: AppendRequest,
        from: ReplyTo,
    ) {
        if append.term < self.term {
            return self.answer_append(ctx, &from, false, self.last_index());
        }
        if append.term > self.term || !matches!(self.role, super::Role::Follower) {
            self.step_down(ctx, append.term);
        }
        self.leader = Some(append.leader.clone());
        self.reset_election_deadline(ctx);

        if self.term_at(append.prev_log_index) != Some(append.prev_log_term) {
            let hint = self
                .last_index()
                .min(append.prev_log_index.saturating_sub(1));
            return self.answer_append(ctx, &from, false, hint);
        }
        // Append what is new; cut the log only where it conflicts (a stale, reordered request
        // must not erase entries a newer one added).
        let mut index = append.prev_log_index;
        for entry in append.entries {
            index += 1;
            match self.term_at(index) {
                Some(term) if term == entry.term => {}
                Some(_) => {
                    self.log.truncate(index as usize);
                    self.log.push(entry);
                }
                None => self.log.push(entry),
            }
        }
        if append.leader_commit > self.commit_index {
            self.commit_index = append.leader_commit.min(index);
            self.apply_committed(ctx);
        }
        self.answer_append(ctx, &from, true, index);
    }

    fn answer_append(&mut self, ctx: &mut Ctx<Self>, to: &ReplyTo, success: bool, index: u64) {
        ctx.reply(
            to,
            serde_json::json!({"type": "append_entries_ok", "term": self.term,
                "success": success, "index": index}),
        );
    }
}
