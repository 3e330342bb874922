//! Why a key is not linearizable, said so a person can check it by hand.
//!
//! The explanation walks the key's events in history order keeping every configuration the
//! register could be in: a state plus the set of still-running ops already linearized (the
//! "just in time" linearization Knossos offers besides WGL). At the return of an op that no
//! configuration can linearize, the set becomes empty: that op is the culprit, and everything
//! before its return is the longest linearizable prefix.
//!
//! The window is then narrowed: the latest start such that, from *any* state the register could
//! be in at that start (forgetting how it got there), the ops running or invoked from there up
//! to the culprit's return still cannot be ordered.

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;

use super::budget::{Budget, Exhausted, Meter};
use super::model::{State, NULL};
use super::ops::{Event, KeyHistory};

/// A non-linearizable key, explained. Ops are named by their invocation's history index.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The op that cannot be ordered.
    pub op: usize,
    /// The smallest window of ops that cannot be ordered (the culprit included).
    pub window: Vec<usize>,
    /// The register's possible values when the window begins.
    pub states: Vec<Value>,
    /// The ops that had last finished when the window begins (the latest in real time).
    pub after: Vec<usize>,
    /// The key's history is linearizable up to (not including) this history index: the
    /// culprit's completion.
    pub linearizable_before: usize,
    /// How many of the key's ops had completed in that prefix.
    pub linearizable_prefix_ops: usize,
    /// One paragraph that says all of the above.
    pub message: String,
}

type Configs = HashSet<(State, Vec<u64>)>;

enum Walk {
    /// No configuration survives the return at this event position.
    Failed(usize),
    Survived,
}

/// What the walk saw just before each event (only what the window search needs).
struct Snapshot {
    states: Vec<State>,
    pending: Vec<u32>,
}

/// Explains a key the search found not linearizable. `None` if the walk finds it linearizable
/// after all (it cannot, unless the two disagree, which tests guard against).
pub fn explain(key: &KeyHistory, budget: &Budget) -> Result<Option<Failure>, Exhausted> {
    let mut meter = Meter::new(budget);
    let words = key.ops.len().div_ceil(64);
    let start: Configs = [(NULL, vec![0; words])].into_iter().collect();
    let mut snapshots = Vec::with_capacity(key.events.len());
    let failed_at = match walk(key, 0, start, Vec::new(), &mut meter, &mut snapshots)? {
        Walk::Failed(at) => at,
        Walk::Survived => return Ok(None),
    };
    let Event::Return(culprit) = key.events[failed_at] else {
        unreachable!("only a return can empty the configurations")
    };
    let call_at = key
        .events
        .iter()
        .position(|e| *e == Event::Call(culprit))
        .expect("every op has a call");

    // The latest start from which the window alone still fails. Starting just before a call
    // is the same as starting just after it, so only starts after a return (and the culprit's
    // own call) are tried. Start 0 (the whole prefix, from null) always fails.
    let mut window_start = 0;
    for s in (1..=call_at).rev() {
        let after_return = matches!(key.events[s - 1], Event::Return(_));
        if s != call_at && !after_return {
            continue;
        }
        let snapshot = &snapshots[s];
        let configs: Configs = snapshot
            .states
            .iter()
            .map(|&st| (st, vec![0; words]))
            .collect();
        let mut ignored = Vec::new();
        let walked = walk_until(
            key,
            s,
            failed_at,
            configs,
            snapshot.pending.clone(),
            &mut meter,
            &mut ignored,
        )?;
        if matches!(walked, Walk::Failed(_)) {
            window_start = s;
            break;
        }
    }
    Ok(Some(describe(
        key,
        culprit as usize,
        failed_at,
        window_start,
        &snapshots[window_start],
    )))
}

fn walk(
    key: &KeyHistory,
    from: usize,
    configs: Configs,
    pending: Vec<u32>,
    meter: &mut Meter,
    snapshots: &mut Vec<Snapshot>,
) -> Result<Walk, Exhausted> {
    walk_until(
        key,
        from,
        key.events.len() - 1,
        configs,
        pending,
        meter,
        snapshots,
    )
}

/// Walks events `from..=to`, pushing a snapshot before each.
fn walk_until(
    key: &KeyHistory,
    from: usize,
    to: usize,
    mut configs: Configs,
    mut pending: Vec<u32>,
    meter: &mut Meter,
    snapshots: &mut Vec<Snapshot>,
) -> Result<Walk, Exhausted> {
    let config_bytes = key.ops.len().div_ceil(64) * 8 + 48;
    for at in from..=to {
        let mut states: Vec<State> = configs.iter().map(|(s, _)| *s).collect();
        states.sort_unstable();
        states.dedup();
        snapshots.push(Snapshot {
            states,
            pending: pending.clone(),
        });
        match key.events[at] {
            Event::Call(op) => pending.push(op),
            Event::Return(op) => {
                configs = linearize(key, &configs, &pending, op, meter, config_bytes)?;
                pending.retain(|&p| p != op);
                if configs.is_empty() {
                    return Ok(Walk::Failed(at));
                }
            }
        }
    }
    Ok(Walk::Survived)
}

