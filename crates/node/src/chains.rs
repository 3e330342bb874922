//! Building blocks for multi-step chains: closure timers ([`Ctx::run_after`],
//! [`Ctx::run_every`]), a guard that runs code when the chain is over, on every path
//! ([`Ctx::defer`], like Go's `defer`), a join of several calls ([`Join`]), and steps taken one
//! after another over a list ([`in_turn`]).
//!
//! All of them stay single-threaded and deterministic: closures run inside the engine, one at
//! a time, with `&mut` access to the node and its context, in an order fixed by the input.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::engine::{Action, Ctx, Event, Node, TimerId, MIN_PERIOD};

impl<N: Node> Ctx<N> {
    /// Runs `action` once, `delay` from now, with the node and its context. No timer payload
    /// type needed: `ctx.run_after(Duration::from_millis(3), move |node, ctx| node.retry(ctx, key))`.
    /// Cancel it with [`Ctx::cancel`].
    pub fn run_after(
        &mut self,
        delay: Duration,
        action: impl FnOnce(&mut N, &mut Ctx<N>) + 'static,
    ) -> TimerId {
        let deadline = self.now().saturating_add(delay);
        let action: Action<N> = Box::new(action);
        self.schedule_event(deadline, |id| Event::Once { id, action })
    }

    /// Runs `action` every `period` (at least [`MIN_PERIOD`]), first one period from now,
    /// until [`Ctx::cancel`] (which the action may call on its own id).
    pub fn run_every(
        &mut self,
        period: Duration,
        action: impl FnMut(&mut N, &mut Ctx<N>) + 'static,
    ) -> TimerId {
        let period = period.max(MIN_PERIOD);
        let deadline = self.now().saturating_add(period);
        let action = Box::new(action);
        self.schedule_event(deadline, |id| Event::Repeat { id, period, action })
    }

    /// Returns a guard that runs `action` once it is dropped: move it into the continuations
    /// of a chain, and `action` runs when the last step lets go of it, whichever path the
    /// chain took (an early return on an error included), as Go's `defer` does. The action
    /// runs right after the handler or continuation that dropped the guard returns.
    ///
    /// ```
    /// # use glomers_node::{Ctx, Node, RpcError};
    /// # use serde_json::{json, Value};
    /// # struct N1 { busy: bool }
    /// # impl Node for N1 { type Request<'de> = serde::de::IgnoredAny; type Timer = ();
    /// # fn on_request(&mut self, _: &mut Ctx<Self>, _: serde::de::IgnoredAny, _: glomers_node::ReplyTo) {} }
    /// # fn demo(node: &mut N1, ctx: &mut Ctx<N1>) {
    /// node.busy = true;
    /// let done = ctx.defer(|node: &mut N1, _| node.busy = false);
    /// ctx.call("n2", json!({"type": "work"})).then(move |_node: &mut N1, _ctx, result: Result<Value, RpcError>| {
    ///     let _done = done; // released here, whatever `result` is
    ///     if result.is_err() { return; }
    ///     // ...
    /// });
    /// # }
    /// ```
    pub fn defer(&mut self, action: impl FnOnce(&mut N, &mut Ctx<N>) + 'static) -> Deferred<N> {
        Deferred {
            queue: Rc::downgrade(&self.deferred),
            action: Some(Box::new(action)),
        }
    }
}

/// Runs its action when dropped; see [`Ctx::defer`].
#[must_use = "a guard dropped at once runs its action right after this handler"]
pub struct Deferred<N: Node> {
    queue: Weak<RefCell<std::collections::VecDeque<Action<N>>>>,
    action: Option<Action<N>>,
}

impl<N: Node> Deferred<N> {
    /// Drops the guard without running its action.
    pub fn cancel(mut self) {
        self.action = None;
    }
}

impl<N: Node> Drop for Deferred<N> {
    fn drop(&mut self) {
        if let (Some(action), Some(queue)) = (self.action.take(), self.queue.upgrade()) {
            queue.borrow_mut().push_back(action);
        }
    }
}

