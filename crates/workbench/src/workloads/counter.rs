//! `g-counter` and `pn-counter`: nodes keep a counter that clients `add` deltas to and `read`.
//! After the main phase every worker reads once more (the final phase), and each final read must
//! equal the sum of the acknowledged adds plus some subset of the indeterminate ones.

use rand::Rng as _;
use serde_json::{Map, Value};

use super::{closed_schema, Invocation, Request, Workload};
use crate::checkers::counter::check_counter;
use crate::checkers::CheckResult;
use crate::history::History;
use crate::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Grow-only: deltas 0..=4.
    GCounter,
    /// Deltas -5..=4.
    PnCounter,
}

pub struct Counter {
    flavor: Flavor,
}

impl Counter {
    pub fn new(flavor: Flavor) -> Counter {
        Counter { flavor }
    }
}

impl Workload for Counter {
    fn name(&self) -> &'static str {
        match self.flavor {
            Flavor::GCounter => "g-counter",
            Flavor::PnCounter => "pn-counter",
        }
    }

    /// Maelstrom's pn-counter generator is a 50/50 mix of `add` (delta uniform in -5..=4) and
    /// `read`. g-counter wraps that generator in a filter that drops negative adds, and a
    /// dropped op makes the mix choose again, so g-counter emits adds with deltas 0..=4 a third
    /// of the time and reads two thirds of the time.
    fn next_op(&mut self, _worker: usize, rng: &mut Rng) -> Invocation {
        loop {
            if rng.gen_bool(0.5) {
                return Invocation::new("read", Value::Null);
            }
            let delta: i64 = rng.gen_range(-5..=4);
            if self.flavor == Flavor::GCounter && delta < 0 {
                continue;
            }
            return Invocation::new("add", Value::from(delta));
        }
    }

    fn has_final_phase(&self) -> bool {
        true
    }

    fn final_ops(&mut self) -> Vec<Invocation> {
        vec![Invocation::final_op("read", Value::Null)]
    }

    fn request(&self, op: &Invocation) -> Request {
        match op.f {
            "add" => Request::writer("add").field("delta", &op.value).finish(),
            _ => Request::writer("read").finish(),
        }
    }

    /// `add_ok` has no fields; `read_ok` has `value`, an integer (Maelstrom's client coerces it
    /// with `long`, so `5.0` fails the schema and an integer beyond 64 bits throws).
    fn response(&self, op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String> {
        match op.f {
            "add" => {
                closed_schema(reply, "add_ok", &[])?;
                // The history records an ok add with its delta, which the checker sums.
                Ok(op.value.to_json().into_owned())
            }
            _ => {
                closed_schema(reply, "read_ok", &["value"])?;
                let value = &reply["value"];
                match value.as_i64() {
                    Some(n) => Ok(Value::from(n)),
                    None => Err(format!(
                        "`value` must be an integer that fits in 64 bits, got {value}"
                    )),
                }
            }
        }
    }

    /// Any error reply or timeout, definite or not, becomes `info` (Maelstrom's counter client
    /// does not use the usual outcome mapping).
    fn errors_are_indeterminate(&self) -> bool {
        true
    }

    fn check(&self, history: &History) -> CheckResult {
        check_counter(history)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use serde_json::json;

    fn reply(v: Value) -> Map<String, Value> {
        serde_json::from_value(v).unwrap()
    }

    /// Draws `n` ops and returns (reads, add deltas).
    fn draw(flavor: Flavor, n: usize) -> (usize, Vec<i64>) {
        let mut counter = Counter::new(flavor);
        let mut rng = Rng::seed_from_u64(42);
        let mut reads = 0;
        let mut deltas = Vec::new();
        for _ in 0..n {
            let op = counter.next_op(0, &mut rng);
            assert!(!op.is_final);
            match op.f {
                "read" => {
                    assert_eq!(op.value, Value::Null);
                    reads += 1;
                }
                "add" => deltas.push(op.value.as_i64().unwrap()),
                other => panic!("unexpected f {other}"),
            }
        }
        (reads, deltas)
    }

    #[test]
    fn g_counter_generates_non_negative_adds_and_twice_as_many_reads() {
        let (reads, deltas) = draw(Flavor::GCounter, 30_000);
        assert!(deltas.iter().all(|d| (0..=4).contains(d)));
        for d in 0..=4 {
            assert!(deltas.contains(&d), "delta {d} never drawn");
        }
        let add_share = deltas.len() as f64 / (reads + deltas.len()) as f64;
        assert!(
            (add_share - 1.0 / 3.0).abs() < 0.02,
            "add share {add_share}"
        );
    }

    #[test]
    fn pn_counter_generates_an_even_mix_with_negative_deltas() {
        let (reads, deltas) = draw(Flavor::PnCounter, 30_000);
        assert!(deltas.iter().all(|d| (-5..=4).contains(d)));
        for d in -5..=4 {
            assert!(deltas.contains(&d), "delta {d} never drawn");
        }
        let add_share = deltas.len() as f64 / (reads + deltas.len()) as f64;
        assert!((add_share - 0.5).abs() < 0.02, "add share {add_share}");
    }

    #[test]
    fn names_and_final_phase() {
        let mut g = Counter::new(Flavor::GCounter);
        assert_eq!(g.name(), "g-counter");
        assert_eq!(Counter::new(Flavor::PnCounter).name(), "pn-counter");
        assert!(g.has_final_phase());
        assert_eq!(
            g.final_ops(),
            vec![Invocation::final_op("read", Value::Null)]
        );
        assert!(g.errors_are_indeterminate());
        assert!(!g.idempotent("read"));
        assert!(!g.reusable_client());
    }

    #[test]
    fn request_bodies() {
        let c = Counter::new(Flavor::PnCounter);
        assert_eq!(
            c.request(&Invocation::new("add", json!(-3))).to_value(),
            json!({"type": "add", "delta": -3})
        );
        assert_eq!(
            c.request(&Invocation::new("read", Value::Null)).to_value(),
            json!({"type": "read"})
        );
    }

    #[test]
    fn add_ok_schema_is_closed_and_records_the_delta() {
        let c = Counter::new(Flavor::PnCounter);
        let add = Invocation::new("add", json!(4));
        let ok = reply(json!({"type": "add_ok", "in_reply_to": 1}));
        assert_eq!(c.response(&add, &ok), Ok(json!(4)));
        let extra = reply(json!({"type": "add_ok", "in_reply_to": 1, "value": 4}));
        assert!(c.response(&add, &extra).is_err());
        let wrong_type = reply(json!({"type": "read_ok", "in_reply_to": 1}));
        assert!(c.response(&add, &wrong_type).is_err());
    }

    #[test]
    fn read_ok_value_must_be_an_integer() {
        let c = Counter::new(Flavor::GCounter);
        let read = Invocation::new("read", Value::Null);
        let ok = reply(json!({"type": "read_ok", "in_reply_to": 1, "msg_id": 7, "value": 5}));
        assert_eq!(c.response(&read, &ok), Ok(json!(5)));
        let negative = reply(json!({"type": "read_ok", "in_reply_to": 1, "value": -5}));
        assert_eq!(c.response(&read, &negative), Ok(json!(-5)));
        for bad in [json!(5.0), json!("5"), Value::Null, json!(u64::MAX)] {
            let r = reply(json!({"type": "read_ok", "in_reply_to": 1, "value": bad}));
            assert!(c.response(&read, &r).is_err(), "{bad} accepted");
        }
        let missing = reply(json!({"type": "read_ok", "in_reply_to": 1}));
        assert!(c.response(&read, &missing).is_err());
        let extra = reply(json!({"type": "read_ok", "in_reply_to": 1, "value": 5, "x": 1}));
        assert!(c.response(&read, &extra).is_err());
    }
}
