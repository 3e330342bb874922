//! How the runner's clients behave, shown with small in-process nodes in virtual time:
//! outcome mapping, timeouts, late replies, process numbers, the op schedule.

use std::time::Duration;

use glomers_node::{AnyEngine, Ctx, Engine, ErrorCode, Node, ReplyTo};
use glomers_workbench::driver::sim::{NodeFactory, SimCluster};
use glomers_workbench::history::{History, OpType, Process};
use glomers_workbench::runner::{build_workload, run_test, RunOutput, TestOptions};
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
    // The echo client is closed after an info op, so the late reply goes to a closed client.
    assert!(
        out.diagnostics
            .iter()
            .any(|d| d.message.contains("already closed")),
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
