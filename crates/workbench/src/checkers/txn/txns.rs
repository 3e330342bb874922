//! A txn history turned into transactions: each client op's micro-ops (reads, writes or
//! appends), its outcome, and its place in process and real-time order.

use serde_json::Value;

use crate::checkers::int_table::IntTable;
use crate::history::{History, MicroF, MicroOp, MicroValue, OpType, OpValue, Process};

/// The value a read returned, for keys that hold a register.
pub const NIL: i64 = i64::MIN;

/// One micro-operation. Keys and values are integers (the workloads' response schemas
/// guarantee it for ok ops).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mop {
    /// A register read: the value, or [`NIL`] for a missing key (or an unknown value, in a
    /// transaction that did not complete ok).
    Read(i64, i64),
    /// A list read: `start..start+len` in [`Txns::lists`], or `None` when unknown.
    ReadList(i64, Option<(u32, u32)>),
    /// A register write or a list append.
    Write(i64, i64),
}

impl Mop {
    pub fn key(&self) -> i64 {
        match *self {
            Mop::Read(k, _) | Mop::ReadList(k, _) | Mop::Write(k, _) => k,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Fail,
    Info,
}

#[derive(Clone, Debug)]
pub struct Txn {
    /// How the transaction is named in explanations: `T<id>`, the history index of its
    /// completion (of its invocation when it never completed).
    pub id: usize,
    pub process: u64,
    pub outcome: Outcome,
    pub is_final: bool,
    /// Range in [`Txns::mops`].
    pub mops: (u32, u32),
}

/// Every client transaction of a history, in invocation order.
#[derive(Default)]
pub struct Txns {
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop>,
    pub lists: Vec<i64>,
    /// `(predecessor, successor)`: the successor was invoked after the predecessor completed
    /// ok, transitively reduced as the history allows (Elle's real-time graph).
    pub realtime: Vec<(u32, u32)>,
    /// `(earlier, later)`: consecutive ok transactions of one process.
    pub process: Vec<(u32, u32)>,
    /// Ops whose value is not a transaction of integers, with why (they are left out).
    pub malformed: Vec<(usize, String)>,
}

impl Txns {
    pub fn mops(&self, t: usize) -> &[Mop] {
        let (a, b) = self.txns[t].mops;
        &self.mops[a as usize..b as usize]
    }

    pub fn list(&self, range: (u32, u32)) -> &[i64] {
        &self.lists[range.0 as usize..(range.0 + range.1) as usize]
    }

    /// Reads the history: `lists` says whether reads return lists (list-append) or registers;
    /// `order` whether to compute the process and real-time orders (only models that
    /// prohibit their anomalies need them).
    pub fn from_history(history: &History, lists: bool, order: bool) -> Txns {
        let mut out = Txns::default();
        // Size the big vectors once: growing them copies and faults in fresh pages, which cost
        // as much as the parsing itself on large histories.
        let (mut ops, mut mops) = (0, 0);
        for op in &history.ops {
            if op.kind == OpType::Invoke {
                ops += 1;
                mops += match &op.value {
                    OpValue::Txn(m) => m.len(),
                    OpValue::Json(Value::Array(m)) => m.len(),
                    _ => 0,
                };
            }
        }
        out.txns.reserve_exact(ops);
        out.mops.reserve_exact(mops);
        // Open invocations by process: (txn index, position of the invocation in the history).
        // Process numbers are small and dense: tables, not hash maps; `processes` lists them
        // in the order first seen, for the invocations left open at the end.
        let mut open: IntTable<Option<(usize, usize)>> = IntTable::default();
        let mut processes: Vec<u64> = Vec::new();
        let mut last_ok_of_process: IntTable<u32> = IntTable::default();
        // Real-time order: the frontier of recently completed ok txns, and each txn's
        // predecessors (the frontier when it was invoked): `preds[pred_range[t]]`.
        let mut frontier: Vec<u32> = Vec::new();
        let mut preds: Vec<(u32, u32)> = Vec::new();
        let mut pred_range: Vec<(u32, u32)> = Vec::with_capacity(if order { ops } else { 0 });
        for (position, op) in history.ops.iter().enumerate() {
            let Process::Client(process) = op.process else {
                continue;
            };
            if op.kind == OpType::Invoke {
                let t = out.txns.len();
                if order {
                    let start = preds.len() as u32;
                    preds.extend(frontier.iter().map(|&p| (p, t as u32)));
                    pred_range.push((start, preds.len() as u32));
                }
                out.txns.push(Txn {
                    id: op.index,
                    process,
                    outcome: Outcome::Info,
                    is_final: op.is_final,
                    mops: (0, 0),
                });
                let slot = open.get_or_insert_with(process as i64, || {
                    processes.push(process);
                    None
                });
                *slot = Some((t, position));
                continue;
            }
            let Some((t, invoked_at)) = open.get_mut(process as i64).and_then(Option::take) else {
                continue;
            };
            let outcome = match op.kind {
                OpType::Ok => Outcome::Ok,
                OpType::Fail => Outcome::Fail,
                _ => Outcome::Info,
            };
            out.txns[t].outcome = outcome;
            if outcome == Outcome::Info {
                // What it wrote may have happened: keep the invocation's micro-ops.
                let invocation = &history.ops[invoked_at];
                out.set_mops(t, &invocation.value, lists, false, invocation.index);
                continue;
            }
            out.txns[t].id = op.index;
            if outcome == Outcome::Fail {
                let invocation = &history.ops[invoked_at];
                out.set_mops(t, &invocation.value, lists, false, invocation.index);
                continue;
            }
            out.set_mops(t, &op.value, lists, true, op.index);
            if order {
                let last = last_ok_of_process.get_or_insert_with(process as i64, || u32::MAX);
                if *last != u32::MAX {
                    out.process.push((*last, t as u32));
                }
                *last = t as u32;
                let (a, b) = pred_range[t];
                let mine = &preds[a as usize..b as usize];
                frontier.retain(|f| !mine.iter().any(|(p, _)| p == f));
                frontier.push(t as u32);
            }
        }
        // Invocations that never completed: indeterminate, with the invocation's micro-ops.
        let still_open = processes
            .iter()
            .filter_map(|&p| open.get(p as i64).copied().flatten());
        for (t, invoked_at) in still_open {
            let invocation = &history.ops[invoked_at];
            out.set_mops(t, &invocation.value, lists, false, invocation.index);
        }
        // Real-time edges into ok and info txns (a txn that failed did nothing).
        for (p, t) in preds {
            if out.txns[t as usize].outcome != Outcome::Fail {
                out.realtime.push((p, t));
            }
        }
        out
    }

    /// Parses `[[f, k, v], ...]` into micro-ops; reads are known only in an ok completion.
    fn set_mops(&mut self, t: usize, value: &OpValue, lists: bool, completed: bool, index: usize) {
        let (start, lists_start) = (self.mops.len(), self.lists.len());
        let parsed = match value {
            OpValue::Txn(mops) if self.push_typed(mops, lists, completed) => Ok(()),
            // Anything the typed reading does not take is judged as its JSON form.
            value => {
                self.mops.truncate(start);
                self.lists.truncate(lists_start);
                self.parse(&value.to_json(), lists, completed)
            }
        };
        match parsed {
            Ok(()) => self.txns[t].mops = (start as u32, self.mops.len() as u32),
            Err(why) => {
                self.mops.truncate(start);
                self.txns[t].mops = (start as u32, start as u32);
                self.malformed.push((index, why));
            }
        }
    }

    /// Pushes a typed transaction's micro-ops, as [`Txns::parse`] reads its JSON form; false
    /// (some pushed) when it holds what that reading refuses, to have it say why.
    fn push_typed(&mut self, mops: &[MicroOp], lists: bool, completed: bool) -> bool {
        for mop in mops {
            let key = mop.key;
            let parsed = match (mop.f, lists, &mop.value) {
                (MicroF::Read, false, _) if !completed => Mop::Read(key, NIL),
                (MicroF::Read, false, MicroValue::Nil) => Mop::Read(key, NIL),
                (MicroF::Read, false, &MicroValue::Int(n)) if n != NIL => Mop::Read(key, n),
                (MicroF::Read, true, _) if !completed => Mop::ReadList(key, None),
                (MicroF::Read, true, MicroValue::Nil) => Mop::ReadList(key, Some((0, 0))),
                (MicroF::Read, true, MicroValue::List(items)) => {
                    let start = self.lists.len() as u32;
                    self.lists.extend_from_slice(items);
                    Mop::ReadList(key, Some((start, items.len() as u32)))
                }
                (MicroF::Write, false, &MicroValue::Int(n))
                | (MicroF::Append, true, &MicroValue::Int(n)) => Mop::Write(key, n),
                _ => return false,
            };
            self.mops.push(parsed);
        }
        true
    }

    fn parse(&mut self, value: &Value, lists: bool, completed: bool) -> Result<(), String> {
        let mops = value
            .as_array()
            .ok_or("the value is not a list of micro-ops")?;
        for mop in mops {
            let parts = mop
                .as_array()
                .filter(|p| p.len() == 3)
                .ok_or_else(|| format!("{mop} is not a micro-op [f, k, v]"))?;
            let key = parts[1]
                .as_i64()
                .ok_or_else(|| format!("{mop}: the key is not an integer"))?;
            let f = parts[0].as_str().unwrap_or("");
            let v = &parts[2];
            let parsed = match (f, lists) {
                ("r", false) => Mop::Read(key, if completed { register(v, mop)? } else { NIL }),
                ("r", true) => {
                    if !completed || v.is_null() {
                        Mop::ReadList(key, if completed { Some((0, 0)) } else { None })
                    } else {
                        let items = v
                            .as_array()
                            .ok_or_else(|| format!("{mop}: the read is not a list"))?;
                        let start = self.lists.len() as u32;
                        for item in items {
                            self.lists.push(
                                item.as_i64()
                                    .ok_or_else(|| format!("{mop}: {item} is not an integer"))?,
                            );
                        }
                        Mop::ReadList(key, Some((start, items.len() as u32)))
                    }
                }
                ("w", false) | ("append", true) => Mop::Write(
                    key,
                    v.as_i64()
                        .ok_or_else(|| format!("{mop}: the value is not an integer"))?,
                ),
                _ => return Err(format!("{mop}: unknown function {:?}", parts[0])),
            };
            self.mops.push(parsed);
        }
        Ok(())
    }
}

fn register(v: &Value, mop: &Value) -> Result<i64, String> {
    if v.is_null() {
        return Ok(NIL);
    }
    match v.as_i64() {
        Some(n) if n != NIL => Ok(n),
        _ => Err(format!("{mop}: the read value is not an integer")),
    }
}
