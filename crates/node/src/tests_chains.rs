//! Tests of the chain building blocks: closure timers, `defer`, `Join`, `Kv::update` and
//! `Kv::lock`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::tests::{ms, take_lines, take_logs};
use crate::tests_pitfalls::{deliver, keeper, Keeper};
use crate::*;

#[test]
fn run_after_runs_a_closure_with_the_node() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        ctx.run_after(ms(30), |node: &mut Keeper, ctx| {
            node.seen.push(format!("late @{}", ctx.now().as_millis()))
        });
        let early = ctx.run_after(ms(10), |node: &mut Keeper, _| {
            node.seen.push("never".into())
        });
        ctx.run_after(ms(20), move |node: &mut Keeper, ctx| {
            node.seen.push(format!("cancel @{}", ctx.now().as_millis()));
            ctx.cancel(early);
        });
        ctx.cancel(early);
    });
    assert_eq!(e.ctx().pending_timers(), 2);
    for t in (0..=100).step_by(10) {
        e.advance(ms(t));
    }
    assert_eq!(e.node().seen, ["cancel @20", "late @30"]);
    assert_eq!(e.ctx().pending_timers(), 0);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn run_every_repeats_until_it_cancels_itself() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        let mut left = 3;
        let id = std::rc::Rc::new(std::cell::Cell::new(None));
        let own = id.clone();
        let timer = ctx.run_every(ms(10), move |node: &mut Keeper, ctx| {
            node.seen.push(format!("tick @{}", ctx.now().as_millis()));
            left -= 1;
            if left == 0 {
                ctx.cancel(own.get().unwrap());
            }
        });
        id.set(Some(timer));
    });
    for t in (0..=100).step_by(5) {
        e.advance(ms(t));
    }
    assert_eq!(e.node().seen, ["tick @10", "tick @20", "tick @30"]);
    assert_eq!(e.next_deadline(), None);
}

#[test]
fn deferred_runs_once_the_last_holder_drops_it_on_any_path() {
    let mut e = keeper();
    for (i, reply) in [
        json!({"type": "ok", "in_reply_to": 1}),
        json!({"type": "error", "code": 14, "in_reply_to": 2}),
    ]
    .into_iter()
    .enumerate()
    {
        e.with_ctx(|_, ctx| {
            let guard =
                ctx.defer(move |node: &mut Keeper, _| node.seen.push(format!("released {i}")));
            ctx.call("n2", json!({"type": "work"})).then(
                move |node: &mut Keeper, _, r: Result<Value, RpcError>| {
                    let _guard = guard;
                    let Ok(_) = r else { return };
                    node.seen.push(format!("worked {i}"));
                },
            );
        });
        assert!(e
            .node()
            .seen
            .iter()
            .all(|s| !s.starts_with(&format!("released {i}"))));
        deliver(&mut e, "n2", reply, ms(1));
    }
    assert_eq!(e.node().seen, ["worked 0", "released 0", "released 1"]);
    // A cancelled guard runs nothing.
    e.with_ctx(|_, ctx| {
        ctx.defer(|node: &mut Keeper, _| node.seen.push("no".into()))
            .cancel()
    });
    assert_eq!(e.node().seen.len(), 3);
}

#[test]
fn join_continues_with_every_result_in_slot_order() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        let mut join = Join::new();
        for peer in ["n2", "n3"] {
            ctx.call(peer, json!({"type": "read"})).then(join.slot());
        }
        ctx.lin_kv().read_opt("k", {
            let slot = join.slot();
            move |node, ctx, r: Result<Option<u64>, KvError>| {
                slot(node, ctx, r.map(|v| json!(v)).map_err(RpcError::from))
            }
        });
        assert_eq!(join.len(), 3);
        join.then(
            ctx,
            |node: &mut Keeper, ctx, results: Vec<Result<Value, RpcError>>| {
                let shown: Vec<String> = results
                    .iter()
                    .map(|r| match r {
                        Ok(v) => v.to_string(),
                        Err(e) => e.code.name().to_string(),
                    })
                    .collect();
                node.seen
                    .push(format!("{} @{}", shown.join(" "), ctx.now().as_millis()));
            },
        );
    });
    deliver(
        &mut e,
        "lin-kv",
        json!({"type": "read_ok", "value": 9, "in_reply_to": 3}),
        ms(2),
    );
    deliver(
        &mut e,
        "n2",
        json!({"type": "read_ok", "in_reply_to": 1}),
        ms(3),
    );
    assert!(e.node().seen.is_empty());
    e.advance(Duration::from_secs(1));
    assert_eq!(
        e.node().seen,
        [r#"{"in_reply_to":1,"type":"read_ok"} timeout 9 @1000"#]
    );
}

