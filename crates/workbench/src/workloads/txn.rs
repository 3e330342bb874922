//! `txn-rw-register` and `txn-list-append`: clients run transactions of reads and writes (or
//! appends) over integer keys, `txn {txn: [[f, k, v], ...]}` → `txn_ok {txn: [...]}`, and Elle's
//! checker (ours, [`crate::checkers::txn`]) judges the history against `--consistency-models`.
//!
//! Unlike Maelstrom, rw-register has a final phase: after healing, every worker reads every
//! key that was written, so the value each key ends with orders that key's other writes before
//! it (the write-write dependencies G0 needs, which inference alone rarely finds).

use rand::Rng as _;
use serde_json::{Map, Value};

use super::compact::Compact;
use super::{
    closed_schema, pow2_vec, Completion, Invocation, ReplyText, Request, Step, Workload,
    WorkloadOptions,
};
use crate::checkers::txn::{self, Flavor};
use crate::checkers::CheckResult;
use crate::history::{History, MicroF, MicroOp, MicroValue, OpValue};
use crate::Rng;

mod text;

/// How many keys one final-read transaction reads.
const FINAL_READ_CHUNK: usize = 64;

pub struct Txn {
    flavor: Flavor,
    models: Vec<String>,
    max_txn_length: usize,
    max_writes_per_key: usize,
    /// The active keys by slot; slot i is drawn with probability proportional to 2^i.
    slots: Vec<i64>,
    /// `2^n - 1` for the n slots (see [`Txn::slot`]).
    slot_span: f64,
    /// Writes generated so far to each active slot's key.
    writes: Vec<usize>,
    next_key: i64,
    /// Every key written so far, for the final reads.
    written: std::collections::BTreeSet<i64>,
}

impl Txn {
    /// Fails on an unknown consistency model (before the run starts), naming the known ones.
    pub fn new(opts: &WorkloadOptions, flavor: Flavor) -> anyhow::Result<Txn> {
        let models = txn::parse_models(&opts.consistency_models).map_err(anyhow::Error::msg)?;
        let key_count = opts.key_count.unwrap_or(10).max(1);
        anyhow::ensure!(
            opts.max_txn_length >= 1,
            "--max-txn-length must be at least 1"
        );
        anyhow::ensure!(
            opts.max_writes_per_key >= 1,
            "--max-writes-per-key must be at least 1"
        );
        Ok(Txn {
            flavor,
            models,
            max_txn_length: opts.max_txn_length,
            max_writes_per_key: opts.max_writes_per_key,
            slots: (0..key_count as i64).collect(),
            slot_span: 2f64.powi(key_count as i32) - 1.0,
            writes: vec![0; key_count],
            next_key: key_count as i64,
            written: Default::default(),
        })
    }

    fn write_f(&self) -> MicroF {
        match self.flavor {
            Flavor::RwRegister => MicroF::Write,
            Flavor::ListAppend => MicroF::Append,
        }
    }

    /// Slot i with probability 2^i / (2^n - 1).
    fn slot(&self, rng: &mut Rng) -> usize {
        let u = 1.0 + rng.gen::<f64>() * self.slot_span;
        floor_log2(u).min(self.slots.len() - 1)
    }
}

/// `u.log2().floor() as usize` for `u >= 1`, read from `u`'s exponent: `u = 2^k * m` with
/// `1 <= m < 2` has `floor(log2 u) = k`. Only when `m` is within 2^-20 of 2 might a rounded
/// `log2` reach `k + 1`, so those few ask `log2` itself (then the result is the same bits).
fn floor_log2(u: f64) -> usize {
    const MANTISSA: u64 = (1 << 52) - 1;
    let bits = u.to_bits();
    if u >= 1.0 && u.is_finite() && bits & MANTISSA < MANTISSA - (1 << 32) {
        ((bits >> 52) - 1023) as usize
    } else {
        u.log2().floor() as usize
    }
}

