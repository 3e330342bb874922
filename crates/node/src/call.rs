//! Requests to other nodes and services: [`Ctx::call`] and its [`Call`] builder, and
//! [`Ctx::rpc`], the one-call form.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::engine::{Continuation, Ctx, Event, Node, Pending, QUOTE_LIMIT};
use crate::protocol::{truncated, ErrorCode, RpcError};
use crate::ReplyTo;

impl<N: Node> Ctx<N> {
    /// Sends a request to `dest` now, with a fresh `msg_id` and `body` serialized at once, and
    /// returns a [`Call`] to say what happens with the answer: [`Call::then`] (a continuation),
    /// [`Call::relay`] (pass the answer on to a client). The timeout is
    /// [`Ctx::default_timeout`] unless [`Call::timeout`] sets another.
    ///
    /// Because the body is written out before the continuation is built, the body may borrow
    /// what the continuation then moves:
    ///
    /// ```
    /// # use glomers_node::{Ctx, Node, RpcError};
    /// # use serde_json::{json, Value};
    /// # fn demo<N: Node>(ctx: &mut Ctx<N>, items: Vec<u64>) {
    /// ctx.call("n2", json!({"type": "store", "items": &items}))
    ///     .then(move |_node: &mut N, ctx, result: Result<Value, RpcError>| {
    ///         glomers_node::log!(ctx, "stored {} items: {}", items.len(), result.is_ok());
    ///     });
    /// # }
    /// ```
    ///
    /// A `Call` dropped without `then` ignores the answer.
    pub fn call(&mut self, dest: &str, body: impl Serialize) -> Call<'_, N> {
        let msg_id = self.next_msg_id;
        self.next_msg_id += 1;
        let failure = match self.emit(dest, &body, None, Some(msg_id)) {
            Ok(()) => None,
            Err(e) => {
                self.log(format_args!(
                    "rpc {msg_id} to {dest} not sent: {e}; failing it"
                ));
                Some(RpcError::new(
                    ErrorCode::MalformedRequest,
                    format!("request not sent: {e}"),
                ))
            }
        };
        let timeout = self.default_timeout;
        Call {
            ctx: self,
            dest: dest.into(),
            msg_id,
            timeout,
            failure,
            registered: false,
        }
    }

    /// Sends a request with a fresh `msg_id` and calls `then` exactly once: with the reply
    /// deserialized into `R` (extra fields such as `type` and `in_reply_to` are ignored unless
    /// `R` denies them), with `Err` carrying the code and text of an `error` reply, with a
    /// [`ErrorCode::Timeout`] error when no reply came within `timeout`, or with a
    /// [`ErrorCode::MalformedRequest`] error when the reply does not deserialize into `R`.
    ///
    /// A reply that arrives after the timeout is logged and dropped. The same as
    /// `ctx.call(dest, body).timeout(timeout).then(then)`; [`Ctx::call`] has a default timeout.
    pub fn rpc<R: DeserializeOwned + 'static>(
        &mut self,
        dest: &str,
        body: impl Serialize,
        timeout: Duration,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<R, RpcError>) + 'static,
    ) {
        self.call(dest, body).timeout(timeout).then(then)
    }

    /// The timeout of [`Ctx::call`] and of the service clients ([`Ctx::lin_kv`]...) when the
    /// call sets none: [`crate::kv::DEFAULT_TIMEOUT`] (1 s) unless changed.
    pub fn default_timeout(&self) -> Duration {
        self.default_timeout
    }

    /// Changes [`Ctx::default_timeout`] for the calls made from now on.
    pub fn set_default_timeout(&mut self, timeout: Duration) {
        self.default_timeout = timeout;
    }
}

/// A request that has been sent and awaits its answer; made by [`Ctx::call`]. Say what to do
/// with the answer with [`Call::then`] or [`Call::relay`]; dropped as it is, it ignores the
/// answer (which then is not logged as unexpected).
#[must_use = "the answer is ignored unless `.then(..)` or `.relay(..)` is called"]
pub struct Call<'a, N: Node> {
    ctx: &'a mut Ctx<N>,
    dest: Box<str>,
    msg_id: u64,
    timeout: Duration,
    failure: Option<RpcError>,
    registered: bool,
}

impl<N: Node> Call<'_, N> {
    /// Gives up waiting after `timeout` instead of [`Ctx::default_timeout`]: the continuation
    /// then gets an [`ErrorCode::Timeout`] error (indefinite: the request may have been
    /// carried out).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The request's `msg_id`.
    pub fn msg_id(&self) -> u64 {
        self.msg_id
    }

    /// Calls `then` exactly once: with the reply deserialized into `R`, or with the error (an
    /// `error` reply's code and text, a timeout, or a reply that does not fit `R`). See
    /// [`Ctx::rpc`].
    pub fn then<R: DeserializeOwned + 'static>(
        mut self,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<R, RpcError>) + 'static,
    ) {
        let msg_id = self.msg_id;
        self.register(Box::new(move |node, ctx, outcome| {
            let result = outcome.and_then(|body| {
                serde_json::from_str::<R>(body).map_err(|e| {
                    ctx.log(format_args!(
                        "malformed reply to rpc {msg_id}: {e}: {}",
                        truncated(body.as_bytes(), QUOTE_LIMIT)
                    ));
                    RpcError::new(ErrorCode::MalformedRequest, format!("malformed reply: {e}"))
                })
            });
            then(node, ctx, result)
        }));
    }

    /// Answers `to` with whatever comes back: the reply body as it is (its `in_reply_to` and
    /// `msg_id` replaced), or the error (a timeout becomes error 0, indefinite). The whole
    /// forward-to-the-owner pattern:
    ///
    /// ```
    /// # use glomers_node::{Ctx, Node, ReplyTo};
    /// # fn demo<N: Node>(ctx: &mut Ctx<N>, owner: &str, request: serde_json::Value, from: ReplyTo) {
    /// ctx.call(owner, &request).relay(from);
    /// # }
    /// ```
    pub fn relay(self, to: ReplyTo) {
        self.then(move |_, ctx, result: Result<Box<RawValue>, RpcError>| {
            ctx.reply_result(&to, result)
        })
    }

    fn register(&mut self, then: Continuation<N>) {
        self.registered = true;
        let ctx = &mut *self.ctx;
        let deadline = match self.failure {
            Some(_) => ctx.now(),
            None => ctx.now().saturating_add(self.timeout),
        };
        let key = (deadline, ctx.bump_seq());
        ctx.queue.insert(
            key,
            Event::RpcDeadline {
                msg_id: self.msg_id,
            },
        );
        ctx.pending.insert(
            self.msg_id,
            Pending {
                key,
                dest: std::mem::take(&mut self.dest),
                timeout: self.timeout,
                failure: self.failure.take(),
                then,
            },
        );
    }
}

impl<N: Node> Drop for Call<'_, N> {
    fn drop(&mut self) {
        if !self.registered {
            self.register(Box::new(|_, _, _: Result<&str, RpcError>| {}));
        }
    }
}
