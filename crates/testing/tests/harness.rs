//! The harness itself: its checks fail on nodes that break the rules, and its faults act.

use std::time::Duration;

use glomers_node::{Ctx, Node, ReplyTo};
use glomers_testing::{json, CallError, ClusterBuilder, Fate, TestCluster, Value};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Request {
    /// Answered once.
    Ping,
    /// Answered twice (a bug the harness must catch).
    Twice,
    /// Never answered (a bug the harness must catch).
    Ignore,
    /// Answered after a 1 s timer.
    Later,
    /// Forwarded to the next node, whose answer is relayed.
    Forward,
    /// Stores `value` under this node's key in lin-kv and answers when it is stored.
    Store { value: u64 },
}

#[derive(Default)]
struct Probe {
    received: u64,
}

impl Node for Probe {
    type Request<'de> = Request;
    type Timer = ReplyTo;

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: Request, from: ReplyTo) {
        self.received += 1;
        match req {
            Request::Ping => ctx.reply(&from, json!({"type": "pong"})),
            Request::Twice => {
                // glomers-node itself refuses a second answer through the same handle (and
                // panics in debug builds), so the second goes through an untracked copy, as a
                // node on another runtime would send it: the harness must still see it.
                let again = ReplyTo::new(from.src(), from.msg_id());
                ctx.reply(&from, json!({"type": "pong"}));
                ctx.reply(&again, json!({"type": "pong"}));
            }
            Request::Ignore => {}
            Request::Later => {
                ctx.after(Duration::from_secs(1), from);
            }
            Request::Forward => {
                let ids = ctx.node_ids();
                let me = ids.iter().position(|id| id == ctx.node_id()).unwrap();
                let next = ids[(me + 1) % ids.len()].clone();
                ctx.rpc(
                    &next,
                    json!({"type": "ping"}),
                    Duration::from_secs(1),
                    move |_: &mut Self, ctx, result: Result<Value, _>| match result {
                        Ok(_) => ctx.reply(&from, json!({"type": "forward_ok"})),
                        Err(e) => ctx.reply_error(&from, e.code, e.text),
                    },
                );
            }
            Request::Store { value } => {
                let key = ctx.node_id().to_string();
                ctx.lin_kv()
                    .write(key, value, move |_: &mut Self, ctx, result| match result {
                        Ok(()) => ctx.reply(&from, json!({"type": "store_ok"})),
                        Err(e) => ctx.reply(
                            &from,
                            json!({"type": "error", "code": 13, "text": e.to_string()}),
                        ),
                    });
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, from: ReplyTo) {
        ctx.reply(
            &from,
            json!({"type": "later_ok", "at_ms": ctx.now().as_millis() as u64}),
        );
    }
}

fn probes(n: usize) -> TestCluster<Probe> {
    TestCluster::new(n, |_| Probe::default())
}

#[test]
fn a_request_answered_once_passes() {
    let mut c = probes(2);
    assert_eq!(c.call(1, json!({"type": "ping"})).unwrap()["type"], "pong");
    assert_eq!(c.node(1).received, 1);
    c.assert_exactly_once();
}

#[test]
#[should_panic(expected = "answered it 2 times")]
fn a_request_answered_twice_is_caught() {
    let mut c = probes(2);
    c.call(0, json!({"type": "twice"})).unwrap();
    c.run_for(Duration::from_millis(10));
    assert_eq!(c.answered_twice().len(), 1);
    c.assert_exactly_once();
}

#[test]
fn a_request_never_answered_is_caught() {
    let mut c = probes(2);
    assert_eq!(
        c.call(1, json!({"type": "ignore"})),
        Err(CallError::Timeout)
    );
    assert_eq!(
        c.now(),
        Duration::from_secs(5),
        "the call waited 5 s of virtual time"
    );
    let unanswered = c.unanswered();
    assert_eq!(unanswered.len(), 1);
    assert_eq!(unanswered[0].node, "n1");
    assert_eq!(unanswered[0].kind, "ignore");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.assert_exactly_once()));
    assert!(caught.is_err());
}

#[test]
fn timers_run_in_virtual_time() {
    let mut c = probes(1);
    c.run_for(Duration::from_millis(250));
    let reply = c.call(0, json!({"type": "later"})).unwrap();
    assert_eq!(reply["at_ms"], 1250);
    assert_eq!(c.now(), Duration::from_millis(1250));
}

#[test]
fn node_to_node_requests_are_tracked_and_partitions_cut_them() {
    let mut c = probes(3);
    assert_eq!(
        c.call(0, json!({"type": "forward"})).unwrap()["type"],
        "forward_ok"
    );
    c.isolate(1);
    match c.call(0, json!({"type": "forward"})) {
        Err(CallError::Error { code, .. }) => assert_eq!(code, 0, "a timeout (code 0)"),
        other => panic!("expected the forward to time out, got {other:?}"),
    }
    // The ping to n1 was dropped before n1 received it: nothing is owed.
    c.assert_exactly_once();
    c.heal();
    assert!(c.call(0, json!({"type": "forward"})).is_ok());
    assert!(c.net_stats().dropped >= 1);
}

#[test]
fn rules_drop_and_delay_messages_to_and_from_services() {
    let mut c = ClusterBuilder::new(2).seed(3).build(|_| Probe::default());
    assert_eq!(
        c.call(0, json!({"type": "store", "value": 1})).unwrap()["type"],
        "store_ok"
    );
    c.set_rule(|m, _| match (m.dest.as_str(), m.kind) {
        ("lin-kv", _) => Fate::Delay(300_000_000),
        _ => Fate::Deliver,
    });
    let start = c.now();
    c.call(1, json!({"type": "store", "value": 2})).unwrap();
    assert!(c.now() - start >= Duration::from_millis(300));
    c.set_rule(|m, _| {
        if m.src == "lin-kv" {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    // The write's answer is lost: the node's KV call times out and it answers with an error.
    assert!(matches!(
        c.call(1, json!({"type": "store", "value": 3})),
        Err(CallError::Error { code: 13, .. })
    ));
    c.assert_exactly_once();
}

#[test]
fn protocol_problems_are_reported() {
    let mut c = probes(1);
    c.with_node(0, |_, ctx| ctx.send("n7", json!({"type": "hello"})));
    assert_eq!(c.problems().len(), 1, "{:?}", c.problems());
    assert!(c.problems()[0].contains("unknown node"));
}

#[test]
fn a_node_made_to_act_sees_the_cluster_clock() {
    let mut c = probes(2);
    c.run_for(Duration::from_millis(700));
    let now = c.with_node(1, |_, ctx| {
        ctx.send("n0", json!({"type": "ping"}));
        ctx.now()
    });
    assert_eq!(now, Duration::from_millis(700));
    assert_eq!(c.now(), now);
    c.run_for(Duration::from_millis(1));
    assert_eq!(c.node(0).received, 1, "the message went out");
    c.assert_exactly_once();
}
