//! A lock kept in the key it guards: [`Kv::lock_value`] and its [`ValueLock`], which holds the
//! key's value while locked and writes the new one back and releases the lock in one write.

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

/// A key's record in the store: its value (`null` for a key never written) and its holder
/// (`""` when free).
type Record<V> = (Option<V>, String);

/// A record as a `cas` sends it, borrowed: value and holder.
type RecordRef<'a, V> = (&'a Option<V>, &'a str);

impl<N: Node> Kv<'_, N> {
    /// Locks `key`, which holds the record `[value, holder]` (`holder` is `""` when the key is
    /// free; a missing key is free and has no value), and calls `then` with a [`ValueLock`]
    /// holding the value, or with why not. Two-phase locking per key, with no separate lock
    /// key: [`ValueLock::set`] a new value, then [`ValueLock::commit`] writes it and frees the
    /// key in one `write`. A lock dropped without `commit` frees the key with its value
    /// unchanged, on whatever path the chain that holds it ends (an error included).
    ///
    /// `guess` is the value the key is expected to hold (`None`: missing or `null`), from a
    /// cache say: the lock is one `cas` from `[guess, ""]` to `[guess, holder]` when it is
    /// right, and a wrong guess costs a read. While another holder has the key, the lock is
    /// tried again after a random pause of 1 to 8 ms, for up to this client's timeout in all;
    /// then `then` gets error 11 (temporarily-unavailable, definite). A `cas` that timed out
    /// is in doubt: the key is read to see whether it holds our token.
    ///
    /// Every user of the key must go through this lock (a plain `write` would step on it). It
    /// is not a lease: a node that stops while it holds a key leaves it locked.
    ///
    /// ```
    /// # use glomers_node::{Ctx, KvError, Node, ReplyTo, ValueLock};
    /// # use serde_json::json;
    /// # fn demo<N: Node>(ctx: &mut Ctx<N>, from: ReplyTo) {
    /// // Double the value of "x" (0 when missing), answering once the new value is in.
    /// ctx.lin_kv().lock_value("x", None, move |_node: &mut N, ctx, lock: Result<ValueLock<N, i64>, KvError>| {
    ///     let mut lock = match lock {
    ///         Ok(lock) => lock,
    ///         Err(e) => return ctx.reply_failure(&from, e),
    ///     };
    ///     let doubled = lock.value().copied().unwrap_or(0) * 2;
    ///     lock.set(doubled);
    ///     lock.commit(ctx, move |_node, ctx, written| {
    ///         ctx.reply_result(&from, written.map(|()| json!({"type": "double_ok", "value": doubled})))
    ///     });
    /// });
    /// # }
    /// ```
    pub fn lock_value<V>(
        self,
        key: impl Into<String>,
        guess: Option<V>,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<ValueLock<N, V>, KvError>) + 'static,
    ) where
        V: Serialize + DeserializeOwned + Clone + 'static,
    {
        let nonce: u64 = self.ctx.rng().gen();
        let claim = Claim {
            service: self.service,
            timeout: self.timeout,
            key: key.into().into(),
            token: format!("{}/{nonce:016x}", self.ctx.node_id()).into(),
            give_up_at: self.ctx.now().saturating_add(self.timeout),
        };
        try_lock(self.ctx, claim, guess, then);
    }
}

/// A key locked with [`Kv::lock_value`], holding its value. [`ValueLock::commit`] writes the
/// value back and frees the key; dropped without a commit, it frees the key unchanged.
pub struct ValueLock<N: Node, V> {
    claim: Claim,
    value: Option<V>,
    release: Deferred<N>,
}

impl<N: Node, V: Serialize + 'static> ValueLock<N, V> {
    /// The key locked.
    pub fn key(&self) -> &str {
        &self.claim.key
    }

    /// The key's value: what it held when locked, or what [`ValueLock::set`] put since
    /// (`None`: the key was missing or held `null`).
    pub fn value(&self) -> Option<&V> {
        self.value.as_ref()
    }

    /// Sets the value [`ValueLock::commit`] writes.
    pub fn set(&mut self, value: V) {
        self.value = Some(value);
    }

    /// Writes `[value, ""]`: installs the value and frees the key in one `write`, and calls
    /// `then` once the store has it. Not retried: a timeout is in doubt (the value may be in,
    /// or the key still locked by us), and `then` gets [`KvError::Timeout`].
    pub fn commit(
        self,
        ctx: &mut Ctx<N>,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<(), KvError>) + 'static,
    ) {
        let ValueLock {
            claim,
            value,
            release,
        } = self;
        release.cancel();
        let record = (value, "");
        let kv = ctx.kv(claim.service).timeout(claim.timeout);
        kv.write(&*claim.key, record, then);
    }
}

impl<N: Node, V> fmt::Debug for ValueLock<N, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueLock")
            .field("key", &self.claim.key)
            .finish()
    }
}

/// One acquisition: where, with which token, until when.
#[derive(Clone)]
struct Claim {
    service: &'static str,
    timeout: Duration,
    key: Rc<str>,
    token: Rc<str>,
    give_up_at: Duration,
}

