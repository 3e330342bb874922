//! How the runner's clients behave, shown with small in-process nodes in virtual time:
//! outcome mapping, timeouts, late replies, process numbers, the op schedule.

use std::time::Duration;

use glomers_node::{AnyEngine, Ctx, Engine, ErrorCode, Node, ReplyTo};
use glomers_workbench::analysis::analyze;
use glomers_workbench::checkers::Validity;
use glomers_workbench::driver::sim::{NodeFactory, SimCluster};
use glomers_workbench::history::{History, OpType, Process};
use glomers_workbench::runner::{build_workload, run_test, RunOutput, TestOptions};
use glomers_workbench::workloads::{Completion, FinalStep, Invocation, Step};
use serde::Deserialize;
use serde_json::{json, Value};

fn options(workload: &str, time_limit: f64, rate: f64) -> TestOptions {
    TestOptions {
        time_limit_secs: time_limit,
        rate,
        concurrency: 2,
        seed: 3,
        ..TestOptions::new(workload, 1)
    }
}

fn run<N: Node>(opts: &TestOptions, make: fn() -> N) -> RunOutput {
    let factory: NodeFactory =
        Box::new(move |seed| Box::new(Engine::new(make(), seed)) as Box<dyn AnyEngine>);
    let mut cluster = SimCluster::new(&factory, opts.node_count, opts.seed);
    let mut workload = build_workload(opts).unwrap();
    run_test(opts, workload.as_mut(), &mut cluster, None, None).unwrap()
}

fn completions(history: &History, kind: OpType) -> Vec<&glomers_workbench::history::Op> {
    history.client_ops().filter(|op| op.kind == kind).collect()
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum EchoRequest {
    Echo { echo: Value },
}

/// Answers every echo with an error: definite (11) and indefinite (13) in turn.
#[derive(Default)]
struct ErrorEcho {
    served: u64,
}

impl Node for ErrorEcho {
    type Request<'de> = EchoRequest;
    type Timer = ();

    fn on_request(&mut self, ctx: &mut Ctx<Self>, _: EchoRequest, from: ReplyTo) {
        self.served += 1;
        let code = if self.served.is_multiple_of(2) {
            ErrorCode::TemporarilyUnavailable
        } else {
            ErrorCode::Crash
        };
        ctx.reply_error(&from, code, "no");
    }
}

#[test]
fn definite_errors_fail_and_indefinite_ones_are_info() {
    let out = run(&options("echo", 5.0, 20.0), ErrorEcho::default);
    let fails = completions(&out.history, OpType::Fail);
    let infos = completions(&out.history, OpType::Info);
    assert!(!fails.is_empty() && !infos.is_empty());
    assert!(completions(&out.history, OpType::Ok).is_empty());
    assert_eq!(
        fails[0].error,
        Some(json!(["temporarily-unavailable", "no"]))
    );
    assert_eq!(infos[0].error, Some(json!(["crash", "no"])));
}

#[test]
fn after_an_indeterminate_op_the_worker_is_a_new_process() {
    let out = run(&options("echo", 5.0, 20.0), ErrorEcho::default);
    let processes: std::collections::BTreeSet<Process> =
        out.history.client_ops().map(|op| op.process).collect();
    // Two workers, each moving on by the concurrency (2) after every info op.
    assert!(processes.len() > 4, "{processes:?}");
    assert!(processes.contains(&Process::Client(2)) || processes.contains(&Process::Client(3)));
}

#[derive(Clone)]
struct Answer(ReplyTo, Value);

/// Answers each echo 6 s late, after the client (5 s timeout) has given up.
#[derive(Default)]
struct SlowEcho;

impl Node for SlowEcho {
    type Request<'de> = EchoRequest;
    type Timer = Answer;

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: EchoRequest, from: ReplyTo) {
        let EchoRequest::Echo { echo } = req;
        ctx.after(Duration::from_secs(6), Answer(from, echo));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, Answer(to, echo): Answer) {
        ctx.reply(&to, json!({"type": "echo_ok", "echo": echo}));
    }
}

#[test]
fn a_timeout_is_info_with_net_timeout_and_the_late_reply_is_discarded() {
    let out = run(&options("echo", 8.0, 2.0), || SlowEcho);
    let infos = completions(&out.history, OpType::Info);
    assert!(!infos.is_empty());
    assert!(infos
        .iter()
        .all(|op| op.error == Some(json!("net-timeout"))));
    for pair in out.history.pairs() {
        let done = pair.completion.expect("completed");
        assert_eq!(
            done.time - pair.invoke.time,
            5_000_000_000,
            "completed by the timeout"
        );
    }
    assert!(
        completions(&out.history, OpType::Ok).is_empty(),
        "late replies are not ok ops"
    );
    // The echo client is retired after an info op and closed when its worker invokes its next
    // op (well before the reply comes 6 s late), so the late reply goes to a closed client.
    assert!(
        out.diagnostics
            .iter()
            .any(|d| d.message.contains("moved on to its next operation")),
        "{:?} ended at {}",
        out.diagnostics,
        out.end_time
    );
}

