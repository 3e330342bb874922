//! Consistency models and the anomalies each prohibits, after Elle's model hierarchy: a model
//! prohibits the anomalies it proscribes directly, those of every model it implies, and every
//! anomaly that implies one of those (G0 implies G1c, G1c implies G1, ...).

use std::collections::BTreeSet;

/// Friendly names Elle maps to Adya's canonical ones.
const ALIASES: &[(&str, &str)] = &[
    ("consistent-view", "PL-2+"),
    ("conflict-serializable", "PL-3"),
    ("cursor-stability", "PL-CS"),
    ("forward-consistent-view", "PL-FCV"),
    ("monotonic-snapshot-read", "PL-MSR"),
    ("monotonic-view", "PL-2L"),
    ("read-committed", "PL-2"),
    ("read-uncommitted", "PL-1"),
    ("repeatable-read", "PL-2.99"),
    ("serializable", "PL-3"),
    ("snapshot-isolation", "PL-SI"),
    ("strict-serializable", "PL-SS"),
    ("strong-serializable", "PL-SS"),
    ("update-serializable", "PL-3U"),
    ("strong-session-read-uncommitted", "strong-session-PL-1"),
    ("strong-session-read-committed", "strong-session-PL-2"),
    ("strong-read-uncommitted", "strong-PL-1"),
    ("strong-read-committed", "strong-PL-2"),
];

/// `model -> models it implies` (a history satisfying the first satisfies the others), by
/// canonical name.
const IMPLIES: &[(&str, &[&str])] = &[
    ("causal-cerone", &["read-atomic"]),
    ("PL-2+", &["PL-CS", "PL-2L"]),
    ("PL-3", &["PL-2.99", "PL-3U", "view-serializable"]),
    ("PL-CS", &["PL-2"]),
    ("PL-FCV", &["PL-2+"]),
    ("PL-2", &["PL-1"]),
    ("PL-3U", &["PL-FCV"]),
    ("monotonic-atomic-view", &["PL-2"]),
    ("PL-2L", &["PL-2"]),
    ("PL-MSR", &["PL-2"]),
    (
        "parallel-snapshot-isolation",
        &["causal-cerone", "update-atomic"],
    ),
    ("prefix", &["causal-cerone"]),
    ("read-atomic", &["monotonic-atomic-view"]),
    ("PL-2.99", &["PL-CS", "monotonic-atomic-view"]),
    ("update-atomic", &["read-atomic"]),
    ("session-serializable", &["1SR"]),
    (
        "PL-SI",
        &[
            "PL-FCV",
            "monotonic-atomic-view",
            "PL-MSR",
            "parallel-snapshot-isolation",
            "prefix",
        ],
    ),
    (
        "PL-SS",
        &[
            "PL-3",
            "linearizable",
            "PL-SI",
            "strong-snapshot-isolation",
            "strong-session-serializable",
            "session-serializable",
        ],
    ),
    ("strong-session-PL-1", &["PL-1"]),
    ("strong-session-PL-2", &["PL-2", "strong-session-PL-1"]),
    ("strong-PL-1", &["strong-session-PL-1"]),
    ("strong-PL-2", &["strong-session-PL-2", "strong-PL-1"]),
    (
        "strong-session-serializable",
        &["PL-3", "strong-session-snapshot-isolation"],
    ),
    (
        "strong-session-snapshot-isolation",
        &["PL-SI", "strong-session-PL-2"],
    ),
    (
        "strong-snapshot-isolation",
        &["strong-session-snapshot-isolation", "strong-PL-2"],
    ),
    ("linearizable", &["sequential"]),
    ("sequential", &["causal"]),
    ("causal", &["writes-follow-reads", "PRAM"]),
    (
        "PRAM",
        &["monotonic-reads", "monotonic-writes", "read-your-writes"],
    ),
];

