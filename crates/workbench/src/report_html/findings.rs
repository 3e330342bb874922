//! The verdict and the findings in words, rendered from `results.json` generically: every
//! checker's map (`workload`, `stats`, `availability`, `net`, `perf`, and whatever a new
//! workload adds) becomes a section with its verdict, its figures and its anomalies, each
//! anomaly linked to the ops it names and, where one was drawn, to its trail.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

use super::html::{escape, op_links_in, validity_class, validity_word};

/// Keys of the results map that are not checkers.
const NOT_CHECKERS: &[&str] = &["valid", "test", "errors", "errors_not_shown", "aborted"];

/// Figures longer than this (as JSON) are folded.
const FOLD_AT: usize = 160;

/// `trail_of_op`: an op index to the id of the trail that explains it; `trail_of_finding`: a
/// finding's id (`finding-<checker>-<i>`) to the id of its own trail, which wins.
pub fn render(
    results: &Value,
    trail_of_op: &HashMap<usize, String>,
    trail_of_finding: &HashMap<String, String>,
) -> String {
    let mut s = String::new();
    let Some(map) = results.as_object() else {
        s.push_str("<p>No results.json: the history was not checked.</p>");
        return s;
    };
    if results["aborted"] == Value::Bool(true) {
        s.push_str("<p class=\"bad\">The run was cut short (aborted): see the errors below.</p>");
    }
    if let Some(errors) = results["errors"].as_array().filter(|e| !e.is_empty()) {
        s.push_str("<section class=\"check\"><h3>Errors noticed during the run</h3><ul>");
        for e in errors {
            let severity = e["severity"].as_str().unwrap_or("error");
            let _ = write!(
                s,
                "<li class=\"{}\"><b>{}</b>{}: {}</li>",
                if severity == "error" { "bad" } else { "warn" },
                escape(severity),
                e["node"]
                    .as_str()
                    .map(|n| format!(" ({})", escape(n)))
                    .unwrap_or_default(),
                op_links_in(&escape(e["message"].as_str().unwrap_or("")))
            );
        }
        if let Some(n) = results["errors_not_shown"].as_u64().filter(|&n| n > 0) {
            let _ = write!(s, "<li>… and {n} more not kept</li>");
        }
        s.push_str("</ul></section>");
    }
    // Invalid checkers first, then unknown, then valid; by name within each.
    let mut checkers: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, v)| !NOT_CHECKERS.contains(&k.as_str()) && v.is_object())
        .collect();
    checkers.sort_by_key(|(k, v)| {
        let rank = match &v["valid"] {
            Value::Bool(false) => 0,
            Value::Bool(true) => 2,
            _ => 1,
        };
        (rank, (*k).clone())
    });
    for (name, check) in checkers {
        render_checker(&mut s, name, check, trail_of_op, trail_of_finding);
    }
    s
}

fn render_checker(
    s: &mut String,
    name: &str,
    check: &Value,
    trail_of_op: &HashMap<usize, String>,
    trail_of_finding: &HashMap<String, String>,
) {
    let valid = &check["valid"];
    let anomalies = check["anomalies"].as_array().map_or(&[][..], |a| &a[..]);
    let open = if *valid != Value::Bool(true) || !anomalies.is_empty() {
        " open"
    } else {
        ""
    };
    let _ = write!(
        s,
        "<details class=\"check {}\" id=\"check-{name}\"{open}><summary><b>{}</b> \
         <span class=\"badge {}\">{}</span>{}</summary>",
        validity_class(valid),
        escape(name),
        validity_class(valid),
        validity_word(valid),
        if anomalies.is_empty() {
            String::new()
        } else {
            format!(
                " · {} finding{}",
                anomalies.len(),
                if anomalies.len() == 1 { "" } else { "s" }
            )
        }
    );
    if !anomalies.is_empty() {
        s.push_str("<ol class=\"findings\">");
        for (i, a) in anomalies.iter().enumerate() {
            let kind = a["kind"].as_str().unwrap_or("anomaly");
            let ops: Vec<usize> = a["ops"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|o| o.as_u64())
                        .map(|o| o as usize)
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(
                s,
                "<li class=\"finding\" id=\"finding-{name}-{i}\" data-kind=\"{}\"><b>{}</b>: {}",
                escape(kind),
                escape(kind),
                op_links_in(&escape(a["message"].as_str().unwrap_or("")))
            );
            if !ops.is_empty() {
                s.push_str(" <span class=\"ops\">ops:");
                for op in &ops {
                    let _ = write!(s, " <a class=\"op\" href=\"#op-{op}\">{op}</a>");
                }
                s.push_str("</span>");
            }
            let own = trail_of_finding.get(&format!("finding-{name}-{i}"));
            if let Some(trail) = own.or_else(|| ops.iter().find_map(|op| trail_of_op.get(op))) {
                let _ = write!(
                    s,
                    " <a class=\"trail-link\" href=\"#{trail}\">→ its trail</a>"
                );
            }
            s.push_str("</li>");
        }
        s.push_str("</ol>");
    }
    let figures: Vec<(&String, &Value)> = check
        .as_object()
        .map(|m| {
            m.iter()
                .filter(|(k, _)| k.as_str() != "valid" && k.as_str() != "anomalies")
                .collect()
        })
        .unwrap_or_default();
    if !figures.is_empty() {
        s.push_str("<table class=\"figures\">");
        for (k, v) in figures {
            let text = compact(v);
            let shown = if text.len() > FOLD_AT {
                let cut = text
                    .char_indices()
                    .take_while(|(i, _)| *i < FOLD_AT)
                    .last()
                    .map_or(0, |(i, c)| i + c.len_utf8());
                format!(
                    "<details><summary><code>{}…</code> ({} bytes)</summary><code>{}</code>\
                     </details>",
                    escape(&text[..cut]),
                    text.len(),
                    escape(&text)
                )
            } else {
                format!("<code>{}</code>", escape(&text))
            };
            let _ = write!(s, "<tr><th>{}</th><td>{shown}</td></tr>", escape(k));
        }
        s.push_str("</table>");
    }
    s.push_str("</details>");
}

/// One-line JSON, with numbers as written.
pub fn compact(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if n.is_f64() => {
                let r = (f * 1e4).round() / 1e4;
                r.to_string()
            }
            _ => n.to_string(),
        },
        _ => v.to_string(),
    }
}
