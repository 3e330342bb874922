//! An op's value as the history keeps it: JSON for most workloads, typed for the txn and
//! kafka workloads (see [`OpValue`]).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{push_i64, push_u64};

/// An op's value. Most workloads record JSON; the two that record a structured value for
/// every op (txn's micro-ops, kafka's sends and polls) keep it typed: no tree of JSON values
/// to build, walk and drop per op. A typed value stands for one JSON value
/// ([`OpValue::to_json`]) and is written as exactly the text serde_json writes for that value
/// ([`OpValue::write_json`]), so `history.jsonl` and the report do not tell the forms apart.
/// A history read back from JSON holds only [`OpValue::Json`]: readers of typed values (the
/// txn and kafka checkers) read both forms alike. As small as a [`Value`] (32 bytes).
///
/// Kafka keys are integers written as strings (`"12"`): a typed value holds the integer,
/// and only a key that is an integer's decimal form (see [`kafka_key`]); a value with any
/// other key stays JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum OpValue {
    Json(Value),
    /// A transaction, `[[f, k, v], ...]`.
    Txn(Vec<MicroOp>),
    /// A kafka send's invocation: `[["send", key, msg]]`.
    KafkaSend {
        key: u64,
        msg: i64,
    },
    /// An ok kafka send: `[["send", key, [offset, msg]]]`.
    KafkaSent {
        key: u64,
        offset: i64,
        msg: i64,
    },
    /// A kafka poll's invocation: `[["poll"]]`.
    KafkaPoll,
    /// An ok kafka poll: `[["poll", {key: [[offset, msg], ...], ...}]]`, its keys in the
    /// order of a JSON map's and distinct (built by [`OpValue::kafka_polled`]).
    KafkaPolled(Vec<PolledKey>),
}

/// One micro-op of a transaction: `[f, key, value]`. 32 bytes: a transaction's storage
/// then has a power-of-two size (see [`crate::workloads::pow2_vec`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MicroOp {
    pub key: i64,
    pub value: MicroValue,
    pub f: MicroF,
}

/// A micro-op's function: `"r"`, `"w"` (rw-register) or `"append"` (list-append).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MicroF {
    Read,
    Write,
    Append,
}

impl MicroF {
    pub fn name(self) -> &'static str {
        match self {
            MicroF::Read => "r",
            MicroF::Write => "w",
            MicroF::Append => "append",
        }
    }
}

/// A micro-op's value: `null` (a read not done yet, or of a missing key), an integer (a
/// write, an append, a register read) or a list of integers (a list read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MicroValue {
    Nil,
    Int(i64),
    /// Boxed, to keep a [`MicroOp`] 32 bytes (list reads are the rare case).
    #[allow(clippy::box_collection)]
    List(Box<Vec<i64>>),
}

/// The messages an ok kafka poll returned for one key, `(offset, msg)` in the order returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolledKey {
    pub key: u64,
    pub msgs: Vec<(i64, i64)>,
}

/// The integer a kafka key names, when the key is its decimal form (`"0"`, `"17"`; not
/// `"017"`, `"+1"` or `""`): the keys a typed value holds.
pub fn kafka_key(key: &str) -> Option<u64> {
    let bytes = key.as_bytes();
    let canonical = !bytes.is_empty() && (bytes[0] != b'0' || bytes.len() == 1);
    if !canonical || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    key.parse().ok()
}

impl Default for OpValue {
    fn default() -> OpValue {
        OpValue::NULL
    }
}

impl From<Value> for OpValue {
    fn from(value: Value) -> OpValue {
        OpValue::Json(value)
    }
}

impl PartialEq<Value> for OpValue {
    fn eq(&self, other: &Value) -> bool {
        match self {
            OpValue::Json(v) => v == other,
            typed => *typed.to_json() == *other,
        }
    }
}

impl OpValue {
    pub const NULL: OpValue = OpValue::Json(Value::Null);

    /// An ok kafka poll's value, its keys sorted as a JSON map orders them (as strings);
    /// `None` when a key comes twice (a JSON map cannot hold that).
    pub fn kafka_polled(mut keys: Vec<PolledKey>) -> Option<OpValue> {
        let as_text = |k: &PolledKey| itoa::Buffer::new().format(k.key).to_owned();
        if !keys.is_sorted_by(|a, b| key_text_less(a.key, b.key)) {
            keys.sort_by_cached_key(as_text);
            if keys.windows(2).any(|w| w[0].key == w[1].key) {
                return None;
            }
        }
        Some(OpValue::KafkaPolled(keys))
    }

