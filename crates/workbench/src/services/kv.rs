//! The key-value services `lin-kv`, `seq-kv` and `lww-kv`.
//!
//! All three speak the same API (`read`, `write`, `cas`; spec 2.1) over one single-state store,
//! [`KvState`]; they differ only in which state a request is evaluated against (spec 2.2):
//!
//! - [`LinKv`]: one state, every request applied in arrival order.
//! - [`SeqKv`]: Maelstrom's window of the last 32 states with a per-caller index.
//! - [`LwwKv`]: two replicas that never converge; each request goes to a random one.
//!
//! Keys and values are arbitrary JSON compared structurally, as Clojure's `=` compares the
//! parsed JSON: `{"a":1,"b":2}` equals `{"b":2,"a":1}`, but `1` and `1.0` differ.

mod request;
mod state;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use rand::Rng as _;
use serde_json::{Map, Value};

use super::Service;
use crate::net::Addr;
use crate::Rng;

pub use request::{parse, Parsed, Request};
pub use state::{Change, KvState, Semantics};

use request::accept;

/// How many states seq-kv keeps (Maelstrom's `(sequential 32 ...)`).
const SEQ_WINDOW: usize = 32;

/// How many replicas lww-kv simulates (Maelstrom's `(eventual 2 ...)`, not the documented 5).
const LWW_REPLICAS: usize = 2;

// ---------------------------------------------------------------------------------------------
// lin-kv

/// `lin-kv`: a single atomic state, every request applied in arrival order. Linearizable.
#[derive(Debug, Default)]
pub struct LinKv {
    state: KvState,
}

impl Service for LinKv {
    fn name(&self) -> &'static str {
        "lin-kv"
    }

    fn handle(&mut self, _src: Addr, body: &Map<String, Value>, _rng: &mut Rng) -> Option<Value> {
        let request = match accept(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let (reply, change) = self.state.apply(&request, Semantics::Persistent);
        if let Some(change) = change {
            self.state.commit(change);
        }
        Some(reply)
    }
}

// ---------------------------------------------------------------------------------------------
// seq-kv

/// `seq-kv`: sequentially consistent, as Maelstrom's `sequential` wrapper implements it.
///
/// States are numbered 0, 1, 2, ... (state 0 is the empty store); the last 32 are kept. Each
/// caller (`src`) has the index of the last state it interacted with, 0 at first. A request is
/// evaluated against a state picked uniformly between the caller's index and the newest:
/// - if that leaves the picked state as it was (reads, failed cas, writing the value the key
///   already has there), the answer is served from it and the caller's index moves to the pick;
/// - otherwise the request is re-executed on the newest state, the result appended as a new
///   state (even when the re-execution itself changes nothing, e.g. a cas that fails there),
///   and the caller's index jumps to it.
#[derive(Debug)]
pub struct SeqKv {
    /// The last (up to) 32 states, oldest first; the back one has index `last_index`. States
    /// are shared, so appending an unchanged state costs a reference count.
    states: VecDeque<Arc<KvState>>,
    last_index: u64,
    /// Per caller, the index of the last state it interacted with.
    clients: HashMap<Addr, u64>,
}

impl Default for SeqKv {
    fn default() -> SeqKv {
        SeqKv {
            states: VecDeque::from([Arc::new(KvState::default())]),
            last_index: 0,
            clients: HashMap::new(),
        }
    }
}

impl SeqKv {
    /// The state served for index `index`.
    ///
    /// Maelstrom looks it up as the ring buffer's `(nth buffer (- index last-index 1))`, and the
    /// ring buffer resolves that negative position modulo its length. Within the window this is
    /// the state with that index; an index that has left the window (a caller more than 32
    /// states behind, or a new caller once more than 31 mutations happened) wraps around to
    /// the state whose index is congruent modulo 32, usually newer than the one picked, while
    /// the caller's recorded index stays the older pick (spec 2.2).
    fn state_at(&self, index: u64) -> &Arc<KvState> {
        let offset = index as i64 - self.last_index as i64 - 1;
        let position = offset.rem_euclid(self.states.len() as i64) as usize;
        &self.states[position]
    }

    fn append(&mut self, state: Arc<KvState>) {
        self.states.push_back(state);
        if self.states.len() > SEQ_WINDOW {
            self.states.pop_front();
        }
        self.last_index += 1;
    }
}

impl Service for SeqKv {
    fn name(&self) -> &'static str {
        "seq-kv"
    }

    fn handle(&mut self, src: Addr, body: &Map<String, Value>, rng: &mut Rng) -> Option<Value> {
        let request = match accept(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let client_index = self.clients.get(&src).copied().unwrap_or(0);
        // Maelstrom: client-index + rand-int(last-index - client-index + 1); newest included.
        let index = rng.gen_range(client_index..=self.last_index);
        let (reply, change) = self.state_at(index).apply(&request, Semantics::Persistent);
        if change.is_none() {
            self.clients.insert(src, index);
            return Some(reply);
        }
        // Changing an old state could fork the timeline: run it on the newest state instead.
        let newest = Arc::clone(self.states.back().expect("seq-kv always holds a state"));
        let (reply, change) = newest.apply(&request, Semantics::Persistent);
        let next = match change {
            Some(change) => {
                let mut state = KvState::clone(&newest);
                state.commit(change);
                Arc::new(state)
            }
            None => newest,
        };
        self.append(next);
        self.clients.insert(src, self.last_index);
        Some(reply)
    }
}

// ---------------------------------------------------------------------------------------------
// lww-kv

/// `lww-kv`, as Maelstrom's code behaves rather than as its documentation says: two independent
/// replicas and each request served by a uniformly random one. Maelstrom also merges a random
/// replica pair on every request but discards the merged value, so replicas never converge and
/// a write is only ever visible on the replica it landed on. The Lamport clock it keeps is
/// therefore never observable and is left out here.
#[derive(Debug, Default)]
pub struct LwwKv {
    replicas: [KvState; LWW_REPLICAS],
}

impl Service for LwwKv {
    fn name(&self) -> &'static str {
        "lww-kv"
    }

    fn handle(&mut self, _src: Addr, body: &Map<String, Value>, rng: &mut Rng) -> Option<Value> {
        let request = match accept(body) {
            Ok(request) => request,
            Err(answer) => return answer,
        };
        let replica = &mut self.replicas[rng.gen_range(0..LWW_REPLICAS)];
        let (reply, change) = replica.apply(&request, Semantics::LastWriteWins);
        if let Some(change) = change {
            replica.commit(change);
        }
        Some(reply)
    }
}
