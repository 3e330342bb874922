//! Clients for Maelstrom's services: the key-value stores `seq-kv`, `lin-kv` and `lww-kv`, and
//! the timestamp oracle `lin-tso`. Get one from the context ([`Ctx::lin_kv`], [`Ctx::seq_kv`],
//! [`Ctx::lww_kv`], [`Ctx::lin_tso`]); each call is one request with a continuation that
//! receives a typed result, and the timeout is [`Ctx::default_timeout`] unless
//! [`Kv::timeout`] sets another.
//!
//! - [`Kv::read`], [`Kv::write`], [`Kv::cas`]: one request each. [`Kv::read_opt`] gives a
//!   missing key as `Ok(None)`.
//! - [`Kv::update`]: a read-modify-`cas` loop with retries and the in-doubt case handled.
//! - [`Kv::lock`]: a lock kept in a key, released when its [`KvLock`] is dropped.
//! - [`Kv::lock_value`]: a lock kept in the key it guards, beside the key's value; its
//!   [`ValueLock`] writes the new value and frees the key in one `write`, or frees it unchanged
//!   when dropped.
//!
//! Errors come as [`KvError`], which turns into an [`RpcError`] (the same code) to answer a
//! client with ([`Ctx::reply_result`], [`Ctx::reply_failure`]). The stores' semantics:
//!
//! - `lin-kv` is linearizable: every operation takes effect at one instant between its request
//!   and its reply.
//! - `seq-kv` is sequentially consistent: each request is served from some state between the
//!   last one this node saw and the newest, so reads may be stale (and a `cas` may fail against
//!   a stale value); any successful change moves this node to the newest state, so writing a
//!   key of its own before reading is the way to force a fresh read.
//! - `lww-kv` serves each request from one of several replicas that do not reliably converge:
//!   expect a write to be visible only on some later reads. Its `cas` ignores
//!   `create_if_not_exists`.
//!
//! ```
//! # use glomers_node::{Ctx, KvError};
//! # fn demo<N: glomers_node::Node>(ctx: &mut Ctx<N>) {
//! use std::time::Duration;
//! ctx.seq_kv().timeout(Duration::from_millis(500)).read("counter", |_node: &mut N, ctx, result: Result<u64, KvError>| {
//!     match result {
//!         Ok(value) => glomers_node::log!(ctx, "counter = {value}"),
//!         Err(KvError::KeyDoesNotExist) => glomers_node::log!(ctx, "no counter yet"),
//!         Err(e) => glomers_node::log!(ctx, "read failed: {e}"),
//!     }
//! });
//! # }
//! ```

use std::fmt;
use std::time::Duration;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};

use crate::engine::{Ctx, Node};
use crate::protocol::{ErrorCode, RpcError};

mod chains;
mod value_lock;
pub use chains::KvLock;
pub use value_lock::ValueLock;

/// The default timeout of a service call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The node id of the sequentially consistent store.
pub const SEQ_KV: &str = "seq-kv";
/// The node id of the linearizable store.
pub const LIN_KV: &str = "lin-kv";
/// The node id of the last-write-wins store.
pub const LWW_KV: &str = "lww-kv";
/// The node id of the timestamp oracle.
pub const LIN_TSO: &str = "lin-tso";

/// Why a service call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvError {
    /// Error 20: the key does not exist (and the operation does not create it).
    KeyDoesNotExist,
    /// Error 22: a CAS found another value; the service's text says which.
    PreconditionFailed(String),
    /// Error 21: the key already exists.
    KeyAlreadyExists,
    /// No reply within the timeout (or an error 0 from the service). Indefinite: the operation
    /// may have happened.
    Timeout,
    /// Any other error, including a reply that did not have the expected shape.
    Other(RpcError),
}

impl KvError {
    /// The error code this corresponds to.
    pub fn code(&self) -> ErrorCode {
        match self {
            KvError::KeyDoesNotExist => ErrorCode::KeyDoesNotExist,
            KvError::PreconditionFailed(_) => ErrorCode::PreconditionFailed,
            KvError::KeyAlreadyExists => ErrorCode::KeyAlreadyExists,
            KvError::Timeout => ErrorCode::Timeout,
            KvError::Other(e) => e.code,
        }
    }

    /// Definite: the operation certainly did not take effect.
    pub fn is_definite(&self) -> bool {
        self.code().is_definite()
    }
}

impl From<RpcError> for KvError {
    fn from(e: RpcError) -> Self {
        match e.code {
            ErrorCode::KeyDoesNotExist => KvError::KeyDoesNotExist,
            ErrorCode::PreconditionFailed => KvError::PreconditionFailed(e.text),
            ErrorCode::KeyAlreadyExists => KvError::KeyAlreadyExists,
            ErrorCode::Timeout => KvError::Timeout,
            _ => KvError::Other(e),
        }
    }
}

impl fmt::Display for KvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvError::KeyDoesNotExist => f.write_str("key does not exist"),
            KvError::PreconditionFailed(text) if text.is_empty() => {
                f.write_str("precondition failed")
            }
            KvError::PreconditionFailed(text) => write!(f, "precondition failed: {text}"),
            KvError::KeyAlreadyExists => f.write_str("key already exists"),
            KvError::Timeout => f.write_str("timed out"),
            KvError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for KvError {}

/// A failed service call as an error to pass on (e.g. with [`Ctx::reply_failure`] or
/// [`Ctx::reply_result`]): same code, the error's text. A timeout stays code 0 (indefinite).
impl From<KvError> for RpcError {
    fn from(e: KvError) -> Self {
        match e {
            KvError::Other(e) => e,
            KvError::PreconditionFailed(text) if !text.is_empty() => {
                RpcError::new(ErrorCode::PreconditionFailed, text)
            }
            other => RpcError::new(other.code(), other.to_string()),
        }
    }
}

