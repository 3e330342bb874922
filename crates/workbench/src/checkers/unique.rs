//! Jepsen's unique-ids checker: among acknowledged `generate` ops no id may appear twice.

use std::collections::HashMap;

use serde_json::Value;

use super::{CheckResult, Validity};
use crate::history::{History, OpType};

/// How many duplicated ids the result lists (as Jepsen: 48).
const SHOWN_DUPLICATES: usize = 48;

pub fn check_unique_ids(history: &History) -> CheckResult {
    let attempted = history
        .client_ops()
        .filter(|op| op.kind == OpType::Invoke && op.f == "generate")
        .count();
    // id (as canonical JSON text) -> indices of the ok ops that returned it
    let mut seen: HashMap<String, Vec<usize>> = HashMap::new();
    let mut acknowledged = Vec::new();
    for op in history.client_ops() {
        if op.kind == OpType::Ok && op.f == "generate" {
            seen.entry(op.value.to_string()).or_default().push(op.index);
            acknowledged.push(op.value.to_json());
        }
    }
    let mut duplicated: Vec<(&String, &Vec<usize>)> =
        seen.iter().filter(|(_, ops)| ops.len() > 1).collect();
    duplicated.sort_by_key(|(_, ops)| ops[0]);

    let mut result = CheckResult::new(Validity::from_bool(duplicated.is_empty()));
    result.set("attempted_count", attempted);
    result.set("acknowledged_count", acknowledged.len());
    result.set("duplicated_count", duplicated.len());
    let shown: serde_json::Map<String, Value> = duplicated
        .iter()
        .take(SHOWN_DUPLICATES)
        .map(|(id, ops)| ((*id).clone(), Value::from(ops.len())))
        .collect();
    result.set("duplicated", shown);
    for (id, ops) in duplicated.iter().take(SHOWN_DUPLICATES) {
        result.anomaly(
            "duplicated-id",
            format!("id {id} was handed out {} times (ops {:?})", ops.len(), ops),
            (*ops).clone(),
        );
    }
    let acknowledged: Vec<&Value> = acknowledged.iter().map(|v| &**v).collect();
    match id_range(&acknowledged) {
        Ok(range) => result.set("range", range),
        Err(why) => {
            // Jepsen's range computation throws on mixed types; the result becomes unknown.
            result.valid = result.valid.worst(Validity::Unknown);
            result.anomaly("incomparable-ids", why, Vec::new());
        }
    }
    result
}

/// [min, max] of the ids, which must be all numbers or all strings to be ordered (as in Jepsen,
/// where comparing a number with a string or two maps throws).
fn id_range(ids: &[&Value]) -> Result<Value, String> {
    if ids.is_empty() {
        return Ok(Value::Null);
    }
    if ids.iter().all(|v| v.is_number()) {
        let key = |v: &&&Value| v.as_f64().unwrap_or(f64::NAN);
        let min = ids.iter().min_by(|a, b| key(a).total_cmp(&key(b))).unwrap();
        let max = ids.iter().max_by(|a, b| key(a).total_cmp(&key(b))).unwrap();
        return Ok(Value::Array(vec![(*min).clone(), (*max).clone()]));
    }
    if ids.iter().all(|v| v.is_string()) {
        let min = ids.iter().min_by_key(|v| v.as_str()).unwrap();
        let max = ids.iter().max_by_key(|v| v.as_str()).unwrap();
        return Ok(Value::Array(vec![(*min).clone(), (*max).clone()]));
    }
    if ids.len() == 1 {
        return Ok(Value::Array(vec![ids[0].clone(), ids[0].clone()]));
    }
    Err(
        "ids mix types (or are objects/arrays), so they cannot be ordered: Maelstrom's checker \
         would throw and report unknown; return all numbers or all strings"
            .into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::{history, op};
    use serde_json::json;

    fn generate(pairs: &[(u64, Value)]) -> History {
        let mut ops = Vec::new();
        for (i, (p, id)) in pairs.iter().enumerate() {
            ops.push(op(*p, OpType::Invoke, "generate", Value::Null, i as u64));
            ops.push(op(*p, OpType::Ok, "generate", id.clone(), i as u64 + 1));
        }
        history(ops)
    }

    #[test]
    fn distinct_ids_are_valid() {
        let r = check_unique_ids(&generate(&[(0, json!(1)), (1, json!(2)), (0, json!(3))]));
        assert_eq!(r.valid, Validity::Valid);
        assert_eq!(r.figures["acknowledged_count"], json!(3));
        assert_eq!(r.figures["range"], json!([1, 3]));
    }

    #[test]
    fn a_repeated_id_is_caught() {
        let r = check_unique_ids(&generate(&[
            (0, json!("a")),
            (1, json!("b")),
            (2, json!("a")),
        ]));
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.figures["duplicated_count"], json!(1));
        assert_eq!(r.anomalies[0].kind, "duplicated-id");
        assert_eq!(r.anomalies[0].ops, vec![1, 5]);
    }

    #[test]
    fn mixed_types_are_unknown() {
        let r = check_unique_ids(&generate(&[(0, json!(1)), (1, json!("b"))]));
        assert_eq!(r.valid, Validity::Unknown);
    }
}
