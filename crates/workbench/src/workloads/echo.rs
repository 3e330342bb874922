//! `echo`: each request carries a string the node must send back unchanged.

use rand::Rng as _;
use serde_json::{Map, Value};

use super::{closed_schema, Invocation, Request, Workload};
use crate::checkers::{CheckResult, Validity};
use crate::history::{History, OpType};
use crate::Rng;

pub struct Echo;

impl Workload for Echo {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn next_op(&mut self, _worker: usize, rng: &mut Rng) -> Invocation {
        let n: u32 = rng.gen_range(0..128);
        Invocation::new("echo", Value::String(format!("Please echo {n}")))
    }

    fn request(&self, op: &Invocation) -> Request {
        Request::writer("echo").field("echo", &op.value).finish()
    }

    fn response(&self, _op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String> {
        closed_schema(reply, "echo_ok", &["echo"])?;
        Ok(reply["echo"].clone())
    }

    fn check(&self, history: &History) -> CheckResult {
        check_echo(history)
    }
}

/// Every invocation must complete ok with exactly the value it sent.
pub fn check_echo(history: &History) -> CheckResult {
    let mut result = CheckResult::new(Validity::Valid);
    let mut errors = 0usize;
    for pair in history.pairs() {
        let sent = &pair.invoke.value;
        match pair.completion {
            Some(done) if done.kind == OpType::Ok && &done.value == sent => {}
            Some(done) if done.kind == OpType::Ok => {
                errors += 1;
                result.anomaly(
                    "wrong-echo",
                    format!(
                        "sent {sent} but the node echoed {} (op {})",
                        done.value, done.index
                    ),
                    vec![pair.invoke.index, done.index],
                );
            }
            Some(done) => {
                errors += 1;
                let why = done.error.clone().unwrap_or(Value::Null);
                result.anomaly(
                    "no-echo",
                    format!(
                        "echo of {sent} did not succeed ({:?}, error {why}): every echo must be answered",
                        done.kind
                    ),
                    vec![pair.invoke.index, done.index],
                );
            }
            None => {
                errors += 1;
                result.anomaly(
                    "no-echo",
                    format!("echo of {sent} was never answered before the test ended"),
                    vec![pair.invoke.index],
                );
            }
        }
    }
    if errors > 0 {
        result.valid = Validity::Invalid;
    }
    result.set("error_count", errors);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::{history, op};
    use serde_json::json;

    #[test]
    fn matching_echoes_are_valid() {
        let h = history(vec![
            op(0, OpType::Invoke, "echo", json!("Please echo 1"), 0),
            op(0, OpType::Ok, "echo", json!("Please echo 1"), 1),
        ]);
        assert_eq!(check_echo(&h).valid, Validity::Valid);
    }

    #[test]
    fn a_mangled_echo_is_caught() {
        let h = history(vec![
            op(0, OpType::Invoke, "echo", json!("Please echo 1"), 0),
            op(0, OpType::Ok, "echo", json!("Please echo 2"), 1),
        ]);
        let r = check_echo(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies[0].kind, "wrong-echo");
        assert_eq!(r.anomalies[0].ops, vec![0, 1]);
    }

    #[test]
    fn a_timeout_fails_the_echo() {
        let h = history(vec![
            op(0, OpType::Invoke, "echo", json!("Please echo 1"), 0),
            op(0, OpType::Info, "echo", Value::Null, 5000),
            op(1, OpType::Invoke, "echo", json!("Please echo 3"), 0),
        ]);
        let r = check_echo(&h);
        assert_eq!(r.valid, Validity::Invalid);
        assert_eq!(r.anomalies.len(), 2);
    }

    #[test]
    fn schema_is_closed() {
        let ok: Map<String, Value> =
            serde_json::from_value(json!({"type": "echo_ok", "in_reply_to": 1, "echo": "x"}))
                .unwrap();
        let op = Invocation::new("echo", json!("x"));
        assert_eq!(Echo.response(&op, &ok), Ok(json!("x")));
        let extra: Map<String, Value> = serde_json::from_value(
            json!({"type": "echo_ok", "in_reply_to": 1, "echo": "x", "extra": 1}),
        )
        .unwrap();
        assert!(Echo.response(&op, &extra).unwrap_err().contains("extra"));
        let no_reply_to: Map<String, Value> =
            serde_json::from_value(json!({"type": "echo_ok", "echo": "x"})).unwrap();
        assert!(Echo.response(&op, &no_reply_to).is_err());
    }
}