    /// The JSON value this stands for (built for a typed value).
    pub fn to_json(&self) -> Cow<'_, Value> {
        let key = |k: u64| Value::String(k.to_string());
        let kafka = |mop: Vec<Value>| Cow::Owned(Value::Array(vec![Value::Array(mop)]));
        match self {
            OpValue::Json(v) => Cow::Borrowed(v),
            OpValue::Txn(mops) => Cow::Owned(Value::Array(
                mops.iter()
                    .map(|m| {
                        let value = match &m.value {
                            MicroValue::Nil => Value::Null,
                            MicroValue::Int(n) => Value::from(*n),
                            MicroValue::List(items) => {
                                Value::Array(items.iter().map(|&n| Value::from(n)).collect())
                            }
                        };
                        Value::Array(vec![m.f.name().into(), m.key.into(), value])
                    })
                    .collect(),
            )),
            OpValue::KafkaSend { key: k, msg } => {
                kafka(vec!["send".into(), key(*k), Value::from(*msg)])
            }
            OpValue::KafkaSent {
                key: k,
                offset,
                msg,
            } => kafka(vec![
                "send".into(),
                key(*k),
                Value::Array(vec![Value::from(*offset), Value::from(*msg)]),
            ]),
            OpValue::KafkaPoll => kafka(vec!["poll".into()]),
            OpValue::KafkaPolled(keys) => {
                let map = keys
                    .iter()
                    .map(|k| {
                        let msgs = k
                            .msgs
                            .iter()
                            .map(|&(o, m)| Value::Array(vec![o.into(), m.into()]))
                            .collect();
                        (k.key.to_string(), Value::Array(msgs))
                    })
                    .collect();
                kafka(vec!["poll".into(), Value::Object(map)])
            }
        }
    }

    /// The JSON value, when this is one (not typed).
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            OpValue::Json(v) => Some(v),
            _ => None,
        }
    }

    /// Whether this is JSON `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, OpValue::Json(Value::Null))
    }

    /// The integer this is, if it is one (a typed value never is).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_json().and_then(Value::as_i64)
    }

    /// The non-negative integer this is, if it is one (a typed value never is).
    pub fn as_u64(&self) -> Option<u64> {
        self.as_json().and_then(Value::as_u64)
    }

    /// Appends the JSON text serde_json writes for [`OpValue::to_json`], without building it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            OpValue::Json(v) => serde_json::to_writer(out, v).expect("a value serializes"),
            OpValue::Txn(mops) => {
                // Room for the common micro-op at once (the text is a request's).
                out.reserve(2 + 16 * mops.len());
                out.push(b'[');
                for (i, m) in mops.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    // One copy of a known length per name (not a copy of either length).
                    match m.f {
                        MicroF::Read => out.extend_from_slice(b"[\"r\","),
                        MicroF::Write => out.extend_from_slice(b"[\"w\","),
                        MicroF::Append => out.extend_from_slice(b"[\"append\","),
                    }
                    push_i64(out, m.key);
                    out.push(b',');
                    match &m.value {
                        MicroValue::Nil => out.extend_from_slice(b"null"),
                        MicroValue::Int(n) => push_i64(out, *n),
                        MicroValue::List(items) => push_i64_list(out, items.iter().copied()),
                    }
                    out.push(b']');
                }
                out.push(b']');
            }
            OpValue::KafkaSend { key, msg } => {
                out.extend_from_slice(b"[[\"send\",");
                push_key(out, *key);
                out.push(b',');
                push_i64(out, *msg);
                out.extend_from_slice(b"]]");
            }
            OpValue::KafkaSent { key, offset, msg } => {
                out.extend_from_slice(b"[[\"send\",");
                push_key(out, *key);
                out.push(b',');
                push_i64_list(out, [*offset, *msg]);
                out.extend_from_slice(b"]]");
            }
            OpValue::KafkaPoll => out.extend_from_slice(b"[[\"poll\"]]"),
            OpValue::KafkaPolled(keys) => {
                out.extend_from_slice(b"[[\"poll\",{");
                for (i, k) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    push_key(out, k.key);
                    out.extend_from_slice(b":[");
                    for (j, &(offset, msg)) in k.msgs.iter().enumerate() {
                        if j > 0 {
                            out.push(b',');
                        }
                        push_i64_list(out, [offset, msg]);
                    }
                    out.push(b']');
                }
                out.extend_from_slice(b"}]]");
            }
        }
    }
}

/// Whether key `a`'s text sorts before `b`'s (as a JSON map orders them: `"10" < "2"`).
fn key_text_less(a: u64, b: u64) -> bool {
    let (mut a_text, mut b_text) = (itoa::Buffer::new(), itoa::Buffer::new());
    a_text.format(a) < b_text.format(b)
}

/// Compact JSON text, as [`Value`]'s `Display` writes it.
impl std::fmt::Display for OpValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpValue::Json(v) => v.fmt(f),
            typed => {
                let mut text = Vec::new();
                typed.write_json(&mut text);
                f.write_str(std::str::from_utf8(&text).expect("JSON is UTF-8"))
            }
        }
    }
}

impl Serialize for OpValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for OpValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<OpValue, D::Error> {
        Value::deserialize(d).map(OpValue::Json)
    }
}

/// Appends a kafka key: its integer as a JSON string.
fn push_key(out: &mut Vec<u8>, key: u64) {
    out.push(b'"');
    push_u64(out, key);
    out.push(b'"');
}