impl<N: Node> Ctx<N> {
    /// The sequentially consistent store `seq-kv`.
    pub fn seq_kv(&mut self) -> Kv<'_, N> {
        self.kv(SEQ_KV)
    }

    /// The linearizable store `lin-kv`.
    pub fn lin_kv(&mut self) -> Kv<'_, N> {
        self.kv(LIN_KV)
    }

    /// The last-write-wins store `lww-kv`.
    pub fn lww_kv(&mut self) -> Kv<'_, N> {
        self.kv(LWW_KV)
    }

    /// A store that speaks the KV protocol under another node id.
    pub fn kv(&mut self, service: &'static str) -> Kv<'_, N> {
        let timeout = self.default_timeout();
        Kv {
            ctx: self,
            service,
            timeout,
        }
    }

    /// The timestamp oracle `lin-tso`.
    pub fn lin_tso(&mut self) -> Tso<'_, N> {
        let timeout = self.default_timeout();
        Tso {
            ctx: self,
            service: LIN_TSO,
            timeout,
        }
    }
}

/// A client for one KV service; get one from [`Ctx::seq_kv`], [`Ctx::lin_kv`] or
/// [`Ctx::lww_kv`]. Each method sends one request and calls `then` exactly once.
pub struct Kv<'a, N: Node> {
    ctx: &'a mut Ctx<N>,
    service: &'static str,
    timeout: Duration,
}

#[derive(Serialize)]
struct ReadReq<K> {
    #[serde(rename = "type")]
    ty: &'static str,
    key: K,
}

#[derive(Serialize)]
struct WriteReq<K, V> {
    #[serde(rename = "type")]
    ty: &'static str,
    key: K,
    value: V,
}

#[derive(Serialize)]
struct CasReq<K, A, B> {
    #[serde(rename = "type")]
    ty: &'static str,
    key: K,
    from: A,
    to: B,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    create_if_not_exists: bool,
}

#[derive(Deserialize)]
struct ReadOk<V> {
    value: V,
}

#[derive(Serialize)]
struct TsReq {
    #[serde(rename = "type")]
    ty: &'static str,
}

#[derive(Deserialize)]
struct TsOk {
    ts: u64,
}

impl<N: Node> Kv<'_, N> {
    /// Sets the timeout of the call (default [`Ctx::default_timeout`], 1 s unless changed).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The service's node id.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// `read`: the value of `key`, or [`KvError::KeyDoesNotExist`].
    pub fn read<V: DeserializeOwned + 'static>(
        self,
        key: impl Serialize,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<V, KvError>) + 'static,
    ) {
        let body = ReadReq { ty: "read", key };
        self.ctx.rpc(
            self.service,
            body,
            self.timeout,
            move |node, ctx, result: Result<ReadOk<V>, RpcError>| {
                then(node, ctx, result.map(|ok| ok.value).map_err(KvError::from))
            },
        );
    }

    /// `read`, with a missing key as `Ok(None)` rather than an error.
    pub fn read_opt<V: DeserializeOwned + 'static>(
        self,
        key: impl Serialize,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<Option<V>, KvError>) + 'static,
    ) {
        self.read(key, move |node, ctx, result: Result<V, KvError>| {
            let result = match result {
                Ok(value) => Ok(Some(value)),
                Err(KvError::KeyDoesNotExist) => Ok(None),
                Err(e) => Err(e),
            };
            then(node, ctx, result)
        })
    }

    /// `write`: sets `key` to `value`, creating it if needed.
    pub fn write(
        self,
        key: impl Serialize,
        value: impl Serialize,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<(), KvError>) + 'static,
    ) {
        let body = WriteReq {
            ty: "write",
            key,
            value,
        };
        self.ctx.rpc(
            self.service,
            body,
            self.timeout,
            move |node, ctx, result: Result<IgnoredAny, RpcError>| {
                then(node, ctx, result.map(|_| ()).map_err(KvError::from))
            },
        );
    }

    /// `cas`: sets `key` to `to` if it holds `from`. A different value gives
    /// [`KvError::PreconditionFailed`]; a missing key [`KvError::KeyDoesNotExist`] unless
    /// `create_if_not_exists` (then `to` is stored; `lww-kv` ignores the flag).
    pub fn cas(
        self,
        key: impl Serialize,
        from: impl Serialize,
        to: impl Serialize,
        create_if_not_exists: bool,
        then: impl FnOnce(&mut N, &mut Ctx<N>, Result<(), KvError>) + 'static,
    ) {
        let body = CasReq {
            ty: "cas",
            key,
            from,
            to,
            create_if_not_exists,
        };
        self.ctx.rpc(
            self.service,
            body,
            self.timeout,
            move |node, ctx, result: Result<IgnoredAny, RpcError>| {
                then(node, ctx, result.map(|_| ()).map_err(KvError::from))
            },
        );
    }
}

/// A client for the timestamp oracle; get one from [`Ctx::lin_tso`].
pub struct Tso<'a, N: Node> {
    ctx: &'a mut Ctx<N>,
    service: &'static str,
    timeout: Duration,
}

impl<N: Node> Tso<'_, N> {
    /// Sets the timeout of the call (default [`Ctx::default_timeout`], 1 s unless changed).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `ts`: a fresh timestamp, strictly greater than every one handed out before.
    pub fn ts(self, then: impl FnOnce(&mut N, &mut Ctx<N>, Result<u64, KvError>) + 'static) {
        self.ctx.rpc(
            self.service,
            TsReq { ty: "ts" },
            self.timeout,
            move |node, ctx, result: Result<TsOk, RpcError>| {
                then(node, ctx, result.map(|ok| ok.ts).map_err(KvError::from))
            },
        );
    }
}