/// The anomalies each (canonical) model proscribes itself, beyond those of implied models.
const PROSCRIBES: &[(&str, &[&str])] = &[
    ("causal-cerone", &["internal", "G1a"]),
    ("PL-CS", &["G1", "G-cursor", "lost-update"]),
    ("PL-2L", &["G1", "G-monotonic"]),
    ("PL-MSR", &["G1", "G-MSR"]),
    ("PL-2+", &["G1", "G-single"]),
    ("PL-FCV", &["G1", "G-SIb"]),
    ("parallel-snapshot-isolation", &["internal", "G1a"]),
    ("PL-3", &["G1", "G2"]),
    ("PL-2", &["G1"]),
    ("PL-1", &["G0", "duplicate-elements", "cyclic-versions"]),
    ("prefix", &["internal", "G1a"]),
    ("serializable", &["internal"]),
    ("PL-SI", &["internal", "G1", "G-SI", "G-nonadjacent"]),
    ("read-atomic", &["internal", "G1a", "future-read"]),
    ("PL-2.99", &["G1", "G2-item", "lost-update"]),
    ("update-atomic", &["lost-update"]),
    ("PL-SS", &["G1", "G1c-realtime", "G2-realtime"]),
    ("strong-session-PL-1", &["G0-process"]),
    ("strong-session-PL-2", &["G1c-process"]),
    ("strong-PL-1", &["G0-realtime"]),
    ("strong-PL-2", &["G1c-realtime"]),
    (
        "strong-session-snapshot-isolation",
        &["internal", "G1-process", "G-nonadjacent-process"],
    ),
    (
        "strong-snapshot-isolation",
        &["internal", "G1-realtime", "G-nonadjacent-realtime"],
    ),
    ("strong-session-serializable", &["G1-process", "G2-process"]),
    ("PL-3U", &["G1", "G-update"]),
];

/// `anomaly -> anomalies it implies` (its presence shows those too).
const ANOMALY_IMPLIES: &[(&str, &[&str])] = &[
    ("G0", &["G1c", "G0-process"]),
    ("G0-process", &["G1c-process", "G0-realtime"]),
    ("G0-realtime", &["G1c-realtime"]),
    ("G1a", &["G1"]),
    ("G1b", &["G1"]),
    ("G1c", &["G1", "G1c-process"]),
    ("G1c-process", &["G1c-realtime", "G1-process"]),
    ("G1c-realtime", &["G1-realtime"]),
    ("G1", &["G1-process"]),
    ("G1-process", &["G1-realtime"]),
    ("G-single", &["G-nonadjacent", "GSIb", "G-single-process"]),
    (
        "G-single-process",
        &["G-nonadjacent-process", "G-single-realtime"],
    ),
    ("G-single-realtime", &["G-nonadjacent-realtime"]),
    ("G-nonadjacent", &["G2", "G-nonadjacent-process"]),
    (
        "G-nonadjacent-process",
        &["G2-process", "G-nonadjacent-realtime"],
    ),
    ("G-nonadjacent-realtime", &["G2-realtime"]),
    ("G2", &["G2-process"]),
    ("G2-item", &["G2", "G2-item-process"]),
    ("G2-item-process", &["G2-process", "G2-item-realtime"]),
    ("G2-item-realtime", &["G2-realtime"]),
    ("G2-process", &["G2-realtime"]),
    ("GSIa", &["GSI"]),
    ("GSIb", &["GSI"]),
    ("incompatible-order", &["G1a"]),
    ("future-read", &["G1c"]),
    ("dirty-update", &["G1a"]),
    ("lost-update", &["write-skew", "G2-item"]),
    ("write-skew", &["G2"]),
];

/// Anomalies we report and fail on whatever the model: `internal` (Elle leaves it out of
/// read-committed; a transaction that does not see its own writes is broken at any level) and
/// a read of a value nobody wrote.
pub const ALWAYS_PROHIBITED: &[&str] = &["internal", "garbage-read"];

fn canonical(model: &str) -> &str {
    ALIASES
        .iter()
        .find(|(friendly, _)| *friendly == model)
        .map_or(model, |(_, canonical)| canonical)
}

/// Every model name we know, friendly and canonical, sorted.
pub fn known_models() -> BTreeSet<&'static str> {
    let mut all = BTreeSet::new();
    for (friendly, canonical) in ALIASES {
        all.insert(*friendly);
        all.insert(*canonical);
    }
    for (model, implied) in IMPLIES {
        all.insert(*model);
        all.extend(implied.iter().copied());
    }
    all
}