#[test]
fn an_empty_join_continues_at_the_next_turn() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        let join: Join<Keeper, ()> = Join::new();
        join.then(ctx, |node, _, results| {
            node.seen.push(format!("{}", results.len()))
        });
    });
    assert!(e.node().seen.is_empty());
    e.advance(Duration::ZERO);
    assert_eq!(e.node().seen, ["0"]);
}

/// Answers every pending lin-kv request in the output with `answer(body)`.
fn serve(
    e: &mut Engine<Keeper>,
    at: Duration,
    mut answer: impl FnMut(&Value) -> Option<Value>,
) -> Vec<Value> {
    let out = take_lines(e);
    for msg in &out {
        if msg["dest"] == "lin-kv" {
            if let Some(mut reply) = answer(&msg["body"]) {
                reply["in_reply_to"] = msg["body"]["msg_id"].clone();
                deliver(e, "lin-kv", reply, at);
            }
        }
    }
    out
}

#[test]
fn update_retries_on_a_conflict_and_creates_a_missing_key() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        ctx.lin_kv().update(
            "k",
            3,
            |v: Option<&u64>| v.copied().unwrap_or(0) + 5,
            |node: &mut Keeper, _, r| node.seen.push(format!("{r:?}")),
        );
    });
    // Missing: created from null. A conflict: read again (now 10) and cas 10 -> 15.
    let mut stored: Option<u64> = None;
    let mut conflicts = 1;
    for _ in 0..4 {
        serve(&mut e, ms(1), |body| match body["type"].as_str().unwrap() {
            "read" => Some(match stored {
                Some(v) => json!({"type": "read_ok", "value": v}),
                None => json!({"type": "error", "code": 20}),
            }),
            "cas" if conflicts > 0 => {
                assert_eq!(body["create_if_not_exists"], true);
                conflicts -= 1;
                stored = Some(10);
                Some(json!({"type": "error", "code": 22, "text": "someone else"}))
            }
            "cas" => {
                assert_eq!(body["from"], json!(stored));
                stored = body["to"].as_u64();
                Some(json!({"type": "cas_ok"}))
            }
            other => panic!("{other}"),
        });
    }
    assert_eq!(e.node().seen, ["Ok(15)"]);
    assert_eq!(stored, Some(15));
}

#[test]
fn update_gives_up_after_its_tries_and_never_retries_a_cas_in_doubt() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        let record = |node: &mut Keeper, _: &mut Ctx<Keeper>, r: Result<u64, KvError>| {
            node.seen.push(format!("{r:?}"))
        };
        ctx.lin_kv().update(
            "a",
            2,
            |v: Option<&u64>| v.copied().unwrap_or(0) + 1,
            record,
        );
        ctx.lin_kv().update(
            "b",
            5,
            |v: Option<&u64>| v.copied().unwrap_or(0) + 1,
            record,
        );
    });
    let mut cas_seen = 0;
    for round in 0..5 {
        serve(&mut e, ms(round + 1), |body| {
            match (body["type"].as_str(), body["key"].as_str()) {
                (Some("read"), _) => Some(json!({"type": "read_ok", "value": 1})),
                (Some("cas"), Some("a")) => Some(json!({"type": "error", "code": 22})),
                (Some("cas"), _) => {
                    cas_seen += 1;
                    None // lost: the cas is in doubt
                }
                _ => None,
            }
        });
    }
    e.advance(Duration::from_secs(5));
    take_lines(&mut e);
    assert_eq!(cas_seen, 1);
    assert_eq!(
        e.node().seen,
        ["Err(PreconditionFailed(\"\"))", "Err(Timeout)"]
    );
}

