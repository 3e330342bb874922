//! `glomers check` gives back exactly what the run stored, and every stored run carries its
//! report, history.txt and summary. Runs come from the simulator (milliseconds each).

use std::path::{Path, PathBuf};

use glomers_workbench::catalog;
use glomers_workbench::check::check;
use glomers_workbench::checkers::Validity;
use glomers_workbench::commands::run_sim;
use glomers_workbench::net::{Latency, LatencyDist};
use glomers_workbench::runner::TestOptions;

fn temp_store(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("glomers-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn stored_run(opts: &TestOptions, node: &str, store: &Path) -> (PathBuf, Validity) {
    let entry = catalog::find(node).unwrap();
    let f = run_sim(opts, entry, &[], Some(store)).unwrap();
    (f.dir.unwrap(), f.results.valid)
}

fn partitioned_broadcast() -> TestOptions {
    TestOptions {
        time_limit_secs: 3.0,
        rate: 30.0,
        partitions: true,
        nemesis_interval_secs: 0.5,
        latency: Latency::new(10, LatencyDist::Exponential).unwrap(),
        seed: 3,
        ..TestOptions::new("broadcast", 5)
    }
}

#[test]
fn check_gives_the_stored_results_back_byte_for_byte() {
    let store = temp_store("check");
    let runs = [
        (partitioned_broadcast(), "broken-broadcast-no-retry"),
        (partitioned_broadcast(), "broadcast"),
        (
            TestOptions {
                time_limit_secs: 2.0,
                rate: 50.0,
                seed: 5,
                ..TestOptions::new("g-counter", 3)
            },
            "broken-counter-no-cas",
        ),
        (
            TestOptions {
                time_limit_secs: 1.0,
                rate: 50.0,
                ..TestOptions::new("echo", 2)
            },
            "broken-echo",
        ),
        (
            // Valid as read uncommitted, not as the default strict serializable.
            TestOptions {
                time_limit_secs: 2.0,
                rate: 200.0,
                concurrency: 4,
                consistency_models: "read-uncommitted".into(),
                key_count: Some(3),
                max_writes_per_key: 8,
                max_txn_length: 3,
                ..TestOptions::new("txn-rw-register", 2)
            },
            "txn",
        ),
    ];
    let mut verdicts = Vec::new();
    for (opts, node) in &runs {
        let (dir, valid) = stored_run(opts, node, &store);
        let before = std::fs::read_to_string(dir.join("results.json")).unwrap();
        for file in ["report.html", "history.txt", "summary.txt"] {
            // summary.txt is written by the commands that print it; run_sim alone does not.
            if file != "summary.txt" {
                assert!(dir.join(file).exists(), "{node}: no {file}");
            }
        }
        let written = std::fs::read_to_string(dir.join("report.html")).unwrap();
        std::fs::remove_file(dir.join("report.html")).unwrap();
        let checked = check(&dir, None, None).unwrap();
        assert_eq!(checked.results.valid, valid, "{node}: verdict");
        assert_eq!(checked.matches_stored(), Some(true), "{node}");
        let after = std::fs::read_to_string(dir.join("results.json")).unwrap();
        assert_eq!(before, after, "{node}: results.json changed");
        // The same page from the files as from the run in memory (past the summary, which
        // `check` prints and the run alone does not).
        let rebuilt = std::fs::read_to_string(dir.join("report.html")).unwrap();
        let body = |page: &str| page[page.find("<section id=\"findings\">").unwrap()..].to_string();
        assert!(
            body(&written) == body(&rebuilt),
            "{node}: the rebuilt report differs"
        );
        assert!(std::fs::read_to_string(dir.join("summary.txt"))
            .unwrap()
            .contains("seed"));
        verdicts.push(valid);
    }
    // The broken nodes are caught, so the comparison covers invalid results too.
    assert_eq!(verdicts[0], Validity::Invalid);
    assert_eq!(verdicts[1], Validity::Valid);
    assert_eq!(verdicts[2], Validity::Invalid);
    std::fs::remove_dir_all(&store).unwrap();
}

#[test]
fn check_takes_a_history_written_by_hand() {
    let dir = temp_store("hand");
    // A g-counter history in the documented format: two acknowledged adds, a final read that
    // misses one of them.
    // (`index` may be left out: ops are numbered by line.)
    let history = r#"{"time":0,"type":"invoke","process":0,"f":"add","value":3}
{"index":1,"time":1000,"type":"ok","process":0,"f":"add","value":3}
{"index":2,"time":2000,"type":"invoke","process":1,"f":"add","value":4}
{"index":3,"time":3000,"type":"ok","process":1,"f":"add","value":4}
{"index":4,"time":9000,"type":"invoke","process":0,"f":"read","value":null,"final":true}
{"index":5,"time":9500,"type":"ok","process":0,"f":"read","value":3,"final":true}
"#;
    std::fs::write(dir.join("history.jsonl"), history).unwrap();
    assert!(
        check(&dir, None, None).is_err(),
        "without results.json the workload must be named"
    );
    let checked = check(&dir.join("history.jsonl"), Some("g-counter"), None).unwrap();
    assert_eq!(checked.results.valid, Validity::Invalid);
    assert_eq!(checked.matches_stored(), None);
    assert_eq!(checked.json["workload"]["errors"][0]["op"], 5);
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    // The counter trail: the missing acknowledged add is named.
    assert!(
        report.contains("id=\"trail-read-4\""),
        "no trail for the read"
    );
    assert!(report.contains("short by <b>4</b>"));
    assert!(report.contains("class=\"trail-link\" href=\"#trail-read-4\""));
    // Corrected by hand, the same history passes.
    std::fs::write(
        dir.join("history.jsonl"),
        history.replace("\"value\":3,\"final\"", "\"value\":7,\"final\""),
    )
    .unwrap();
    std::fs::remove_file(dir.join("results.json")).unwrap();
    let checked = check(&dir, Some("g-counter"), None).unwrap();
    assert_eq!(checked.results.valid, Validity::Valid);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_trail_of_a_lost_value_names_where_it_stopped() {
    let store = temp_store("trail");
    let (dir, valid) = stored_run(
        &partitioned_broadcast(),
        "broken-broadcast-no-retry",
        &store,
    );
    assert_eq!(valid, Validity::Invalid);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let lost = results["workload"]["lost"][0].clone();
    assert!(
        !lost.is_null(),
        "the run lost nothing: {}",
        results["workload"]
    );
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let id = format!("trail-lost-{lost}");
    let at = report
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id}"));
    let trail = &report[at..at + report[at..].find("</details>").unwrap()];
    assert!(trail.contains("took it from client"), "{trail}");
    assert!(trail.contains("Where the trail stopped"), "{trail}");
    assert!(trail.contains("dropped by a partition"), "{trail}");
    assert!(trail.contains("did not return it"), "{trail}");
    assert!(report.contains(&format!("class=\"trail-link\" href=\"#{id}\"")));
    std::fs::remove_dir_all(&store).unwrap();
}

/// A kafka run that loses acknowledged sends (a node that forgets one send in ten).
pub fn kafka_lost_write() -> TestOptions {
    TestOptions {
        time_limit_secs: 3.0,
        rate: 30.0,
        seed: 1,
        ..TestOptions::new("kafka", 2)
    }
}

/// The section of the report with this id, up to its `</details>`.
fn section<'r>(report: &'r str, id: &str) -> &'r str {
    let at = report
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no {id} in the report"));
    &report[at..at + report[at..].find("</details>").unwrap()]
}

