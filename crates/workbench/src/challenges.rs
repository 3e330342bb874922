//! The Gossip Glomers challenges: each one's official command (spec section 5) and pass
//! criteria, for `glomers all`.

use crate::analysis::Results;
use crate::checkers::Validity;

/// One challenge: the binary it runs, the `glomers test` flags of its official command, and
/// any criteria beyond a valid verdict.
pub struct Challenge {
    pub id: &'static str,
    pub name: &'static str,
    pub bin: &'static str,
    /// Flags exactly as on the challenge page (after `--bin`).
    pub flags: &'static [&'static str],
    /// Limits on servers msgs-per-op and stable latency (median, max) in ms, if any.
    pub limits: Option<Limits>,
    /// Reuse the run of another challenge with the same command (3e runs 3d's command).
    pub same_run_as: Option<&'static str>,
}

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub msgs_per_op: f64,
    pub median_ms: u64,
    pub max_ms: u64,
}

const BROADCAST_3D: &[&str] = &[
    "-w",
    "broadcast",
    "--node-count",
    "25",
    "--time-limit",
    "20",
    "--rate",
    "100",
    "--latency",
    "100",
];

pub const CHALLENGES: &[Challenge] = &[
    Challenge {
        id: "1",
        name: "echo",
        bin: "echo",
        flags: &["-w", "echo", "--node-count", "1", "--time-limit", "10"],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "2",
        name: "unique-ids",
        bin: "unique-ids",
        flags: &[
            "-w",
            "unique-ids",
            "--time-limit",
            "30",
            "--rate",
            "1000",
            "--node-count",
            "3",
            "--availability",
            "total",
            "--nemesis",
            "partition",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "3a",
        name: "broadcast, single node",
        bin: "broadcast",
        flags: &[
            "-w",
            "broadcast",
            "--node-count",
            "1",
            "--time-limit",
            "20",
            "--rate",
            "10",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "3b",
        name: "broadcast, multi-node",
        bin: "broadcast",
        flags: &[
            "-w",
            "broadcast",
            "--node-count",
            "5",
            "--time-limit",
            "20",
            "--rate",
            "10",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "3c",
        name: "broadcast, fault tolerant",
        bin: "broadcast",
        flags: &[
            "-w",
            "broadcast",
            "--node-count",
            "5",
            "--time-limit",
            "20",
            "--rate",
            "10",
            "--nemesis",
            "partition",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "3d",
        name: "broadcast, efficient I",
        bin: "broadcast",
        flags: BROADCAST_3D,
        limits: Some(Limits {
            msgs_per_op: 30.0,
            median_ms: 400,
            max_ms: 600,
        }),
        same_run_as: None,
    },
    Challenge {
        id: "3e",
        name: "broadcast, efficient II",
        bin: "broadcast",
        flags: BROADCAST_3D,
        limits: Some(Limits {
            msgs_per_op: 20.0,
            median_ms: 1000,
            max_ms: 2000,
        }),
        same_run_as: Some("3d"),
    },
    Challenge {
        id: "4",
        name: "grow-only counter",
        bin: "g-counter",
        flags: &[
            "-w",
            "g-counter",
            "--node-count",
            "3",
            "--rate",
            "100",
            "--time-limit",
            "20",
            "--nemesis",
            "partition",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "5a",
        name: "kafka, single node",
        bin: "kafka",
        flags: &[
            "-w",
            "kafka",
            "--node-count",
            "1",
            "--concurrency",
            "2n",
            "--time-limit",
            "20",
            "--rate",
            "1000",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "5b",
        name: "kafka, multi-node",
        bin: "kafka",
        flags: KAFKA_5B,
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "5c",
        name: "kafka, efficient",
        bin: "kafka",
        flags: KAFKA_5B,
        limits: None,
        same_run_as: Some("5b"),
    },
    Challenge {
        id: "6a",
        name: "txn, single node",
        bin: "txn",
        flags: &[
            "-w",
            "txn-rw-register",
            "--node-count",
            "1",
            "--time-limit",
            "20",
            "--rate",
            "1000",
            "--concurrency",
            "2n",
            "--consistency-models",
            "read-uncommitted",
            "--availability",
            "total",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "6b",
        name: "txn, read uncommitted",
        bin: "txn",
        flags: &[
            "-w",
            "txn-rw-register",
            "--node-count",
            "2",
            "--concurrency",
            "2n",
            "--time-limit",
            "20",
            "--rate",
            "1000",
            "--consistency-models",
            "read-uncommitted",
            "--availability",
            "total",
            "--nemesis",
            "partition",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "6c",
        name: "txn, read committed",
        bin: "txn",
        flags: &[
            "-w",
            "txn-rw-register",
            "--node-count",
            "2",
            "--concurrency",
            "2n",
            "--time-limit",
            "20",
            "--rate",
            "1000",
            "--consistency-models",
            "read-committed",
            "--availability",
            "total",
            "--nemesis",
            "partition",
        ],
        limits: None,
        same_run_as: None,
    },
    // Not a numbered challenge: Maelstrom's default workload, as its tutorial ends.
    Challenge {
        id: "kv",
        name: "lin-kv, relay to lin-kv",
        bin: "lin-kv-proxy",
        flags: &[
            "-w",
            "lin-kv",
            "--node-count",
            "3",
            "--concurrency",
            "2n",
            "--time-limit",
            "30",
            "--rate",
            "100",
            "--nemesis",
            "partition",
        ],
        limits: None,
        same_run_as: None,
    },
    Challenge {
        id: "raft",
        name: "lin-kv, Raft",
        bin: "raft",
        flags: &[
            "-w",
            "lin-kv",
            "--node-count",
            "5",
            "--concurrency",
            "2n",
            "--time-limit",
            "30",
            "--rate",
            "100",
            "--nemesis",
            "partition",
            "--latency",
            "100",
            "--latency-dist",
            "exponential",
        ],
        limits: None,
        same_run_as: None,
    },
];

const KAFKA_5B: &[&str] = &[
    "-w",
    "kafka",
    "--node-count",
    "2",
    "--concurrency",
    "2n",
    "--time-limit",
    "20",
    "--rate",
    "1000",
];

/// The challenge's verdict: the run's, made invalid when a limit is exceeded (with why).
pub fn judge(challenge: &Challenge, results: &Results) -> (Validity, Vec<String>) {
    let mut valid = results.valid;
    let mut why = Vec::new();
    if let Some(limits) = challenge.limits {
        let per_op = results.servers_msgs_per_op();
        if per_op >= limits.msgs_per_op {
            why.push(format!(
                "msgs-per-op {per_op:.2} is not below {}",
                limits.msgs_per_op
            ));
        }
        let q = results.workload.figures.get("stable_latencies");
        let get = |k: &str| q.and_then(|q| q[k].as_u64());
        match (get("0.5"), get("1")) {
            (Some(median), Some(max)) => {
                if median >= limits.median_ms {
                    why.push(format!(
                        "median stable latency {median} ms is not below {}",
                        limits.median_ms
                    ));
                }
                if max >= limits.max_ms {
                    why.push(format!(
                        "max stable latency {max} ms is not below {}",
                        limits.max_ms
                    ));
                }
            }
            _ => why.push("no stable latencies to judge".into()),
        }
        if !why.is_empty() {
            valid = Validity::Invalid;
        }
    }
    (valid, why)
}

/// `all --only`: a comma-separated list of id prefixes, each matching some challenge (a list
/// that matches nothing would run nothing and check nothing).
pub fn only_list(s: &str) -> Result<String, String> {
    for prefix in s.split(',').map(str::trim) {
        if prefix.is_empty() || !CHALLENGES.iter().any(|c| c.id.starts_with(prefix)) {
            let ids: Vec<&str> = CHALLENGES.iter().map(|c| c.id).collect();
            return Err(format!(
                "no challenge id starts with {prefix:?}; the ids are {}",
                ids.join(", ")
            ));
        }
    }
    Ok(s.to_string())
}
