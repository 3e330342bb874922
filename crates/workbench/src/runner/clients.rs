//! The clients: init and setup clients, the workers that run the workload's operations, their
//! timeouts, and how each reply becomes a completed op in the history.

use std::collections::VecDeque;

use rand::Rng as _;
use serde_json::{json, Map, Value};

use super::queue::Ticket;
use super::{Event, Phase, Runner, Severity};
use crate::history::{ClientName, Nanos, Op, OpF, OpType, OpValue, Process, NANOS_PER_SEC};
use crate::net::{Addr, Body};
use crate::workloads::{
    self, Completion, FinalStep, Invocation, ReplyText, Request, Step, Workload,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    /// Sends `init` to this node, then closes.
    Init(u32),
    /// Sends the workload's setup request to this node; open until teardown.
    Setup(u32),
    Worker(usize),
}

pub(super) struct Client {
    pub(super) role: Role,
    pub(super) open: bool,
    pub(super) next_msg_id: u64,
    /// `msg_id` of the request this client waits on.
    pub(super) awaiting: Option<u64>,
    /// `msg_id` of the last request answered (0: none), to name a second reply to it.
    pub(super) last_answered: u64,
    /// The client's address as text (`c3`), as the history names it in its request notes.
    pub(super) name: ClientName,
}

/// The request in flight and its op. While the op waits for the reply, its value is parked in
/// the history on its invocation (see [`Runner::park_value`]): the op's own `value` is null.
pub(super) struct Outstanding {
    pub(super) msg_id: u64,
    pub(super) op: Invocation,
    /// The request's timeout in the runner's queue, cancelled once the op is taken back.
    pub(super) timeout: Option<Ticket>,
}

pub(super) struct Worker {
    pub(super) process: u64,
    pub(super) client: Option<u32>,
    /// The request of the worker's current op that is in flight.
    pub(super) outstanding: Option<Outstanding>,
    /// An indeterminate op retired the client: it is closed when the worker invokes next.
    pub(super) retiring_client: bool,
    /// History index of the current op's invocation (its requests are noted there).
    pub(super) invoke_index: usize,
    pub(super) final_ops: VecDeque<Invocation>,
    /// Waiting out a [`FinalStep::Wait`].
    pub(super) final_paused: bool,
    /// The workload said [`FinalStep::Done`] (or the final phase's limit passed).
    pub(super) final_done: bool,
}