impl Claim {
    /// The `cas` from `[value, from]` to `[value, to]`; only taking the lock creates the key.
    fn cas_body<'a, V>(
        &'a self,
        value: &'a Option<V>,
        from: &'a str,
        to: &'a str,
    ) -> CasReq<&'a str, RecordRef<'a, V>, RecordRef<'a, V>> {
        CasReq {
            ty: "cas",
            key: &self.key,
            from: (value, from),
            to: (value, to),
            create_if_not_exists: value.is_none() && !to.is_empty(),
        }
    }

    /// The lock on the key, holding `value`; freed unchanged when dropped.
    fn held<N: Node, V>(self, ctx: &mut Ctx<N>, value: Option<V>) -> ValueLock<N, V>
    where
        V: Serialize + Clone + 'static,
    {
        let (claim, original) = (self.clone(), value.clone());
        let release = ctx.defer(move |_, ctx| release(ctx, claim, original, 3));
        ValueLock {
            claim: self,
            value,
            release,
        }
    }
}

/// `cas`es the key from free to ours, guessing its value.
fn try_lock<N, V>(
    ctx: &mut Ctx<N>,
    claim: Claim,
    guess: Option<V>,
    then: impl FnOnce(&mut N, &mut Ctx<N>, Result<ValueLock<N, V>, KvError>) + 'static,
) where
    N: Node,
    V: Serialize + DeserializeOwned + Clone + 'static,
{
    let body = claim.cas_body(&guess, "", &claim.token);
    let call = ctx.call(claim.service, body).timeout(claim.timeout);
    call.then(move |node, ctx, result: Result<IgnoredAny, RpcError>| {
        match result.map_err(KvError::from) {
            Ok(_) => {
                let lock = claim.held(ctx, guess);
                then(node, ctx, Ok(lock))
            }
            // Another value or holder, or no key: look at what the key holds.
            Err(KvError::PreconditionFailed(_) | KvError::KeyDoesNotExist) => {
                look(ctx, claim, None, then)
            }
            Err(KvError::Timeout) => look(ctx, claim, Some(guess), then),
            Err(e) => then(node, ctx, Err(e)),
        }
    });
}

/// Reads the key and decides: ours (a `cas` in doubt landed), free (lock it at once), or held
/// (try again after a pause, or give up). `in_doubt` is the guess of a `cas` that timed out.
fn look<N, V>(
    ctx: &mut Ctx<N>,
    claim: Claim,
    in_doubt: Option<Option<V>>,
    then: impl FnOnce(&mut N, &mut Ctx<N>, Result<ValueLock<N, V>, KvError>) + 'static,
) where
    N: Node,
    V: Serialize + DeserializeOwned + Clone + 'static,
{
    let key = Rc::clone(&claim.key);
    let kv = ctx.kv(claim.service).timeout(claim.timeout);
    kv.read_opt(
        &*key,
        move |node, ctx, read: Result<Option<Record<V>>, KvError>| {
            let (value, holder) = match read {
                Ok(record) => record.unwrap_or((None, String::new())),
                Err(e) => return give_up(node, ctx, claim, in_doubt, e, then),
            };
            if *holder == *claim.token {
                let lock = claim.held(ctx, value);
                then(node, ctx, Ok(lock))
            } else if holder.is_empty() {
                try_lock(ctx, claim, value, then)
            } else if ctx.now() < claim.give_up_at {
                let pause = Duration::from_millis(ctx.rng().gen_range(1..=8));
                ctx.run_after(pause, move |_, ctx| try_lock(ctx, claim, value, then));
            } else {
                let text = format!("key {} is locked by another", claim.key);
                let busy = RpcError::new(ErrorCode::TemporarilyUnavailable, text);
                give_up(node, ctx, claim, in_doubt, KvError::Other(busy), then)
            }
        },
    );
}

/// Ends the attempt with `error`, freeing the key in case a `cas` in doubt lands after all.
fn give_up<N, V>(
    node: &mut N,
    ctx: &mut Ctx<N>,
    claim: Claim,
    in_doubt: Option<Option<V>>,
    error: KvError,
    then: impl FnOnce(&mut N, &mut Ctx<N>, Result<ValueLock<N, V>, KvError>) + 'static,
) where
    N: Node,
    V: Serialize + 'static,
{
    if let Some(guess) = in_doubt {
        release(ctx, claim, guess, 1);
    }
    then(node, ctx, Err(error))
}

/// Frees the key unchanged: a `cas` from `[value, token]` to `[value, ""]`, which does
/// nothing unless we hold it. Tried `tries` times while it times out.
fn release<N: Node, V: Serialize + 'static>(
    ctx: &mut Ctx<N>,
    claim: Claim,
    value: Option<V>,
    tries: u32,
) {
    let body = claim.cas_body(&value, &claim.token, "");
    let call = ctx.call(claim.service, body).timeout(claim.timeout);
    call.then(
        move |_, ctx, result: Result<IgnoredAny, RpcError>| match result {
            Ok(_) => {}
            Err(e) if e.is_timeout() && tries > 1 => release(ctx, claim, value, tries - 1),
            Err(e) => crate::log!(ctx, "key {}: release failed: {e}", claim.key),
        },
    );
}