#[test]
fn a_lock_waits_for_its_holder_and_is_released_on_every_path() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        ctx.lin_kv().lock("lock", |node: &mut Keeper, _, lock| {
            node.seen.push(format!(
                "got {}",
                lock.map(|l| l.key().to_string()).unwrap_or_default()
            ));
            // The lock is dropped here: released at once.
        });
    });
    let mut holder = String::from("someone");
    let mut log = Vec::new();
    for round in 0..6 {
        let at = ms(10 * (round + 1));
        serve(&mut e, at, |body| {
            let (from, to) = (body["from"].as_str().unwrap(), body["to"].as_str().unwrap());
            log.push(format!(
                "cas {from:?}->{}",
                if to.is_empty() { "free" } else { "token" }
            ));
            if from == holder {
                holder = to.to_string();
                Some(json!({"type": "cas_ok"}))
            } else {
                Some(json!({"type": "error", "code": 22}))
            }
        });
        if round == 1 {
            holder.clear(); // the other holder lets go
        }
        e.advance(at + ms(6));
    }
    assert_eq!(e.node().seen, ["got lock"]);
    assert_eq!(holder, "", "released");
    assert_eq!(
        log.iter().filter(|l| l.ends_with("->token")).count(),
        3,
        "{log:?}"
    );
    assert!(log.last().unwrap().ends_with("->free"), "{log:?}");
    assert_eq!(take_logs(&mut e), "");
}

#[test]
fn a_lock_held_too_long_fails_definitely() {
    let mut e = keeper();
    e.with_ctx(|_, ctx| {
        ctx.lin_kv()
            .timeout(ms(50))
            .lock("lock", |node: &mut Keeper, _, lock| {
                let e = lock.unwrap_err();
                node.seen
                    .push(format!("{} definite={}", e.code(), e.is_definite()));
            });
    });
    for round in 0..40 {
        let at = ms(5 * (round + 1));
        serve(&mut e, at, |_| Some(json!({"type": "error", "code": 22})));
        e.advance(at + ms(5));
    }
    assert_eq!(
        e.node().seen,
        ["temporarily-unavailable (11) definite=true"]
    );
}

#[test]
fn then_ok_gives_every_value_or_the_first_error() {
    let mut e = keeper();
    for fail in [false, true] {
        e.with_ctx(|_, ctx| {
            let mut join = Join::new();
            for peer in ["n2", "n3"] {
                ctx.call(peer, json!({"type": "read"})).then(join.slot());
            }
            join.then_ok(
                ctx,
                |node: &mut Keeper, _, r: Result<Vec<Value>, RpcError>| {
                    node.seen.push(match r {
                        Ok(values) => format!("ok {}", values.len()),
                        Err(e) => format!("err {}", e.code.code()),
                    })
                },
            );
        });
        let out = take_lines(&mut e);
        for msg in out {
            let id = msg["body"]["msg_id"].clone();
            let body = if fail && msg["dest"] == "n3" {
                json!({"type": "error", "code": 11, "in_reply_to": id})
            } else {
                json!({"type": "read_ok", "in_reply_to": id})
            };
            deliver(&mut e, msg["dest"].as_str().unwrap(), body, ms(1));
        }
    }
    assert_eq!(e.node().seen, ["ok 2", "err 11"]);
}