#[test]
fn the_schedule_issues_about_rate_times_time_limit_ops() {
    #[derive(Default)]
    struct FastEcho;
    impl Node for FastEcho {
        type Request<'de> = EchoRequest;
        type Timer = ();
        fn on_request(&mut self, ctx: &mut Ctx<Self>, req: EchoRequest, from: ReplyTo) {
            let EchoRequest::Echo { echo } = req;
            ctx.reply(&from, json!({"type": "echo_ok", "echo": echo}));
        }
    }
    let out = run(&options("echo", 20.0, 100.0), || FastEcho);
    let n = out.history.invocation_count();
    assert!((1800..2200).contains(&n), "{n} ops for 20 s at rate 100");
    assert!(out.history.client_ops().all(|op| op.time <= 20_000_000_000));
}

/// Echoes at once, except the reply to the first echo after 2 s of test time, which it holds
/// for 3 s: a stall of the only worker.
#[derive(Default)]
struct StallingEcho {
    stalled: bool,
}

impl Node for StallingEcho {
    type Request<'de> = EchoRequest;
    type Timer = Answer;

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: EchoRequest, from: ReplyTo) {
        let EchoRequest::Echo { echo } = req;
        if !self.stalled && ctx.now() >= Duration::from_secs(2) {
            self.stalled = true;
            ctx.after(Duration::from_secs(3), Answer(from, echo));
        } else {
            ctx.reply(&from, json!({"type": "echo_ok", "echo": echo}));
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, Answer(to, echo): Answer) {
        ctx.reply(&to, json!({"type": "echo_ok", "echo": echo}));
    }
}