/// Every configuration in which `target` has been linearized, reached from `configs` by
/// linearizing running ops (in any order) up to and including `target`. `target` leaves the
/// returned sets, since it is no longer running.
fn linearize(
    key: &KeyHistory,
    configs: &Configs,
    pending: &[u32],
    target: u32,
    meter: &mut Meter,
    config_bytes: usize,
) -> Result<Configs, Exhausted> {
    let bit = |set: &[u64], op: u32| set[op as usize / 64] & (1 << (op % 64)) != 0;
    let mut out = Configs::new();
    let mut seen = Configs::new();
    let mut stack: Vec<(State, Vec<u64>)> = Vec::new();
    for config in configs {
        if bit(&config.1, target) {
            let mut set = config.1.clone();
            set[target as usize / 64] &= !(1 << (target % 64));
            out.insert((config.0, set));
        } else {
            stack.push(config.clone());
        }
    }
    while let Some((state, set)) = stack.pop() {
        meter.step()?;
        for &op in pending {
            if bit(&set, op) {
                continue;
            }
            let Some(next) = key.ops[op as usize].action.step(state) else {
                continue;
            };
            // As in the search: an indeterminate op that changes nothing need not go now.
            if next == state && !key.ops[op as usize].is_ok() {
                continue;
            }
            let mut next_set = set.clone();
            if op == target {
                if out.insert((next, next_set)) {
                    meter.charge(config_bytes)?;
                }
                continue;
            }
            next_set[op as usize / 64] |= 1 << (op % 64);
            if seen.insert((next, next_set.clone())) {
                meter.charge(config_bytes)?;
                stack.push((next, next_set));
            }
        }
    }
    Ok(out)
}

fn describe(
    key: &KeyHistory,
    culprit: usize,
    failed_at: usize,
    start: usize,
    snapshot: &Snapshot,
) -> Failure {
    let ops = &key.ops;
    // Event positions of each op's call and return.
    let mut called = vec![0; ops.len()];
    let mut returned = vec![usize::MAX; ops.len()];
    for (at, event) in key.events.iter().enumerate() {
        match *event {
            Event::Call(op) => called[op as usize] = at,
            Event::Return(op) => returned[op as usize] = at,
        }
    }
    // The window: ops running at its start, and those invoked from then to the failure.
    let mut window: Vec<usize> = snapshot.pending.iter().map(|&p| p as usize).collect();
    for event in &key.events[start..=failed_at] {
        if let Event::Call(op) = *event {
            window.push(op as usize);
        }
    }
    window.sort_unstable();
    window.dedup();

    // The ops that had finished before the window and that no other finished op followed.
    let finished: Vec<usize> = key.events[..start]
        .iter()
        .filter_map(|e| match *e {
            Event::Return(op) => Some(op as usize),
            Event::Call(_) => None,
        })
        .collect();
    let latest_call = finished.iter().map(|&op| called[op]).max().unwrap_or(0);
    let mut after: Vec<usize> = finished
        .iter()
        .copied()
        .filter(|&op| returned[op] > latest_call)
        .collect();
    after.sort_unstable();

    let states: Vec<Value> = snapshot
        .states
        .iter()
        .map(|&s| key.values.value(s).clone())
        .collect();
    let culprit_op = &ops[culprit];
    let linearizable_before = culprit_op
        .completed
        .expect("the culprit returned, so it completed");
    let prefix_ops = key.events[..failed_at]
        .iter()
        .filter(|e| matches!(e, Event::Return(_)))
        .count();

    let index_list = |list: &[usize]| -> String {
        let names: Vec<String> = list.iter().map(|&i| ops[i].index.to_string()).collect();
        match names.len() {
            0 => String::new(),
            1 => names[0].clone(),
            n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
        }
    };
    let state_list = {
        let texts: Vec<String> = states.iter().map(Value::to_string).collect();
        match texts.len() {
            1 => texts[0].clone(),
            n => format!("{} or {}", texts[..n - 1].join(", "), texts[n - 1]),
        }
    };
    let mut message = format!("key {}: ", key.key);
    if after.is_empty() {
        message += &format!("from the start the register is {state_list}; ");
    } else {
        let word = if after.len() == 1 { "op" } else { "ops" };
        message += &format!(
            "after {word} {} the register is {state_list}; ",
            index_list(&after)
        );
    }
    message += &key.describe(culprit);
    if start == called[culprit] && !after.is_empty() {
        let both = match after.len() {
            1 => "it",
            2 => "both",
            _ => "all of them",
        };
        message += &format!(" began after {both} finished");
    }
    let others: Vec<usize> = window.iter().copied().filter(|&i| i != culprit).collect();
    if others.is_empty() {
        message += " and cannot be ordered.";
    } else {
        let described: Vec<String> = others.iter().map(|&i| key.describe(i)).collect();
        message += &format!(
            ", and no order of it with {} explains what they returned.",
            described.join(", ")
        );
    }
    message += &format!(
        " The key's history is linearizable up to history index {linearizable_before} \
         ({prefix_ops} completed ops)."
    );
    Failure {
        op: culprit_op.index,
        window: window.iter().map(|&i| ops[i].index).collect(),
        states,
        after: after.iter().map(|&i| ops[i].index).collect(),
        linearizable_before,
        linearizable_prefix_ops: prefix_ops,
        message,
    }
}