impl Workload for Txn {
    fn name(&self) -> &'static str {
        match self.flavor {
            Flavor::RwRegister => "txn-rw-register",
            Flavor::ListAppend => "txn-list-append",
        }
    }

    /// Elle's generator: length uniform in 1..=max, each micro-op a read or a write with equal
    /// odds, on a key drawn by slot; each key takes values 1, 2, 3, ... and is replaced by a
    /// fresh key after `--max-writes-per-key` writes.
    fn next_op(&mut self, _worker: usize, rng: &mut Rng) -> Invocation {
        let len = rng.gen_range(1..=self.max_txn_length);
        let mut mops = pow2_vec(len);
        for _ in 0..len {
            let slot = self.slot(rng);
            let key = self.slots[slot];
            if rng.gen_bool(0.5) {
                mops.push(micro_op(MicroF::Read, key, MicroValue::Nil));
            } else {
                self.writes[slot] += 1;
                let value = MicroValue::Int(self.writes[slot] as i64);
                mops.push(micro_op(self.write_f(), key, value));
                // A key is written only through its slot, 1, 2, 3, ...: note it on the first.
                if self.writes[slot] == 1 {
                    self.written.insert(key);
                }
                if self.writes[slot] >= self.max_writes_per_key {
                    self.slots[slot] = self.next_key;
                    self.writes[slot] = 0;
                    self.next_key += 1;
                }
            }
        }
        Invocation::new("txn", OpValue::Txn(mops))
    }

    fn has_final_phase(&self) -> bool {
        self.flavor == Flavor::RwRegister
    }

    /// Every written key, read once more by every worker (so by every node).
    fn final_ops(&mut self) -> Vec<Invocation> {
        let keys: Vec<i64> = self.written.iter().copied().collect();
        keys.chunks(FINAL_READ_CHUNK)
            .map(|chunk| {
                let mut mops = pow2_vec(chunk.len());
                mops.extend(
                    chunk
                        .iter()
                        .map(|&k| micro_op(MicroF::Read, k, MicroValue::Nil)),
                );
                Invocation::final_op("txn", OpValue::Txn(mops))
            })
            .collect()
    }

    fn request(&self, op: &Invocation) -> Request {
        Request::writer("txn")
            .field_with("txn", |out| op.value.write_json(out))
            .finish()
    }

    /// `txn_ok {txn}`: the request's micro-ops in order, each `[f, k, v]` with the same f and
    /// k, writes echoed, reads filled with null or an integer (a list of integers for
    /// list-append).
    fn response(&self, op: &Invocation, reply: &Map<String, Value>) -> Result<Value, String> {
        closed_schema(reply, "txn_ok", &["txn"])?;
        self.check_txn(op, &reply["txn"])?;
        Ok(reply["txn"].clone())
    }

    /// A well-formed `txn_ok` read from the text; anything else goes the map's way.
    fn on_reply_text(&mut self, worker: usize, op: &Invocation, reply: ReplyText<'_>) -> Step {
        let txn = reply.closed("txn_ok", ["txn"]).and_then(|[txn]| {
            match (self.flavor, reply.micro_ops(txn), &op.value) {
                // Micro-ops the wire check already read.
                (Flavor::RwRegister, Some(got), OpValue::Txn(sent)) => text::read_rw_ops(sent, got),
                _ => self.read_txn(op, txn),
            }
        });
        match txn {
            Some(txn) => Step::Done(Completion::ok(OpValue::Txn(txn))),
            None => self.on_owned_reply(worker, op, reply.to_map()),
        }
    }

    fn reusable_client(&self) -> bool {
        true
    }

    fn check(&self, history: &History) -> CheckResult {
        txn::check(history, self.flavor, &self.models)
    }
}

impl Txn {
    /// A `txn_ok`'s `txn` read from its text against the request's micro-ops: the micro-ops
    /// [`Workload::response`] returns for it (as JSON), when the text is compact and the
    /// reply well formed; `None` for anything else (the map's way then judges it).
    fn read_txn(&self, op: &Invocation, text: &[u8]) -> Option<Vec<MicroOp>> {
        let OpValue::Txn(sent) = &op.value else {
            return None;
        };
        match self.flavor {
            Flavor::RwRegister => text::read_rw(sent, text),
            Flavor::ListAppend => self.read_txn_compact(sent, text),
        }
    }