impl Runner<'_> {
    pub(super) fn open_client(&mut self, role: Role) -> u32 {
        let name = self
            .history
            .client(&Addr::Client(self.clients.len() as u32).to_string());
        self.clients.push(Client {
            role,
            open: true,
            next_msg_id: 1,
            awaiting: None,
            last_answered: 0,
            name,
        });
        (self.clients.len() - 1) as u32
    }

    /// Sends a request from a client, adding its `msg_id`; returns the `msg_id`.
    pub(super) fn client_send(&mut self, client: u32, dest: Addr, body: Request) -> u64 {
        let c = &mut self.clients[client as usize];
        let msg_id = c.next_msg_id;
        c.next_msg_id += 1;
        c.awaiting = Some(msg_id);
        self.send(Addr::Client(client), dest, body.into_body(msg_id));
        msg_id
    }

    /// A message for a client. The common case (a worker's awaited reply that is not an
    /// error) is read straight from the node's text; anything else goes through the map, as
    /// [`Runner::on_client_map`] says.
    pub(super) fn on_client_message(&mut self, client: u32, src: Addr, body: Body) {
        let reply = match &body {
            Body::Raw(text) => ReplyText::new(text),
            Body::Reply(text, scanned) => ReplyText::scanned(text, scanned.as_deref()),
            Body::Map(_) => return self.on_client_map(client, src, body.into_map()),
        };
        let (in_reply_to, is_error) = reply.route();
        let (Some(in_reply_to), Some(false)) = (in_reply_to, is_error) else {
            return self.on_client_map(client, src, reply.to_map());
        };
        let c = &self.clients[client as usize];
        if !c.open || c.awaiting != Some(in_reply_to) {
            return self.stray_reply(client, src, Some(in_reply_to), &body);
        }
        let Role::Worker(w) = c.role else {
            return self.on_client_map(client, src, reply.to_map());
        };
        self.clients[client as usize].last_answered = in_reply_to;
        let Some(op) = self.take_outstanding(w) else {
            return;
        };
        if let Some(client) = self.workers[w].client {
            self.clients[client as usize].awaiting = None;
        }
        let step = self.workload.on_reply_text(w, &op, reply);
        self.take_step(w, op, step);
    }

    /// A message for a client, parsed into a map.
    fn on_client_map(&mut self, client: u32, src: Addr, body: Map<String, Value>) {
        let c = &self.clients[client as usize];
        let in_reply_to = body.get("in_reply_to").and_then(Value::as_u64);
        if let (Some(raw), None) = (body.get("in_reply_to"), in_reply_to) {
            // Maelstrom ignores such a reply too, and the op times out; say why.
            let node = match src {
                Addr::Node(n) => Some(n),
                _ => None,
            };
            self.diagnose(
                Severity::Warning,
                node,
                "bad-in-reply-to",
                format!(
                    "{src} replied to c{client} with in_reply_to {raw}, which is not an integer \
                     msg_id: the client ignores the reply"
                ),
            );
            return;
        }
        if !c.open || c.awaiting.is_none() || in_reply_to != c.awaiting {
            // Late or unsolicited: Maelstrom's clients discard these; the wire check names
            // those that cannot be late replies.
            return self.stray_reply(client, src, in_reply_to, &Body::Map(body));
        }
        let role = c.role;
        self.clients[client as usize].last_answered = in_reply_to.unwrap_or(0);
        match role {
            Role::Init(node) => {
                self.clients[client as usize].open = false;
                if body.get("type").and_then(Value::as_str) != Some("init_ok") {
                    return self.abort(
                        Some(node),
                        format!(
                            "n{node} answered init with {} instead of init_ok",
                            Value::Object(body)
                        ),
                    );
                }
                self.ready[node as usize] = true;
                if self.ready.iter().all(|&r| r) && self.phase == Phase::Init {
                    self.start_setup();
                }
            }
            Role::Setup(node) => {
                self.clients[client as usize].awaiting = None;
                let expected = &self.setup_reply_types[node as usize];
                if let Err(why) = workloads::closed_schema(&body, expected, &[]) {
                    return self.abort(
                        Some(node),
                        format!(
                            "n{node} answered the setup request badly ({why}): {}",
                            Value::Object(body)
                        ),
                    );
                }
                self.ready[node as usize] = true;
                if self.ready.iter().all(|&r| r) && self.phase == Phase::Setup {
                    self.start_main();
                }
            }
            Role::Worker(w) => self.on_worker_reply(w, body),
        }
    }

    /// A free worker drawn at random, with exactly the draws of rand 0.8's
    /// `IteratorRandom::choose` over the free workers (see [`choose_free`]).
    pub(super) fn free_worker(&mut self) -> Option<usize> {
        choose_free(&self.workers, &mut self.rng)
    }

    /// Issues the due main-phase op to a free worker, if one is free, and schedules the next.
    pub(super) fn dispatch_due_op(&mut self) {
        if !self.op_due || self.phase != Phase::Main {
            return;
        }
        let Some(w) = self.free_worker() else { return };
        self.op_due = false;
        self.workload.clock(self.now);
        let op = self.workload.next_op(w, &mut self.rng);
        // Jepsen's stagger (since Jepsen 0.2.5, so every Maelstrom since 0.2.1): the next op
        // is due a uniform gap after this one was actually issued. Lateness is never made up,
        // so there is no burst after a stall.
        let gap = self.rng.gen_range(0.0..2.0 / self.opts.rate);
        self.next_op_at = self.now + (gap * NANOS_PER_SEC as f64) as Nanos;
        if self.next_op_at < self.main_end {
            self.schedule(self.next_op_at, Event::NextOp);
        }
        self.invoke(w, op);
    }

    /// Runs a worker's next final-phase operation, pause, or end, if it is idle.
    pub(super) fn next_final_op(&mut self, w: usize) {
        let worker = &mut self.workers[w];
        if worker.outstanding.is_some() || worker.final_paused || worker.final_done {
            return;
        }
        if let Some(op) = worker.final_ops.pop_front() {
            return self.invoke(w, op);
        }
        self.workload.clock(self.now);
        match self.workload.next_final_op(w, &mut self.rng) {
            FinalStep::Op(op) => self.invoke(w, op),
            FinalStep::Wait(pause) => {
                self.workers[w].final_paused = true;
                self.schedule(self.now + pause, Event::FinalWake(w));
            }
            FinalStep::Done => self.workers[w].final_done = true,
        }
    }

    /// Ends the run once every worker's final phase is over and nothing is outstanding.
    pub(super) fn maybe_finish_final(&mut self) {
        let busy = self.workers.iter().any(|w| {
            w.outstanding.is_some() || !w.final_ops.is_empty() || w.final_paused || !w.final_done
        });
        if !busy {
            self.phase = Phase::Done;
        }
    }

    /// The worker's client, opening one when it has none. A client that an indeterminate op
    /// retired is closed only now, as Jepsen's interpreter does when the worker invokes its
    /// next op: until then, late replies to it are delivered and discarded.
    fn worker_client(&mut self, w: usize) -> u32 {
        self.retire_client_if_due(w);
        match self.workers[w].client {
            Some(c) => c,
            None => {
                let c = self.open_client(Role::Worker(w));
                self.workers[w].client = Some(c);
                c
            }
        }
    }

    pub(super) fn invoke(&mut self, w: usize, op: Invocation) {
        self.workers[w].invoke_index = self.history.push(Op {
            index: 0,
            time: self.now,
            kind: OpType::Invoke,
            process: Process::Client(self.workers[w].process),
            f: OpF::new(op.f),
            // The op's value is moved here when it waits for a reply or completes (see
            // `park_value`), not copied now: a transaction's micro-ops are many small values.
            value: OpValue::NULL,
            error: None,
            is_final: op.is_final,
        });
        // Retire the old client before the op begins, so the workload's client state
        // (kafka's positions) is fresh when it builds the op's first request.
        self.retire_client_if_due(w);
        let step = self.workload.begin(w, &op);
        self.take_step(w, op, step);
    }

    /// Closes a client that an indeterminate op retired, as Jepsen's interpreter does when
    /// the worker invokes its next op: until then, late replies to it are delivered and
    /// discarded. Tells the workload.
    fn retire_client_if_due(&mut self, w: usize) {
        if self.workers[w].retiring_client {
            self.workers[w].retiring_client = false;
            if let Some(old) = self.workers[w].client.take() {
                self.clients[old as usize].open = false;
            }
            self.workload.client_closed(w);
        }
    }

    /// Moves the op's value to its invocation in the history, where it belongs: while the op
    /// waits for a reply, and once it is complete. The history then holds every value, also
    /// those of ops still outstanding when the run ends, without a copy.
    fn park_value(&mut self, w: usize, op: &mut Invocation) {
        let invoke = self.workers[w].invoke_index;
        // Swapped, not taken: the history's place holds null, which the op then holds (no
        // drop of a value here).
        std::mem::swap(&mut self.history.ops[invoke].value, &mut op.value);
    }

    /// The worker's outstanding op, with its value back from the history (see
    /// [`Runner::park_value`]) while the runner and the workload handle its reply.
    fn take_outstanding(&mut self, w: usize) -> Option<Invocation> {
        let Outstanding {
            mut op, timeout, ..
        } = self.workers[w].outstanding.take()?;
        // A timeout that has not fired would come out only to be ignored (the worker's
        // request is no longer this one): it is taken back.
        if let Some(ticket) = timeout {
            self.queue.cancel(ticket);
        }
        let invoke = self.workers[w].invoke_index;
        std::mem::swap(&mut op.value, &mut self.history.ops[invoke].value);
        Some(op)
    }

    /// Sends the op's next request, or completes it.
    fn take_step(&mut self, w: usize, mut op: Invocation, step: Step) {
        match step {
            Step::Send(body) => {
                self.park_value(w, &mut op);
                let client = self.worker_client(w);
                let node = (w % self.opts.node_count) as u32;
                let msg_id = self.client_send(client, Addr::Node(node), body);
                let invoke = self.workers[w].invoke_index;
                let name = self.clients[client as usize].name;
                self.history.note_client_request(invoke, name, msg_id);
                let timeout = self.workload.timeout();
                let timeout =
                    self.schedule(self.now + timeout, Event::ClientTimeout { client, msg_id });
                self.workers[w].outstanding = Some(Outstanding {
                    msg_id,
                    op,
                    timeout,
                });
            }
            Step::Done(completion) => self.complete(w, op, completion),
        }
    }

    pub(super) fn on_worker_reply(&mut self, w: usize, body: Map<String, Value>) {
        let Some(op) = self.take_outstanding(w) else {
            return;
        };
        if let Some(client) = self.workers[w].client {
            self.clients[client as usize].awaiting = None;
        }
        if body.get("type").and_then(Value::as_str) == Some("error") {
            let code = body.get("code").and_then(Value::as_u64);
            let text = body.get("text").cloned().unwrap_or(Value::Null);
            let (name, definite) = match code.and_then(|c| u32::try_from(c).ok()) {
                Some(code) => {
                    let code = glomers_node::ErrorCode::from_code(code);
                    (code.name(), code.is_definite())
                }
                None => ("malformed-error", false),
            };
            let completion = Completion::failed(
                failure_outcome(&*self.workload, op.f, definite),
                op.value.clone(),
                json!([name, text]),
            );
            return self.complete(w, op, completion);
        }
        let step = self.workload.on_owned_reply(w, &op, body);
        self.take_step(w, op, step);
    }

    pub(super) fn on_client_timeout(&mut self, client: u32, msg_id: u64) {
        let Role::Worker(w) = self.clients[client as usize].role else {
            return;
        };
        let current = self.workers[w].outstanding.as_ref().map(|o| o.msg_id);
        if self.workers[w].client != Some(client) || current != Some(msg_id) {
            return;
        }
        let Some(op) = self.take_outstanding(w) else {
            return;
        };
        self.clients[client as usize].awaiting = None;
        // A timeout is never definite: it may have happened.
        let completion = Completion::failed(
            failure_outcome(&*self.workload, op.f, false),
            op.value.clone(),
            Value::String("net-timeout".into()),
        );
        self.complete(w, op, completion);
    }

    fn complete(&mut self, w: usize, op: Invocation, completion: Completion) {
        self.workload.completed(w, &op, completion.kind);
        let Invocation { f, value, is_final } = op;
        // The op's value goes to its invocation for good. That place holds null (the value
        // was parked there and taken back, or never parked), which owns nothing: it is not
        // dropped (a call per op, for nothing).
        let invoke = self.workers[w].invoke_index;
        let null = std::mem::replace(&mut self.history.ops[invoke].value, value);
        debug_assert!(null.is_null());
        std::mem::forget(null);
        let worker = &mut self.workers[w];
        let done = Op {
            index: 0,
            time: self.now,
            kind: completion.kind,
            process: Process::Client(worker.process),
            f: OpF::new(f),
            value: completion.value,
            error: completion.error,
            is_final,
        };
        match completion.set {
            Some(set) => self.history.push_set(done, set),
            None => self.history.push(done),
        };
        if completion.kind == OpType::Info {
            // Jepsen: an indeterminate op crashes the process; the worker goes on as a new one,
            // and a client that is not reusable is replaced when the worker invokes next.
            worker.process += self.opts.concurrency as u64;
            if !self.workload.reusable_client() {
                worker.retiring_client = true;
            }
        }
        match self.phase {
            Phase::Main => self.dispatch_due_op(),
            Phase::Draining if self.workers.iter().all(|w| w.outstanding.is_none()) => {
                self.after_main();
            }
            Phase::Final => {
                self.next_final_op(w);
                self.maybe_finish_final();
            }
            _ => {}
        }
    }
}