impl<N: Node> fmt::Debug for Deferred<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred")
            .field("armed", &self.action.is_some())
            .finish()
    }
}

/// Gathers the results of several calls and continues once all are in, with the results in
/// the order the slots were taken. Each [`Join::slot`] is a continuation to give to one call
/// (a [`crate::Call::then`], a service client method, or anything that takes a
/// `FnOnce(&mut N, &mut Ctx<N>, T)`); [`Join::then`] says what to do with them all.
///
/// ```
/// # use glomers_node::{Ctx, Join, Node, RpcError};
/// # use serde_json::{json, Value};
/// # fn demo<N: Node>(ctx: &mut Ctx<N>, peers: &[String]) {
/// let mut join = Join::new();
/// for peer in peers {
///     ctx.call(peer, json!({"type": "read"})).then(join.slot());
/// }
/// join.then(ctx, |_node: &mut N, ctx, results: Vec<Result<Value, RpcError>>| {
///     let ok = results.iter().filter(|r| r.is_ok()).count();
///     glomers_node::log!(ctx, "{ok} of {} peers answered", results.len());
/// });
/// # }
/// ```
///
/// Every call answers exactly once (a reply or a timeout), so the join always completes. With
/// no slots taken, `then` runs at the next turn of the engine.
pub struct Join<N: Node, T> {
    state: Rc<RefCell<JoinState<N, T>>>,
}

/// What every step of the join continues with.
type Finish<N, T> = Box<dyn FnOnce(&mut N, &mut Ctx<N>, Vec<T>)>;

struct JoinState<N: Node, T> {
    results: Vec<Option<T>>,
    missing: usize,
    then: Option<Finish<N, T>>,
}

impl<N: Node, T: 'static> Default for Join<N, T> {
    fn default() -> Self {
        Join::new()
    }
}

impl<N: Node, T: 'static> Join<N, T> {
    /// An empty join.
    pub fn new() -> Self {
        Join {
            state: Rc::new(RefCell::new(JoinState {
                results: Vec::new(),
                missing: 0,
                then: None,
            })),
        }
    }

    /// How many slots have been taken.
    pub fn len(&self) -> usize {
        self.state.borrow().results.len()
    }

    /// Whether no slot has been taken.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A continuation that fills the next result.
    pub fn slot(&mut self) -> impl FnOnce(&mut N, &mut Ctx<N>, T) + 'static {
        let index = {
            let mut state = self.state.borrow_mut();
            state.results.push(None);
            state.missing += 1;
            state.results.len() - 1
        };
        let state = Rc::clone(&self.state);
        move |node: &mut N, ctx: &mut Ctx<N>, value: T| {
            let finish = {
                let mut s = state.borrow_mut();
                s.results[index] = Some(value);
                s.missing -= 1;
                if s.missing == 0 {
                    s.then.take().map(|then| (then, take_results(&mut s)))
                } else {
                    None
                }
            };
            if let Some((then, results)) = finish {
                then(node, ctx, results);
            }
        }
    }

    /// Continues with every result once all slots are filled.
    pub fn then(self, ctx: &mut Ctx<N>, then: impl FnOnce(&mut N, &mut Ctx<N>, Vec<T>) + 'static) {
        let mut s = self.state.borrow_mut();
        if s.missing == 0 {
            let results = take_results(&mut s);
            ctx.run_after(Duration::ZERO, move |node, ctx| then(node, ctx, results));
        } else {
            s.then = Some(Box::new(then));
        }
    }
}

impl<N: Node, R: 'static, E: 'static> Join<N, Result<R, E>> {
    /// Continues with every value once all slots are filled, or with the first error (in slot
    /// order) if any call failed.
    pub fn then_ok(
        self,
        ctx: &mut Ctx<N>,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<Vec<R>, E>) + 'static,
    ) {
        self.then(ctx, move |node, ctx, results| {
            then(node, ctx, results.into_iter().collect())
        })
    }
}

fn take_results<N: Node, T>(state: &mut JoinState<N, T>) -> Vec<T> {
    std::mem::take(&mut state.results)
        .into_iter()
        .flatten()
        .collect()
}

