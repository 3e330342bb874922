//! Checkers: each reads a [`History`](crate::history::History) (and, for `net`, the message journal) and returns a
//! [`CheckResult`]. Shared checkers live here; a workload picks the one that fits it.

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

pub mod availability;
pub mod counter;
pub mod fast_hash;
pub mod int_table;
pub mod kafka;
pub mod linear;
pub mod op_summary;
pub mod set_full;
pub mod stats;
pub mod txn;
pub mod unique;

/// Jepsen's three-valued validity. Combining takes the worst: false > unknown > true.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    Valid,
    Unknown,
    Invalid,
}

impl Validity {
    pub fn worst(self, other: Validity) -> Validity {
        use Validity::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    pub fn from_bool(valid: bool) -> Validity {
        if valid {
            Validity::Valid
        } else {
            Validity::Invalid
        }
    }

    /// Exit status as Maelstrom's: 0 valid, 1 invalid, 2 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Validity::Valid => 0,
            Validity::Invalid => 1,
            Validity::Unknown => 2,
        }
    }

    pub fn to_json(self) -> Value {
        match self {
            Validity::Valid => Value::Bool(true),
            Validity::Invalid => Value::Bool(false),
            Validity::Unknown => Value::String("unknown".into()),
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> serde::Deserialize<'de> for Validity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Bool(true) => Ok(Validity::Valid),
            Value::Bool(false) => Ok(Validity::Invalid),
            Value::String(s) if s == "unknown" => Ok(Validity::Unknown),
            other => Err(serde::de::Error::custom(format!(
                "a verdict is true, false or \"unknown\", not {other}"
            ))),
        }
    }
}

/// One thing a checker found wrong, said so a person can act on it.
#[derive(Clone, Debug, Serialize)]
pub struct Anomaly {
    /// A short kebab-case name: `duplicated-id`, `lost`, `wrong-echo`, ...
    pub kind: String,
    /// One sentence that says what happened and what to look at.
    pub message: String,
    /// Indices of the history ops that show it (may be empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ops: Vec<usize>,
}

/// What a checker returns: a verdict, its figures (written to `results.json` as a map with
/// snake_case keys, beside `valid`), and the anomalies it found.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub valid: Validity,
    pub figures: Map<String, Value>,
    pub anomalies: Vec<Anomaly>,
}

impl CheckResult {
    pub fn new(valid: Validity) -> CheckResult {
        CheckResult {
            valid,
            figures: Map::new(),
            anomalies: Vec::new(),
        }
    }

    /// Adds a figure; `value` is anything serializable.
    pub fn with(mut self, key: &str, value: impl Serialize) -> CheckResult {
        self.set(key, value);
        self
    }

    pub fn set(&mut self, key: &str, value: impl Serialize) {
        self.figures.insert(
            key.to_string(),
            serde_json::to_value(value).expect("figures serialize"),
        );
    }

    pub fn anomaly(&mut self, kind: &str, message: impl Into<String>, ops: Vec<usize>) {
        self.anomalies.push(Anomaly {
            kind: kind.to_string(),
            message: message.into(),
            ops,
        });
    }

    /// The JSON written to `results.json`: `{"valid": .., <figures>.., "anomalies": [..]}`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("valid".into(), self.valid.to_json());
        for (k, v) in &self.figures {
            map.insert(k.clone(), v.clone());
        }
        if !self.anomalies.is_empty() {
            map.insert(
                "anomalies".into(),
                serde_json::to_value(&self.anomalies).expect("anomalies serialize"),
            );
        }
        Value::Object(map)
    }
}

/// The q-quantile of sorted values as Jepsen computes it: element `min(n-1, floor(n*q))`.
pub fn quantile<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let i = ((n as f64 * q).floor() as usize).min(n - 1);
    Some(sorted[i])
}

/// Jepsen's distribution at 0, 0.5, 0.95, 0.99 and 1, keyed as Maelstrom prints them, each
/// value divided by `unit` (e.g. [`crate::history::NANOS_PER_MS`] for ns to ms).
/// `values` ends up in some order (selected, not sorted: five selections cost less than a sort).
pub fn quantiles(values: &mut [u64], unit: u64) -> Map<String, Value> {
    let mut map = Map::new();
    let n = values.len();
    // Each selection leaves the values above the one selected to its right, where the next
    // (higher) quantile is, so each selects among fewer values.
    let mut below = 0;
    for (key, q) in QUANTILES {
        if n == 0 {
            break;
        }
        let i = ((n as f64 * q).floor() as usize).min(n - 1);
        let (_, &mut v, _) = values[below..].select_nth_unstable(i - below);
        below = i;
        map.insert(key.into(), Value::from(v / unit));
    }
    map
}

/// The quantiles [`quantiles`] gives, in increasing order.
const QUANTILES: [(&str, f64); 5] = [
    ("0", 0.0),
    ("0.5", 0.5),
    ("0.95", 0.95),
    ("0.99", 0.99),
    ("1", 1.0),
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The selections give what indexing the sorted values gives, on random values with and
    /// without repeats.
    #[test]
    fn quantiles_select_what_sorting_finds() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for round in 0..300 {
            let n = rng.gen_range(0..200);
            let range = [3, 1000, u64::MAX][round % 3];
            let mut values: Vec<u64> = (0..n).map(|_| rng.gen_range(0..range)).collect();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let mut expected = Map::new();
            for (key, q) in QUANTILES {
                if let Some(v) = quantile(&sorted, q) {
                    expected.insert(key.into(), Value::from(v / 7));
                }
            }
            assert_eq!(quantiles(&mut values, 7), expected, "{sorted:?}");
        }
    }
}