    /// [`Txn::read_txn`] through the [`Compact`] cursor, for either flavor (rw-register's
    /// replies take [`text::read_rw`], which reads the same in one loop).
    fn read_txn_compact(&self, sent: &[MicroOp], text: &[u8]) -> Option<Vec<MicroOp>> {
        let mut text = Compact::new(text);
        text.eat(b'[')?;
        let mut mops = pow2_vec(sent.len());
        for (i, s) in sent.iter().enumerate() {
            if i > 0 {
                text.eat(b',')?;
            }
            // The reply must repeat the request's name and key. (A literal of known length
            // per name is compared in place; one of either length would call memcmp.)
            let named = match s.f {
                MicroF::Read => text.eat_literal(b"[\"r\","),
                MicroF::Write => text.eat_literal(b"[\"w\","),
                MicroF::Append => text.eat_literal(b"[\"append\","),
            };
            named.then_some(())?;
            text.int().filter(|&got| i64::try_from(got) == Ok(s.key))?;
            text.eat(b',')?;
            let value = if s.f != MicroF::Read {
                let MicroValue::Int(sent) = s.value else {
                    return None;
                };
                text.int().filter(|&got| i64::try_from(got) == Ok(sent))?;
                MicroValue::Int(sent)
            } else if text.eat_literal(b"null") {
                MicroValue::Nil
            } else {
                match self.flavor {
                    Flavor::RwRegister => MicroValue::Int(text.int()? as i64),
                    Flavor::ListAppend => MicroValue::List(Box::new(text.int_array()?)),
                }
            };
            text.eat(b']')?;
            mops.push(micro_op(s.f, s.key, value));
        }
        text.eat(b']')?;
        text.at_end().then_some(mops)
    }

    /// The reply's micro-ops against the request's (see [`Workload::response`]).
    fn check_txn(&self, op: &Invocation, got: &Value) -> Result<(), String> {
        let sent = op.value.to_json();
        let sent = sent.as_array().map(Vec::as_slice).unwrap_or(&[]);
        let got = got.as_array().ok_or("`txn` must be a list of micro-ops")?;
        if got.len() != sent.len() {
            return Err(format!(
                "`txn` has {} micro-ops, the request had {}",
                got.len(),
                sent.len()
            ));
        }
        for (s, g) in sent.iter().zip(got) {
            let parts = g
                .as_array()
                .filter(|p| p.len() == 3)
                .ok_or_else(|| format!("micro-op {g} is not a 3-element array"))?;
            if parts[0] != s[0] || parts[1] != s[1] {
                return Err(format!("micro-op {g} does not match the request's {s}"));
            }
            let v = &parts[2];
            if s[0] != "r" {
                if *v != s[2] {
                    return Err(format!("write {g} does not echo the request's {s}"));
                }
                continue;
            }
            let fits = match self.flavor {
                Flavor::RwRegister => v.is_null() || v.is_i64(),
                Flavor::ListAppend => {
                    v.is_null() || v.as_array().is_some_and(|l| l.iter().all(Value::is_i64))
                }
            };
            if !fits {
                return Err(format!("read {g} has a value of the wrong type"));
            }
        }
        Ok(())
    }
}

