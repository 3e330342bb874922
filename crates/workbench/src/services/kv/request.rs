//! KV request bodies: parsing and validation, and the error replies every KV service shares.

use serde_json::{json, Map, Value};

/// Error codes the KV services answer with (spec 1.6).
const MALFORMED_REQUEST: u64 = 12;
const KEY_DOES_NOT_EXIST: u64 = 20;
pub(super) const PRECONDITION_FAILED: u64 = 22;

pub(super) fn error(code: u64, text: impl Into<String>) -> Value {
    json!({"type": "error", "code": code, "text": text.into()})
}

pub(super) fn key_does_not_exist() -> Value {
    error(KEY_DOES_NOT_EXIST, "key does not exist")
}

/// A well-formed KV request.
#[derive(Clone, Debug, PartialEq)]
pub enum Request {
    Read {
        key: Value,
    },
    Write {
        key: Value,
        value: Value,
    },
    Cas {
        key: Value,
        from: Value,
        to: Value,
        create_if_not_exists: bool,
    },
}

impl Request {
    pub(super) fn key(&self) -> &Value {
        match self {
            Request::Read { key } | Request::Write { key, .. } | Request::Cas { key, .. } => key,
        }
    }
}

/// What a request body turned out to be.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Request(Request),
    /// A known type with missing or ill-typed fields: answered with error 12.
    Malformed(String),
    /// An unknown (or missing) `type`: Maelstrom's service throws, logs and never answers.
    Unknown,
}

/// Parses a KV request body.
///
/// Maelstrom does not validate KV requests: a missing `key` or `value` reads as Clojure `nil`,
/// so a `write` without a key silently stores under the key `nil`. glomers refuses such requests
/// with error 12 instead (an explicit JSON `null` is still an ordinary key or value).
pub fn parse(body: &Map<String, Value>) -> Parsed {
    let field = |name: &str| -> Result<Value, String> {
        body.get(name)
            .cloned()
            .ok_or_else(|| format!("missing field {name:?}"))
    };
    let request = match body.get("type").and_then(Value::as_str) {
        Some("read") => field("key").map(|key| Request::Read { key }),
        Some("write") => {
            field("key").and_then(|key| field("value").map(|value| Request::Write { key, value }))
        }
        Some("cas") => (|| {
            let create_if_not_exists = match body.get("create_if_not_exists") {
                None | Some(Value::Null) => false,
                Some(Value::Bool(b)) => *b,
                // Maelstrom would take any non-false value as true (Clojure truthiness), so
                // `"false"` would create the key: refuse instead of guessing.
                Some(other) => {
                    return Err(format!(
                        "create_if_not_exists must be a boolean, got {other}"
                    ))
                }
            };
            Ok(Request::Cas {
                key: field("key")?,
                from: field("from")?,
                to: field("to")?,
                create_if_not_exists,
            })
        })(),
        _ => return Parsed::Unknown,
    };
    match request {
        Ok(request) => Parsed::Request(request),
        Err(why) => Parsed::Malformed(why),
    }
}

/// Parses a request, answering malformed ones with error 12 and unknown ones with nothing.
/// `Ok(request)` means the caller should evaluate it.
pub(super) fn accept(body: &Map<String, Value>) -> Result<Request, Option<Value>> {
    match parse(body) {
        Parsed::Request(request) => Ok(request),
        Parsed::Malformed(why) => Err(Some(error(MALFORMED_REQUEST, why))),
        Parsed::Unknown => Err(None),
    }
}
