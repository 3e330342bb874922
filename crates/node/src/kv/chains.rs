//! Multi-step service chains: a read-modify-cas loop ([`Kv::update`]) and a lock held in a
//! store ([`Kv::lock`]).

use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use rand::Rng;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;

use super::{CasReq, Kv, KvError};
use crate::chains::Deferred;
use crate::engine::{Ctx, Node};
use crate::protocol::{ErrorCode, RpcError};

impl<N: Node> Kv<'_, N> {
    /// Updates `key` to `f(current value)` with a read then a `cas`, and retries from the read
    /// when the `cas` finds another value (error 22) or no key (error 20), or the read times
    /// out, `tries` attempts in all. A missing key reads as `None` and is created.
    ///
    /// `then` gets the value written, or the error that ended the loop. A `cas` that timed
    /// out is *not* retried: it may have been applied (and `f` must not be applied twice), so
    /// `then` gets [`KvError::Timeout`], which is indefinite; answering a client with it
    /// ([`Ctx::reply_result`]) tells the client just that.
    ///
    /// ```
    /// # use glomers_node::{Ctx, KvError, Node, ReplyTo};
    /// # use serde_json::json;
    /// # fn demo<N: Node>(ctx: &mut Ctx<N>, from: ReplyTo, delta: i64) {
    /// ctx.lin_kv().update("counter", 10, move |total: Option<&i64>| total.unwrap_or(&0) + delta,
    ///     move |_node: &mut N, ctx, result| {
    ///         ctx.reply_result(&from, result.map(|_| json!({"type": "add_ok"})))
    ///     });
    /// # }
    /// ```
    pub fn update<K, V>(
        self,
        key: K,
        tries: u32,
        f: impl FnMut(Option<&V>) -> V + 'static,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<V, KvError>) + 'static,
    ) where
        K: Serialize + 'static,
        V: Serialize + DeserializeOwned + 'static,
    {
        let (service, timeout) = (self.service, self.timeout);
        update_round(
            self.ctx,
            service,
            timeout,
            Rc::new(key),
            tries.max(1),
            f,
            then,
        );
    }

    /// Takes a lock kept in `key` and calls `then` with it, or with why not. The lock is
    /// released (the key `cas`-ed back from this holder's token to `""`) when the [`KvLock`]
    /// is dropped, on whatever path the chain that holds it ends: move it into the last
    /// continuation that needs it.
    ///
    /// While another holder has the key, the `cas` is retried after a random pause of a few
    /// milliseconds, for up to this client's timeout in all; then `then` gets error 11
    /// (temporarily-unavailable, definite). A `cas` that timed out is in doubt: the key is
    /// read to see whether it holds our token.
    ///
    /// The lock is a plain mutual-exclusion lock, not a lease: a node that stops while it
    /// holds one leaves it held.
    pub fn lock(
        self,
        key: impl Into<String>,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<KvLock<N>, KvError>) + 'static,
    ) {
        let nonce: u64 = self.ctx.rng().gen();
        let attempt = Attempt {
            service: self.service,
            timeout: self.timeout,
            key: key.into().into(),
            token: format!("{}/{nonce:016x}", self.ctx.node_id()).into(),
            give_up_at: self.ctx.now().saturating_add(self.timeout),
        };
        acquire(self.ctx, attempt, then);
    }
}

fn update_round<N, K, V, F, C>(
    ctx: &mut Ctx<N>,
    service: &'static str,
    timeout: Duration,
    key: Rc<K>,
    tries: u32,
    mut f: F,
    then: C,
) where
    N: Node,
    K: Serialize + 'static,
    V: Serialize + DeserializeOwned + 'static,
    F: FnMut(Option<&V>) -> V + 'static,
    C: FnOnce(&mut N, &mut Ctx<N>, Result<V, KvError>) + 'static,
{
    let read_key = Rc::clone(&key);
    ctx.kv(service).timeout(timeout).read_opt(
        &*read_key,
        move |node, ctx, read: Result<Option<V>, KvError>| {
            let old = match read {
                Ok(old) => old,
                Err(KvError::Timeout) if tries > 1 => {
                    return update_round(ctx, service, timeout, key, tries - 1, f, then)
                }
                Err(e) => return then(node, ctx, Err(e)),
            };
            let new = f(old.as_ref());
            let body = CasReq {
                ty: "cas",
                key: &*key,
                from: &old,
                to: &new,
                create_if_not_exists: old.is_none(),
            };
            ctx.call(service, body).timeout(timeout).then(
                move |node, ctx, result: Result<IgnoredAny, RpcError>| match result
                    .map_err(KvError::from)
                {
                    Ok(_) => then(node, ctx, Ok(new)),
                    Err(KvError::PreconditionFailed(_) | KvError::KeyDoesNotExist) if tries > 1 => {
                        update_round(ctx, service, timeout, key, tries - 1, f, then)
                    }
                    Err(e) => then(node, ctx, Err(e)),
                },
            );
        },
    );
}