/// Checks `--consistency-models` (comma separated, as Elle's names) and returns the names,
/// or why not, naming the known models.
pub fn parse_models(text: &str) -> Result<Vec<String>, String> {
    let known = known_models();
    let models: Vec<String> = text
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(String::from)
        .collect();
    if models.is_empty() {
        return Err("no consistency model given".into());
    }
    for model in &models {
        if !known.contains(model.as_str()) {
            let names: Vec<&str> = known.into_iter().collect();
            return Err(format!(
                "unknown consistency model {model:?}; known models: {}",
                names.join(", ")
            ));
        }
    }
    Ok(models)
}

/// Whether the prohibited set holds an anomaly only anti-dependency (rw) edges can show, so
/// the checker must infer them (they cost the most to build).
pub fn needs_anti_dependencies(prohibited: &BTreeSet<&str>) -> bool {
    [
        "G-single",
        "G2-item",
        "G2-item-realtime",
        "G-single-realtime",
    ]
    .iter()
    .any(|a| prohibited.contains(a))
}

/// The anomalies that cannot be present if all of `models` hold, plus
/// [`ALWAYS_PROHIBITED`]. Unknown names contribute nothing (check with [`parse_models`]).
pub fn prohibited(models: &[String]) -> BTreeSet<&'static str> {
    // Every model implied by the given ones.
    let mut stack: Vec<&str> = models.iter().map(|m| canonical(m)).collect();
    let mut implied: BTreeSet<&str> = BTreeSet::new();
    while let Some(m) = stack.pop() {
        if implied.insert(m) {
            if let Some((_, next)) = IMPLIES.iter().find(|(k, _)| *k == m) {
                stack.extend(next.iter().map(|n| canonical(n)));
            }
        }
    }
    // Their direct proscriptions ...
    let mut out: BTreeSet<&'static str> = ALWAYS_PROHIBITED.iter().copied().collect();
    let mut stack: Vec<&'static str> = Vec::new();
    for (model, anomalies) in PROSCRIBES {
        if implied.contains(canonical(model)) {
            stack.extend(anomalies.iter().copied());
        }
    }
    // ... and every anomaly that implies one of them.
    while let Some(a) = stack.pop() {
        if out.insert(a) {
            for (cause, effects) in ANOMALY_IMPLIES {
                if effects.contains(&a) {
                    stack.push(cause);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(models: &[&str]) -> BTreeSet<&'static str> {
        prohibited(&models.iter().map(|m| m.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn read_uncommitted_prohibits_g0_but_not_g1() {
        let p = set(&["read-uncommitted"]);
        for a in ["G0", "duplicate-elements", "cyclic-versions", "internal"] {
            assert!(p.contains(a), "{a}");
        }
        for a in ["G1a", "G1b", "G1c", "G-single", "G0-process", "G0-realtime"] {
            assert!(!p.contains(a), "{a}");
        }
    }

    #[test]
    fn read_committed_adds_g1_and_its_causes() {
        let p = set(&["read-committed"]);
        for a in [
            "G0",
            "G1a",
            "G1b",
            "G1c",
            "incompatible-order",
            "dirty-update",
            "future-read",
        ] {
            assert!(p.contains(a), "{a}");
        }
        for a in ["G-single", "G2-item", "G1c-process", "lost-update"] {
            assert!(!p.contains(a), "{a}");
        }
    }

    #[test]
    fn serializable_and_strict_serializable() {
        let s = set(&["serializable"]);
        for a in ["G-single", "G2-item", "lost-update", "G1c"] {
            assert!(s.contains(a), "{a}");
        }
        assert!(!s.contains("G2-item-realtime"));
        let ss = set(&["strict-serializable"]);
        for a in [
            "G0-realtime",
            "G1c-realtime",
            "G-single-realtime",
            "G2-item-realtime",
            "G-single-process",
            "G2-item-process",
        ] {
            assert!(ss.contains(a), "{a}");
        }
    }

    #[test]
    fn unknown_model_names_the_known_ones() {
        let e = parse_models("read-comitted").unwrap_err();
        assert!(
            e.contains("read-comitted") && e.contains("read-committed"),
            "{e}"
        );
        assert_eq!(
            parse_models("serializable, read-committed").unwrap(),
            ["serializable", "read-committed"]
        );
    }
}