#[test]
fn in_turn_starts_each_step_after_the_previous_and_stops_at_the_first_error() {
    let mut e = keeper();
    for fail_at in [None, Some(1)] {
        e.with_ctx(|node, ctx| {
            let step = |node: &mut Keeper, ctx: &mut Ctx<Keeper>, item: u64, done| {
                node.seen.push(format!("start {item}"));
                // Each value holds a guard, to see that the values are dropped on an error.
                let guard =
                    ctx.defer(move |node: &mut Keeper, _| node.seen.push(format!("drop {item}")));
                let done: StepDone<Keeper, (u64, Deferred<Keeper>), RpcError> = done;
                ctx.call("n2", json!({"type": "work", "item": item})).then(
                    move |node: &mut Keeper, ctx, r: Result<Value, RpcError>| {
                        done(node, ctx, r.map(|_| (item, guard)))
                    },
                );
            };
            in_turn(node, ctx, [0, 1, 2], step, |node: &mut Keeper, _, r| {
                node.seen.push(match r {
                    Ok(values) => {
                        format!("ok {:?}", values.iter().map(|v| v.0).collect::<Vec<_>>())
                    }
                    Err(e) => format!("err {}", e.code.code()),
                });
            });
        });
        for round in 0..3 {
            let out = take_lines(&mut e);
            if out.is_empty() {
                break;
            }
            assert_eq!(out.len(), 1, "one step at a time: {out:?}");
            let body = if fail_at == Some(round) {
                json!({"type": "error", "code": 11})
            } else {
                json!({"type": "work_ok"})
            };
            let mut body = body;
            body["in_reply_to"] = out[0]["body"]["msg_id"].clone();
            deliver(&mut e, "n2", body, ms(round + 1));
        }
    }
    assert_eq!(
        e.node().seen,
        [
            "start 0",
            "start 1",
            "start 2",
            "ok [0, 1, 2]",
            "drop 0",
            "drop 1",
            "drop 2",
            // The second run: item 1 fails, item 2 never starts, item 0's guard is dropped
            // (guards run right after the continuation that dropped them).
            "start 0",
            "start 1",
            "err 11",
            "drop 1",
            "drop 0",
        ]
    );
}

#[test]
fn in_turn_copes_with_steps_that_finish_at_once_and_with_no_items() {
    let mut e = keeper();
    e.with_ctx(|node, ctx| {
        let step = |_: &mut Keeper, ctx: &mut Ctx<Keeper>, item: u64, done: StepDone<_, _, ()>| {
            done(&mut Keeper::default(), ctx, Ok(item * 10))
        };
        in_turn(node, ctx, [1, 2, 3], step, |node: &mut Keeper, _, r| {
            node.seen.push(format!("{r:?}"))
        });
        in_turn(
            node,
            ctx,
            Vec::<u64>::new(),
            |_: &mut Keeper, _, _, _: StepDone<_, u64, ()>| unreachable!(),
            |node: &mut Keeper, _, r| node.seen.push(format!("{r:?}")),
        );
    });
    e.advance(ms(0));
    assert_eq!(e.node().seen, ["Ok([])", "Ok([10, 20, 30])"]);
}

/// A lin-kv store for the value-lock tests: serves every request in the output, unless
/// `lose` says to drop it.
fn serve_store(
    e: &mut Engine<Keeper>,
    at: Duration,
    store: &mut std::collections::BTreeMap<String, Value>,
    mut lose: impl FnMut(&Value) -> bool,
) -> Vec<String> {
    let mut log = Vec::new();
    serve(e, at, |body| {
        let key = body["key"].as_str().unwrap().to_string();
        log.push(format!("{} {key}", body["type"].as_str().unwrap()));
        let reply = match body["type"].as_str().unwrap() {
            "read" => match store.get(&key) {
                Some(v) => json!({"type": "read_ok", "value": v}),
                None => json!({"type": "error", "code": 20}),
            },
            "write" => {
                store.insert(key, body["value"].clone());
                json!({"type": "write_ok"})
            }
            "cas" => match store.get(&key) {
                Some(v) if *v == body["from"] => {
                    store.insert(key, body["to"].clone());
                    json!({"type": "cas_ok"})
                }
                None if body["create_if_not_exists"] == true => {
                    store.insert(key, body["to"].clone());
                    json!({"type": "cas_ok"})
                }
                None => json!({"type": "error", "code": 20}),
                Some(_) => json!({"type": "error", "code": 22}),
            },
            other => panic!("{other}"),
        };
        (!lose(body)).then_some(reply)
    });
    log
}