/// A micro-op `[f, key, value]`.
fn micro_op(f: MicroF, key: i64, value: MicroValue) -> MicroOp {
    MicroOp { key, value, f }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::build::txn as txn_value;
    use rand::SeedableRng;
    use serde_json::json;

    fn workload(flavor: Flavor, models: &str) -> anyhow::Result<Txn> {
        let mut opts = WorkloadOptions::new(2);
        opts.consistency_models = models.into();
        Txn::new(&opts, flavor)
    }

    #[test]
    fn unknown_models_are_refused_naming_the_known_ones() {
        let e = workload(Flavor::RwRegister, "read-comitted")
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.contains("read-committed") && e.contains("serializable"),
            "{e}"
        );
        assert!(workload(Flavor::ListAppend, "read-committed").is_ok());
    }

    #[test]
    fn generator_lengths_mix_slots_and_unique_values() {
        let mut w = workload(Flavor::RwRegister, "read-committed").unwrap();
        let mut rng = Rng::seed_from_u64(7);
        let (mut reads, mut writes) = (0, 0);
        let mut lens = [0usize; 5];
        let mut seen = std::collections::BTreeSet::new();
        let mut per_key: std::collections::BTreeMap<i64, usize> = Default::default();
        for _ in 0..20_000 {
            let op = w.next_op(0, &mut rng);
            let value = op.value.to_json();
            let mops = value.as_array().unwrap();
            lens[mops.len()] += 1;
            for m in mops {
                let k = m[1].as_i64().unwrap();
                if m[0] == "r" {
                    reads += 1;
                    assert!(m[2].is_null());
                } else {
                    writes += 1;
                    assert!(seen.insert((k, m[2].as_i64().unwrap())), "value reused");
                    *per_key.entry(k).or_default() += 1;
                }
            }
        }
        assert_eq!(lens[0], 0);
        for n in &lens[1..] {
            assert!((*n as f64 / 20_000.0 - 0.25).abs() < 0.02, "{lens:?}");
        }
        assert!((reads as f64 / (reads + writes) as f64 - 0.5).abs() < 0.02);
        assert!(per_key.values().all(|n| *n <= 16));
        // Keys are retired and replaced by fresh ones.
        assert!(per_key.len() > 100, "{}", per_key.len());
        let finals = w.final_ops();
        let read_keys: usize = finals
            .iter()
            .map(|f| f.value.to_json().as_array().unwrap().len())
            .sum();
        assert_eq!(read_keys, per_key.len());
        assert!(finals.iter().all(|f| f.is_final));
    }

    #[test]
    fn the_last_slot_is_drawn_about_half_the_time() {
        let w = workload(Flavor::RwRegister, "read-committed").unwrap();
        let mut rng = Rng::seed_from_u64(3);
        let last = (0..20_000).filter(|_| w.slot(&mut rng) == 9).count();
        assert!((last as f64 / 20_000.0 - 0.5).abs() < 0.02, "{last}");
    }

    #[test]
    fn floor_log2_is_log2_floored() {
        let mut rng = Rng::seed_from_u64(11);
        let check = |u: f64| assert_eq!(floor_log2(u), u.log2().floor() as usize, "{u:e}");
        for _ in 0..200_000 {
            check(1.0 + rng.gen::<f64>() * (2f64.powi(rng.gen_range(1..40)) - 1.0));
        }
        for k in 0..64 {
            let p = 2f64.powi(k);
            for u in [p, p * 1.5, 2.0 * p, f64::from_bits((2.0 * p).to_bits() - 1)] {
                check(u);
            }
            // Just below and above the fast path's bound.
            let b = p.to_bits() | ((1u64 << 52) - 1 - (1 << 32));
            for d in [0, 1, 2] {
                check(f64::from_bits(b - d));
                check(f64::from_bits(b + d));
            }
        }
    }

    #[test]
    fn txn_read_from_text_is_what_the_map_records() {
        let rw = workload(Flavor::RwRegister, "read-committed").unwrap();
        let op = Invocation::new(
            "txn",
            txn_value(json!([["r", 1, null], ["w", 2, 3], ["r", 2, null]])),
        );
        for text in [
            r#"[["r",1,null],["w",2,3],["r",2,3]]"#,
            r#"[["r",1,9223372036854775807],["w",2,3],["r",2,null]]"#,
        ] {
            let parsed: Value = serde_json::from_str(text).unwrap();
            let read = rw.read_txn(&op, text.as_bytes()).map(OpValue::Txn);
            assert_eq!(read.unwrap(), parsed, "{text}");
        }
        // Malformed or unusual replies are left to the map's way.
        for text in [
            r#"[["r",1,null],["w",2,4],["r",2,3]]"#,
            r#"[["r",1,null],["w",2,3]]"#,
            r#"[["r",1,null],["w",2,3],["r",2,3],["r",1,null]]"#,
            r#"[["r",1,1.0],["w",2,3],["r",2,3]]"#,
            r#"[["r",1,-1],["w",2,3],["r",2,3]]"#,
            r#"[["r",1,[1]],["w",2,3],["r",2,3]]"#,
            r#"[["r",3,null],["w",2,3],["r",2,3]]"#,
            r#"[["r", 1,null],["w",2,3],["r",2,3]]"#,
            r#"[["w",1,null],["w",2,3],["r",2,3]]"#,
            r#"[["r",1,null],["r",2,3],["r",2,3]]"#,
            r#"[["r",1,null],["append",2,3],["r",2,3]]"#,
            r#"[["r",1,null],["w,2,3],["r",2,3]]"#,
        ] {
            assert_eq!(rw.read_txn(&op, text.as_bytes()), None, "{text}");
        }
        let la = workload(Flavor::ListAppend, "read-committed").unwrap();
        let op = Invocation::new("txn", txn_value(json!([["r", 1, null], ["append", 2, 3]])));
        let text = r#"[["r",1,[1,2]],["append",2,3]]"#;
        let parsed: Value = serde_json::from_str(text).unwrap();
        let read = la.read_txn(&op, text.as_bytes()).map(OpValue::Txn);
        assert_eq!(read.unwrap(), parsed);
        assert_eq!(la.read_txn(&op, br#"[["r",1,2],["append",2,3]]"#), None);
    }

    #[test]
    fn txn_ok_schema_is_closed() {
        let w = workload(Flavor::RwRegister, "read-committed").unwrap();
        let op = Invocation::new("txn", txn_value(json!([["r", 1, null], ["w", 2, 3]])));
        assert_eq!(
            w.request(&op).to_value(),
            json!({"type": "txn", "txn": [["r", 1, null], ["w", 2, 3]]})
        );
        let reply = |txn: Value| -> Map<String, Value> {
            serde_json::from_value(json!({"type": "txn_ok", "in_reply_to": 1, "txn": txn})).unwrap()
        };
        let ok = reply(json!([["r", 1, 5], ["w", 2, 3]]));
        assert_eq!(w.response(&op, &ok), Ok(json!([["r", 1, 5], ["w", 2, 3]])));
        // A request from a typed transaction is the one its JSON form writes.
        let json_op = Invocation::new("txn", op.value.to_json().into_owned());
        assert_eq!(w.request(&op), w.request(&json_op));
        assert!(w
            .response(&op, &reply(json!([["r", 1, null], ["w", 2, 3]])))
            .is_ok());
        for bad in [
            json!([["r", 1, 5]]),
            json!([["r", 1, 5], ["w", 2, 4]]),
            json!([["r", 1, 5.0], ["w", 2, 3]]),
            json!([["r", 1], ["w", 2, 3]]),
            json!([["r", 2, 5], ["w", 2, 3]]),
            json!([["r", 1, [5]], ["w", 2, 3]]),
        ] {
            assert!(
                w.response(&op, &reply(bad.clone())).is_err(),
                "{bad} accepted"
            );
        }
        let mut extra = ok.clone();
        extra.insert("x".into(), json!(1));
        assert!(w.response(&op, &extra).is_err());
        let la = workload(Flavor::ListAppend, "read-committed").unwrap();
        let op = Invocation::new("txn", txn_value(json!([["r", 1, null], ["append", 2, 3]])));
        assert!(la
            .response(&op, &reply(json!([["r", 1, [1, 2]], ["append", 2, 3]])))
            .is_ok());
        assert!(la
            .response(&op, &reply(json!([["r", 1, 2], ["append", 2, 3]])))
            .is_err());
        assert!(!la.has_final_phase());
        assert!(la.reusable_client());
    }
}