/// Maelstrom's outcome for an op that did not succeed: fail when it certainly did not happen
/// (a definite error) or when `f` is idempotent, else info; the g-set and counter clients make
/// every failure info.
pub(super) fn failure_outcome(workload: &dyn Workload, f: &str, definite: bool) -> OpType {
    if (definite || workload.idempotent(f)) && !workload.errors_are_indeterminate() {
        OpType::Fail
    } else {
        OpType::Info
    }
}

/// `(0..workers.len()).filter(free).choose(rng)` without the iterator adapters: a filter's
/// size is unknown, so `choose` (rand 0.8) draws `gen_range(0..k)` for the k-th free worker,
/// the first included, and takes it when the draw is 0.
fn choose_free(workers: &[Worker], rng: &mut crate::Rng) -> Option<usize> {
    let mut chosen = None;
    let mut seen = 0u32;
    for (w, worker) in workers.iter().enumerate() {
        if worker.outstanding.is_none() {
            seen += 1;
            if rng.gen_range(0..seen) == 0 {
                chosen = Some(w);
            }
        }
    }
    chosen
}

/// `topology` -> `topology_ok`.
pub(super) fn setup_reply_type(request: &Request) -> String {
    format!("{}_ok", request.kind().as_deref().unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::seq::IteratorRandom;
    use rand::SeedableRng;

    fn worker(busy: bool) -> Worker {
        Worker {
            process: 0,
            client: None,
            outstanding: busy.then(|| Outstanding {
                msg_id: 1,
                op: Invocation::new("read", OpValue::NULL),
                timeout: None,
            }),
            retiring_client: false,
            invoke_index: 0,
            final_ops: VecDeque::new(),
            final_paused: false,
            final_done: false,
        }
    }

    /// The same choices, and the generator left in the same state, as `choose`.
    #[test]
    fn free_workers_are_chosen_as_iterator_choose_does() {
        let mut pick = crate::Rng::seed_from_u64(3);
        let mut fast = crate::Rng::seed_from_u64(9);
        let mut simple = fast.clone();
        for _ in 0..5_000 {
            let n = pick.gen_range(0..9);
            let workers: Vec<Worker> = (0..n).map(|_| worker(pick.gen_bool(0.4))).collect();
            let expected = (0..workers.len())
                .filter(|&w| workers[w].outstanding.is_none())
                .choose(&mut simple);
            assert_eq!(choose_free(&workers, &mut fast), expected);
            assert_eq!(fast.gen::<u64>(), simple.gen::<u64>());
        }
    }
}