impl<N: Node, T> fmt::Debug for Join<N, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("Join")
            .field("slots", &s.results.len())
            .field("missing", &s.missing)
            .finish()
    }
}

/// The continuation a step of [`in_turn`] gets: call it once with the step's result.
pub type StepDone<N, T, E> = Box<dyn FnOnce(&mut N, &mut Ctx<N>, Result<T, E>)>;

/// Takes one step per item, **in turn**: `step` starts the item's work and hands its result to
/// the [`StepDone`] it is given; the next item's step starts only once that result is `Ok`.
/// `then` gets every value, in item order, or the first error (the items after it are not
/// started). Where [`Join`] runs calls side by side, this runs them one after the other, as a
/// loop with an `await` in it would: lock keys in a fixed order, apply writes in sequence.
///
/// The values gathered before an error are dropped before `then` runs, so guards among them
/// (a [`crate::KvLock`], a [`crate::ValueLock`], a [`Deferred`]) are released on that path
/// too. With no items, `then` gets `Ok(vec![])` at once.
///
/// ```
/// # use glomers_node::{Ctx, KvError, KvLock, Node, ReplyTo};
/// # use serde_json::json;
/// # fn demo<N: Node>(node: &mut N, ctx: &mut Ctx<N>, keys: Vec<String>, from: ReplyTo) {
/// // Take the locks of `keys` one after another, in order.
/// glomers_node::in_turn(node, ctx, keys,
///     |_node: &mut N, ctx, key, locked| ctx.lin_kv().lock(key, locked),
///     move |_node, ctx, locks: Result<Vec<KvLock<N>>, KvError>| match locks {
///         Ok(locks) => ctx.reply(&from, json!({"type": "locked", "count": locks.len()})),
///         Err(e) => ctx.reply_failure(&from, e), // the locks taken so far are released
///     });
/// # }
/// ```
pub fn in_turn<N, I, T, E>(
    node: &mut N,
    ctx: &mut Ctx<N>,
    items: impl IntoIterator<Item = I>,
    step: impl FnMut(&mut N, &mut Ctx<N>, I, StepDone<N, T, E>) + 'static,
    then: impl FnOnce(&mut N, &mut Ctx<N>, Result<Vec<T>, E>) + 'static,
) where
    N: Node,
    I: 'static,
    T: 'static,
    E: 'static,
{
    let items: VecDeque<I> = items.into_iter().collect();
    let done = Vec::with_capacity(items.len());
    next_in_turn(node, ctx, items, done, Rc::new(RefCell::new(step)), then);
}

fn next_in_turn<N, I, T, E, S, C>(
    node: &mut N,
    ctx: &mut Ctx<N>,
    mut items: VecDeque<I>,
    mut done: Vec<T>,
    step: Rc<RefCell<S>>,
    then: C,
) where
    N: Node,
    I: 'static,
    T: 'static,
    E: 'static,
    S: FnMut(&mut N, &mut Ctx<N>, I, StepDone<N, T, E>) + 'static,
    C: FnOnce(&mut N, &mut Ctx<N>, Result<Vec<T>, E>) + 'static,
{
    let Ok(mut current) = step.try_borrow_mut() else {
        // A step that finished within its own call: take the next one at the next turn
        // rather than inside it.
        let step = Rc::clone(&step);
        ctx.run_after(Duration::ZERO, move |node, ctx| {
            next_in_turn(node, ctx, items, done, step, then)
        });
        return;
    };
    let Some(item) = items.pop_front() else {
        drop(current);
        return then(node, ctx, Ok(done));
    };
    let next = Rc::clone(&step);
    let finished: StepDone<N, T, E> = Box::new(move |node, ctx, result| match result {
        Ok(value) => {
            done.push(value);
            next_in_turn(node, ctx, items, done, next, then)
        }
        Err(e) => {
            drop(done);
            then(node, ctx, Err(e))
        }
    });
    (*current)(node, ctx, item, finished);
}