/// The id of the first finding of `kind` and the trail it links to.
fn finding_and_trail(report: &str, kind: &str) -> (String, String) {
    let marker = format!("data-kind=\"{kind}\"");
    let at = report
        .find(&marker)
        .unwrap_or_else(|| panic!("no {kind} finding"));
    let start = report[..at].rfind("id=\"finding-").unwrap() + 4;
    let finding = report[start..start + report[start..].find('"').unwrap()].to_string();
    let li = &report[at..at + report[at..].find("</li>").unwrap()];
    let href = li
        .split("class=\"trail-link\" href=\"#")
        .nth(1)
        .unwrap_or_else(|| panic!("the {kind} finding links to no trail: {li}"));
    (finding, href[..href.find('"').unwrap()].to_string())
}

#[test]
fn kafka_and_txn_findings_link_to_trails_drawn_over_their_ops() {
    let store = temp_store("anomaly-trails");
    // kafka: a lost write, drawn as the send, the polls that read past it, and the key's log.
    let (dir, valid) = stored_run(&kafka_lost_write(), "broken-kafka-forget", &store);
    assert_eq!(valid, Validity::Invalid);
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let (_, id) = finding_and_trail(&report, "lost-write");
    let trail = section(&report, &id);
    assert!(trail.contains("<svg class=\"opgraph\""), "{trail}");
    assert!(
        trail.contains("skipped "),
        "no poll drawn skipping it: {trail}"
    );
    assert!(trail.contains("table class=\"kafka-log\""), "{trail}");
    assert!(
        trail.contains("send_ok"),
        "the send's reply is not linked: {trail}"
    );

    // txn: a G1c cycle, its two wr edges drawn between the transactions' boxes.
    let opts = TestOptions {
        time_limit_secs: 1.0,
        rate: 200.0,
        concurrency: 4,
        latency: Latency::new(20, LatencyDist::Exponential).unwrap(),
        consistency_models: "read-committed".into(),
        ..TestOptions::new("txn-rw-register", 2)
    };
    let (dir, report) = (0..10)
        .find_map(|seed| {
            let (dir, _) = stored_run(
                &TestOptions {
                    seed,
                    ..opts.clone()
                },
                "broken-txn-peer-reads",
                &store,
            );
            let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
            report
                .contains("data-kind=\"G1c\"")
                .then_some((dir, report))
        })
        .expect("no G1c in 10 seeds");
    let (finding, id) = finding_and_trail(&report, "G1c");
    let trail = section(&report, &id);
    assert!(
        trail.contains(&format!("href=\"#{finding}\"")),
        "no way back"
    );
    let edges = trail.matches("class=\"edge\"").count();
    assert!(edges >= 2, "a cycle has at least two edges: {trail}");
    assert!(trail.contains(">wr k"), "no labelled wr edge: {trail}");
    assert!(
        trail.contains("txn_ok"),
        "the transactions' replies are not linked"
    );

    // An older stored run, without msg_ids in its history: still checked the same, its ops
    // matched to messages by time.
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    let old: String = history
        .lines()
        .map(|l| match l.find(",\"client\"") {
            Some(at) => format!("{}}}\n", &l[..at]),
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(old, history);
    std::fs::write(dir.join("history.jsonl"), old).unwrap();
    let checked = check(&dir, None, None).unwrap();
    assert_eq!(checked.matches_stored(), Some(true));
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    let (_, id) = finding_and_trail(&report, "G1c");
    assert!(section(&report, &id).contains("txn_ok"));
    std::fs::remove_dir_all(&store).unwrap();
}