#[test]
fn after_a_stall_the_schedule_does_not_catch_up() {
    // One worker at rate 100: while its op is held for 3 s, some 300 ops fall due. Jepsen's
    // stagger does not make them up: the next op comes a uniform gap (mean 10 ms) after the
    // previous one was actually issued, so there is no burst when the stall ends.
    let opts = TestOptions {
        concurrency: 1,
        ..options("echo", 8.0, 100.0)
    };
    let out = run(&opts, StallingEcho::default);
    let stalled = out
        .history
        .pairs()
        .into_iter()
        .max_by_key(|p| p.completion.map_or(0, |c| c.time - p.invoke.time))
        .expect("ops");
    let stall_end = stalled.completion.expect("completed").time;
    assert!(
        stall_end - stalled.invoke.time >= 2_900_000_000,
        "the held op took 3 s"
    );
    let burst = out
        .history
        .client_ops()
        .filter(|op| op.kind == OpType::Invoke)
        .filter(|op| op.time >= stall_end && op.time < stall_end + 100_000_000)
        .count();
    assert!(
        burst <= 30,
        "{burst} ops invoked within 100 ms after the stall (about 10 expected, 300 with catch-up)"
    );
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BroadcastRequest {
    Broadcast { message: u64 },
    Read,
    Topology {},
}

/// A one-node broadcast that acknowledges its first value 6 s late.
#[derive(Default)]
struct LateFirstAck {
    seen: Vec<u64>,
}

impl Node for LateFirstAck {
    type Request<'de> = BroadcastRequest;
    type Timer = ReplyTo;

    fn on_request(&mut self, ctx: &mut Ctx<Self>, req: BroadcastRequest, from: ReplyTo) {
        match req {
            BroadcastRequest::Broadcast { message } => {
                self.seen.push(message);
                if self.seen.len() == 1 {
                    ctx.after(Duration::from_secs(6), from);
                } else {
                    ctx.reply(&from, json!({"type": "broadcast_ok"}));
                }
            }
            BroadcastRequest::Read => {
                ctx.reply(&from, json!({"type": "read_ok", "messages": self.seen}))
            }
            BroadcastRequest::Topology {} => ctx.reply(&from, json!({"type": "topology_ok"})),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<Self>, to: ReplyTo) {
        ctx.reply(&to, json!({"type": "broadcast_ok"}));
    }
}

#[test]
fn a_late_reply_before_the_worker_moves_on_is_discarded_not_an_error() {
    // The first broadcast times out 5 s after it was sent, after the 3 s main phase; that
    // worker's next op is the final read, 10 s after the heal (the other worker goes on).
    // The ack comes 6 s after the send, while the worker still holds its old client: Jepsen
    // closes that client only when the worker invokes again, so the reply is discarded and
    // the run is valid (Maelstrom passes it too).
    let opts = options("broadcast", 3.0, 10.0);
    let out = run(&opts, LateFirstAck::default);
    assert!(
        out.diagnostics.is_empty(),
        "no diagnostic expected: {:?}",
        out.diagnostics
    );
    let workload = build_workload(&opts).unwrap();
    let results = analyze(&opts, &out, workload.as_ref());
    assert_eq!(results.valid, Validity::Valid);
    assert_eq!(completions(&out.history, OpType::Info).len(), 1);
}

/// A workload whose every op is two echo requests in a row, and whose final phase is: pause
/// 100 ms, one more two-step op, done. It proves the runner drives multi-step ops and final
/// steps without knowing the workload.
#[derive(Default)]
struct TwoStepEcho {
    finals_issued: Vec<usize>,
    closed: usize,
}

impl glomers_workbench::workloads::Workload for TwoStepEcho {
    fn name(&self) -> &'static str {
        "two-step-echo"
    }
    fn next_op(&mut self, _: usize, _: &mut glomers_workbench::Rng) -> Invocation {
        Invocation::new("echo2", json!("a"))
    }
    fn begin(&mut self, _: usize, _: &Invocation) -> Step {
        Step::Send(json!({"type": "echo", "echo": "first"}).into())
    }
    fn on_reply(
        &mut self,
        _: usize,
        _: &Invocation,
        reply: &serde_json::Map<String, Value>,
    ) -> Step {
        match reply["echo"].as_str() {
            Some("first") => Step::Send(json!({"type": "echo", "echo": "second"}).into()),
            _ => Step::Done(Completion::ok(json!(["first", "second"]))),
        }
    }
    fn client_closed(&mut self, _: usize) {
        self.closed += 1;
    }
    fn has_final_phase(&self) -> bool {
        true
    }
    fn next_final_op(&mut self, worker: usize, _: &mut glomers_workbench::Rng) -> FinalStep {
        let issued = self.finals_issued.iter().filter(|&&w| w == worker).count();
        match issued {
            0 => {
                self.finals_issued.push(worker);
                FinalStep::Wait(100_000_000)
            }
            1 => {
                self.finals_issued.push(worker);
                FinalStep::Op(Invocation::final_op("echo2", json!("a")))
            }
            _ => FinalStep::Done,
        }
    }
    fn request(&self, _: &Invocation) -> glomers_workbench::workloads::Request {
        unreachable!("begin builds the requests")
    }
    fn response(
        &self,
        _: &Invocation,
        _: &serde_json::Map<String, Value>,
    ) -> Result<Value, String> {
        unreachable!("on_reply reads the replies")
    }
    fn check(&self, _: &History) -> glomers_workbench::checkers::CheckResult {
        glomers_workbench::checkers::CheckResult::new(Validity::Valid)
    }
}

#[test]
fn a_workload_drives_multi_step_ops_and_final_steps() {
    #[derive(Default)]
    struct CountingEcho;
    impl Node for CountingEcho {
        type Request<'de> = EchoRequest;
        type Timer = ();
        fn on_request(&mut self, ctx: &mut Ctx<Self>, req: EchoRequest, from: ReplyTo) {
            let EchoRequest::Echo { echo } = req;
            ctx.reply(&from, json!({"type": "echo_ok", "echo": echo}));
        }
    }
    let opts = TestOptions {
        recovery_secs: 1.0,
        ..options("echo", 2.0, 20.0)
    };
    let factory: NodeFactory =
        Box::new(|seed| Box::new(Engine::new(CountingEcho, seed)) as Box<dyn AnyEngine>);
    let mut cluster = SimCluster::new(&factory, opts.node_count, opts.seed);
    let mut workload = TwoStepEcho::default();
    let out = run_test(&opts, &mut workload, &mut cluster, None, None).unwrap();
    let oks = completions(&out.history, OpType::Ok);
    assert!(oks.len() > 10, "{} ok ops", oks.len());
    assert!(oks.iter().all(|op| op.value == json!(["first", "second"])));
    // Two requests per op, each with its reply, plus init.
    let client_messages = out.net.clients.msg_count;
    let ops = out.history.invocation_count();
    assert_eq!(
        client_messages as usize,
        4 * ops + 2 * opts.node_count,
        "{ops} ops"
    );
    // Each worker paused, then ran exactly one final op.
    let finals: Vec<_> = oks.iter().filter(|op| op.is_final).collect();
    assert_eq!(finals.len(), opts.concurrency);
    assert_eq!(workload.closed, 0, "no client was retired");
}