#[test]
fn a_value_lock_corrects_its_guess_waits_for_the_holder_and_commits_in_one_write() {
    let mut e = keeper();
    let mut store = std::collections::BTreeMap::new();
    store.insert("x".to_string(), json!([5, "someone"]));
    e.with_ctx(|_, ctx| {
        // A wrong guess (3): the cas fails, the read shows the key held, so wait and retry.
        ctx.lin_kv().lock_value(
            "x",
            Some(3),
            |node: &mut Keeper, ctx, lock: Result<ValueLock<Keeper, i64>, KvError>| {
                let mut lock = lock.unwrap();
                node.seen
                    .push(format!("locked {} = {:?}", lock.key(), lock.value()));
                lock.set(lock.value().unwrap() + 1);
                lock.commit(ctx, |node: &mut Keeper, _, r| {
                    node.seen.push(format!("committed {r:?}"))
                });
            },
        );
    });
    let mut log = Vec::new();
    for round in 0..10 {
        let at = ms(10 * (round + 1));
        log.extend(serve_store(&mut e, at, &mut store, |_| false));
        if round == 2 {
            store.insert("x".to_string(), json!([5, ""])); // the other holder lets go
        }
        e.advance(at + ms(9));
    }
    assert_eq!(e.node().seen, ["locked x = Some(5)", "committed Ok(())"]);
    assert_eq!(store["x"], json!([6, ""]));
    assert_eq!(log.last().unwrap(), "write x", "{log:?}");
    assert_eq!(log.iter().filter(|l| *l == "write x").count(), 1, "{log:?}");
    assert_eq!(take_logs(&mut e), "");
}

#[test]
fn value_locks_dropped_on_an_error_free_their_keys_unchanged() {
    let mut e = keeper();
    let mut store = std::collections::BTreeMap::new();
    store.insert("b".to_string(), json!([2, "someone"])); // held for good
    e.with_ctx(|node, ctx| {
        let lock = |_: &mut Keeper, ctx: &mut Ctx<Keeper>, key: &'static str, locked| {
            ctx.lin_kv().timeout(ms(50)).lock_value(key, None, locked)
        };
        in_turn(
            node,
            ctx,
            ["a", "b"],
            lock,
            |node: &mut Keeper, _, locks| {
                let locks: Vec<ValueLock<Keeper, i64>> = match locks {
                    Ok(locks) => locks,
                    Err(e) => return node.seen.push(format!("{} {}", e.code(), e.is_definite())),
                };
                node.seen.push(format!("locked {}", locks.len()));
            },
        );
    });
    for round in 0..40 {
        let at = ms(5 * (round + 1));
        serve_store(&mut e, at, &mut store, |_| false);
        if round == 0 {
            assert_eq!(store["a"][0], Value::Null);
            assert_ne!(store["a"][1], "", "a is locked while b is tried");
        }
        e.advance(at + ms(5));
    }
    assert_eq!(e.node().seen, ["temporarily-unavailable (11) true"]);
    assert_eq!(store["a"], json!([null, ""]), "freed, unchanged");
    assert_eq!(store["b"], json!([2, "someone"]));
}

#[test]
fn a_value_lock_whose_cas_is_in_doubt_reads_the_key_to_know() {
    let mut e = keeper();
    let mut store = std::collections::BTreeMap::new();
    store.insert("k".to_string(), json!([7, ""]));
    e.with_ctx(|_, ctx| {
        ctx.lin_kv().timeout(ms(100)).lock_value(
            "k",
            Some(7),
            |node: &mut Keeper, _, lock: Result<ValueLock<Keeper, i64>, KvError>| {
                node.seen
                    .push(format!("{:?}", lock.map(|l| l.value().copied())));
                // Dropped here: freed unchanged.
            },
        );
    });
    // The cas is applied but its answer lost; the read after the timeout finds our token.
    let mut first = true;
    let mut log = Vec::new();
    for round in 0..6 {
        let at = ms(60 * (round + 1));
        log.extend(serve_store(&mut e, at, &mut store, |_| {
            std::mem::take(&mut first)
        }));
        e.advance(at + ms(59));
    }
    assert_eq!(e.node().seen, ["Ok(Some(7))"]);
    assert_eq!(log, ["cas k", "read k", "cas k"], "lock, in doubt, release");
    assert_eq!(store["k"], json!([7, ""]));
}
