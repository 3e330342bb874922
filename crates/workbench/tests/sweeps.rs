//! Sweeps through the `glomers` binary: N shards, merged, give exactly the seeds and verdicts
//! of one sweep, and a sweep on several threads reports the same first failing seed as one.

use std::path::Path;
use std::process::Command;

use glomers_workbench::sweep::Summary;

/// A node that fails on some seeds and not others: a counter trusting one stale seq-kv read.
const SWEEP: &[&str] = &[
    "sim",
    "-w",
    "g-counter",
    "--node",
    "broken-counter-stale-read",
    "--node-count",
    "3",
    "--time-limit",
    "4",
    "--rate",
    "50",
    "--nemesis",
    "partition",
];

fn glomers(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_glomers"))
        .args(SWEEP)
        .args(extra)
        .args(["--store", dir.join("store").to_str().unwrap()])
        .output()
        .expect("glomers runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "exit {code}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, stdout)
}

#[test]
fn merged_shards_give_the_seeds_and_verdicts_of_one_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.json");
    glomers(
        dir.path(),
        &[
            "--seeds",
            "0..30",
            "--keep-going",
            "--jobs",
            "1",
            "--summary",
            whole.to_str().unwrap(),
        ],
    );
    let whole = Summary::read(&whole).unwrap();
    assert!(
        whole.invalid > 0 && whole.valid > 0,
        "the node must fail on some seeds only: {whole:?}"
    );
    let mut shards = Vec::new();
    for k in 1..=3 {
        let path = dir.path().join(format!("shard-{k}.json"));
        let shard = format!("{k}/3");
        glomers(
            dir.path(),
            &[
                "--seeds",
                "0..30",
                "--shard",
                &shard,
                "--summary",
                path.to_str().unwrap(),
            ],
        );
        shards.push(path);
    }
    let merged = dir.path().join("merged.json");
    let out = Command::new(env!("CARGO_BIN_EXE_glomers"))
        .arg("merge")
        .args(&shards)
        .args(["--out", merged.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the sweep has invalid seeds");
    let merged = Summary::read(&merged).unwrap();
    assert_eq!(merged.seeds_run, whole.seeds_run);
    assert_eq!(merged.failing, whole.failing);
    assert_eq!(
        (merged.valid, merged.invalid, merged.unknown),
        (whole.valid, whole.invalid, whole.unknown)
    );
    // Without a shard the merge says what is missing and is not valid.
    let out = Command::new(env!("CARGO_BIN_EXE_glomers"))
        .arg("merge")
        .args(&shards[..2])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("were not run"), "{text}");
}

#[test]
fn two_threads_stop_at_the_first_failing_seed_as_one_does() {
    let dir = tempfile::tempdir().unwrap();
    let (code1, one) = glomers(dir.path(), &["--seeds", "0..30", "--jobs", "1"]);
    let (code2, two) = glomers(dir.path(), &["--seeds", "0..30", "--jobs", "2"]);
    let first_failure = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("seed "))
            .map(|l| l.split(':').next().unwrap().to_string())
    };
    assert_eq!(code1, 1);
    assert_eq!(code1, code2);
    assert!(first_failure(&one).is_some(), "{one}");
    assert_eq!(first_failure(&one), first_failure(&two), "{one}\n{two}");
    // And the same number of seeds ran before it.
    let ran = |text: &str| {
        text.lines()
            .find(|l| l.contains(" seeds in "))
            .map(|l| l.split(' ').next().unwrap().to_string())
    };
    assert_eq!(ran(&one), ran(&two));
}