/// A lock taken with [`Kv::lock`]; released when dropped.
pub struct KvLock<N: Node> {
    key: Rc<str>,
    _release: Deferred<N>,
}

impl<N: Node> KvLock<N> {
    /// The key the lock lives in.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl<N: Node> fmt::Debug for KvLock<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvLock").field("key", &self.key).finish()
    }
}

/// One acquisition: where, with which token, until when.
#[derive(Clone)]
struct Attempt {
    service: &'static str,
    timeout: Duration,
    key: Rc<str>,
    token: Rc<str>,
    give_up_at: Duration,
}

impl Attempt {
    /// Taking the lock may create its key; releasing it never does.
    fn cas_body<'a>(&'a self, from: &'a str, to: &'a str) -> CasReq<&'a str, &'a str, &'a str> {
        CasReq {
            ty: "cas",
            key: &self.key,
            from,
            to,
            create_if_not_exists: !to.is_empty(),
        }
    }

    /// The lock, which releases itself when dropped.
    fn held<N: Node>(self, ctx: &mut Ctx<N>) -> KvLock<N> {
        let key = Rc::clone(&self.key);
        let release = ctx.defer(move |_, ctx| release(ctx, self, 3));
        KvLock {
            key,
            _release: release,
        }
    }
}

fn acquire<N: Node>(
    ctx: &mut Ctx<N>,
    attempt: Attempt,
    then: impl FnOnce(&mut N, &mut Ctx<N>, Result<KvLock<N>, KvError>) + 'static,
) {
    let body = attempt.cas_body("", &attempt.token);
    let call = ctx.call(attempt.service, body).timeout(attempt.timeout);
    call.then(move |node, ctx, result: Result<IgnoredAny, RpcError>| {
        match result.map_err(KvError::from) {
            Ok(_) => {
                let lock = attempt.held(ctx);
                then(node, ctx, Ok(lock))
            }
            Err(KvError::PreconditionFailed(_)) if ctx.now() < attempt.give_up_at => {
                let pause = Duration::from_micros(ctx.rng().gen_range(500..5_000));
                ctx.run_after(pause, move |_, ctx| acquire(ctx, attempt, then));
            }
            Err(KvError::PreconditionFailed(_)) => {
                let text = format!("lock {} is held by another", attempt.key);
                let busy = RpcError::new(ErrorCode::TemporarilyUnavailable, text);
                then(node, ctx, Err(KvError::Other(busy)))
            }
            Err(KvError::Timeout) => in_doubt(ctx, attempt, then),
            Err(e) => then(node, ctx, Err(e)),
        }
    });
}

/// A `cas` to take the lock timed out: see whether it landed.
fn in_doubt<N: Node>(
    ctx: &mut Ctx<N>,
    attempt: Attempt,
    then: impl FnOnce(&mut N, &mut Ctx<N>, Result<KvLock<N>, KvError>) + 'static,
) {
    let key = Rc::clone(&attempt.key);
    let kv = ctx.kv(attempt.service).timeout(attempt.timeout);
    kv.read_opt(
        &*key,
        move |node, ctx, read: Result<Option<String>, KvError>| match read {
            Ok(Some(holder)) if *holder == *attempt.token => {
                let lock = attempt.held(ctx);
                then(node, ctx, Ok(lock))
            }
            _ if ctx.now() < attempt.give_up_at => acquire(ctx, attempt, then),
            _ => {
                // Give up, but do not leave a lock behind if the cas lands after all.
                release(ctx, attempt, 1);
                then(node, ctx, Err(KvError::Timeout))
            }
        },
    );
}

fn release<N: Node>(ctx: &mut Ctx<N>, attempt: Attempt, tries: u32) {
    let body = attempt.cas_body(&attempt.token, "");
    let call = ctx.call(attempt.service, body).timeout(attempt.timeout);
    call.then(
        move |_, ctx, result: Result<IgnoredAny, RpcError>| match result {
            Ok(_) => {}
            Err(e) if e.is_timeout() && tries > 1 => release(ctx, attempt, tries - 1),
            Err(e) => crate::log!(ctx, "lock {}: release failed: {e}", attempt.key),
        },
    );
}