/// Appends `[a,b,...]`.
fn push_i64_list(out: &mut Vec<u8>, items: impl IntoIterator<Item = i64>) {
    out.push(b'[');
    for (i, n) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_i64(out, n);
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_itoa_writes_them() {
        let mut n = 1i64;
        let mut cases = vec![0, 9, 10, 99, 100, -1, -10, i64::MIN, i64::MAX];
        while let Some(m) = n.checked_mul(3) {
            cases.extend([n, n + 1, -n]);
            n = m;
        }
        cases.extend(0..1000);
        for n in cases {
            let mut out = b"x".to_vec();
            push_i64(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    /// Random typed values, of every form, with keys that need escapes and extreme integers.
    fn random_typed(rng: &mut crate::Rng) -> OpValue {
        use rand::Rng as _;
        let ints = [0, 1, 9, 10, 12_345, -1, -77, i64::MAX, i64::MIN];
        let int = |rng: &mut crate::Rng| {
            if rng.gen_bool(0.5) {
                ints[rng.gen_range(0..ints.len())]
            } else {
                rng.gen_range(0..1_000)
            }
        };
        let keys = [0, 2, 10, 17, 100, 1_000_000_007, u64::MAX];
        let key = |rng: &mut crate::Rng| keys[rng.gen_range(0..keys.len())];
        match rng.gen_range(0..5) {
            0 => OpValue::Txn(
                (0..rng.gen_range(0..6))
                    .map(|_| {
                        let f = [MicroF::Read, MicroF::Write, MicroF::Append][rng.gen_range(0..3)];
                        let value = match rng.gen_range(0..3) {
                            0 => MicroValue::Nil,
                            1 => MicroValue::Int(int(rng)),
                            _ => MicroValue::List(Box::new(
                                (0..rng.gen_range(0..4)).map(|_| int(rng)).collect(),
                            )),
                        };
                        MicroOp {
                            key: int(rng),
                            value,
                            f,
                        }
                    })
                    .collect(),
            ),
            1 => OpValue::KafkaSend {
                key: key(rng),
                msg: int(rng),
            },
            2 => OpValue::KafkaSent {
                key: key(rng),
                offset: int(rng),
                msg: int(rng),
            },
            3 => OpValue::KafkaPoll,
            _ => {
                let keys = (0..rng.gen_range(0..5))
                    .map(|_| PolledKey {
                        key: key(rng),
                        msgs: (0..rng.gen_range(0..4))
                            .map(|_| (int(rng), int(rng)))
                            .collect(),
                    })
                    .collect();
                OpValue::kafka_polled(keys).unwrap_or(OpValue::KafkaPoll)
            }
        }
    }

    #[test]
    fn typed_values_are_written_as_serde_writes_their_json() {
        use rand::SeedableRng;
        let mut rng = crate::Rng::seed_from_u64(5);
        for _ in 0..2_000 {
            let typed = random_typed(&mut rng);
            let json = typed.to_json().into_owned();
            let expected = serde_json::to_string(&json).unwrap();
            let mut written = Vec::new();
            typed.write_json(&mut written);
            assert_eq!(String::from_utf8(written).unwrap(), expected);
            assert_eq!(typed.to_string(), expected);
            assert_eq!(serde_json::to_string(&typed).unwrap(), expected);
            assert_eq!(typed, json);
            // The JSON form reads back as the same typed value.
            assert_eq!(super::super::build::typed(&json), Some(typed));
        }
    }

    #[test]
    fn polled_keys_are_sorted_as_a_json_map_and_never_twice() {
        let key = |key| PolledKey {
            key,
            msgs: vec![(0, 1)],
        };
        let polled = OpValue::kafka_polled(vec![key(2), key(10), key(1)]);
        let Some(OpValue::KafkaPolled(keys)) = polled else {
            panic!("not a poll");
        };
        let names: Vec<u64> = keys.iter().map(|k| k.key).collect();
        assert_eq!(names, [1, 10, 2]);
        assert_eq!(OpValue::kafka_polled(vec![key(2), key(1), key(2)]), None);
        assert!(key_text_less(10, 2) && key_text_less(1, 10) && !key_text_less(3, 3));
    }

    #[test]
    fn kafka_keys_are_integers_in_decimal_form() {
        for (key, expected) in [
            ("0", Some(0)),
            ("17", Some(17)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", None),
            ("017", None),
            ("+1", None),
            ("-1", None),
            ("", None),
            ("1a", None),
            ("a\"b", None),
        ] {
            assert_eq!(kafka_key(key), expected, "{key}");
        }
    }

    #[test]
    fn a_micro_op_is_32_bytes_and_an_op_value_as_small_as_a_value() {
        assert_eq!(std::mem::size_of::<MicroOp>(), 32);
        assert_eq!(std::mem::size_of::<OpValue>(), std::mem::size_of::<Value>());
    }
}
