//! The wire check: turns a line a node wrote into a routed message, or a named diagnostic.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{NodeOutput, Role, Runner, Severity};
use crate::net::Addr;

/// A line a node writes: Maelstrom's envelope schema is closed (only `src`, `dest`, `body`
/// and an optional integer `id`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WireEnvelope {
    src: String,
    dest: String,
    body: Value,
    /// Must be an integer when present (checked, then unused: the network numbers messages).
    id: Option<Value>,
}

impl Runner<'_> {
    pub(super) fn on_node_output(&mut self, output: NodeOutput) {
        match output {
            NodeOutput::Exited { node, detail } => {
                self.abort(Some(node), format!("n{node} exited: {detail}"));
            }
            NodeOutput::Line { node, line } => self.on_node_line(node, &line),
        }
    }

    pub(super) fn on_node_line(&mut self, node: u32, line: &[u8]) {
        // Only for diagnostics: formatted when one is needed, never on the happy path.
        let shown = ShownLine(line);
        let envelope: WireEnvelope = match serde_json::from_slice(line) {
            Ok(e) => e,
            Err(e) => {
                let problem = if serde_json::from_slice::<Value>(line).is_ok() {
                    format!("is not a Maelstrom message ({e}); a message is {{\"src\", \"dest\", \"body\"}} and nothing else")
                } else {
                    format!("is not JSON ({e}); stdout is only for messages, log to stderr")
                };
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-line",
                    format!("n{node} wrote a line that {problem}: {shown}"),
                );
            }
        };
        let body = match envelope.body {
            Value::Object(map) => map,
            Value::Null => Map::new(),
            other => {
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-body",
                    format!(
                        "n{node} sent a message whose body is not a JSON object ({}): {shown}",
                        kind_of(&other)
                    ),
                )
            }
        };
        if envelope.id.as_ref().is_some_and(|id| !id.is_i64()) {
            return self.diagnose(
                Severity::Error,
                Some(node),
                "bad-id",
                format!("n{node} sent a message whose top-level `id` is not an integer: {shown}"),
            );
        }
        let src = match Addr::parse(&envelope.src, self.opts.node_count) {
            Some(Addr::Node(n)) if n == node => Addr::Node(n),
            // Maelstrom routes a message sent in another node's name; so do we, but say so.
            Some(Addr::Node(other)) => {
                self.diagnose(
                    Severity::Warning,
                    Some(node),
                    "other-src",
                    format!("n{node} sent a message as n{other}: {shown}"),
                );
                Addr::Node(other)
            }
            _ => {
                return self.diagnose(
                    Severity::Error,
                    Some(node),
                    "bad-src",
                    format!(
                        "n{node} sent a message with src {:?}; a node must send as its own id (was init handled?): {shown}",
                        envelope.src
                    ),
                )
            }
        };
        let Some(dest) = Addr::parse(&envelope.dest, self.opts.node_count) else {
            return self.diagnose(
                Severity::Error,
                Some(node),
                "bad-dest",
                format!(
                    "n{node} sent a message to {:?}, which is not a node, client or service of this test: {shown}",
                    envelope.dest
                ),
            );
        };
        if let Addr::Client(c) = dest {
            match self.clients.get(c as usize) {
                Some(client) if client.open => {}
                Some(client) => {
                    // Maelstrom throws here and stops reading this node's stdout for the rest
                    // of the test, so a node that does this fails there: an error here too.
                    let which = match client.role {
                        Role::Worker(_) => {
                            "whose worker had given up on it (a timeout or an indeterminate \
                             reply) and had since moved on to its next operation with a new client"
                        }
                        Role::Init(_) => "which sent init and closed after the init_ok",
                        Role::Setup(_) => "which closed at the end of the test",
                    };
                    return self.diagnose(
                        Severity::Error,
                        Some(node),
                        "closed-client",
                        format!(
                            "n{node} sent a message to c{c}, a client {which}; Maelstrom stops \
                             reading a node's output when this happens: {shown}"
                        ),
                    );
                }
                None => {
                    return self.diagnose(
                        Severity::Error,
                        Some(node),
                        "bad-dest",
                        format!(
                            "n{node} sent a message to c{c}, a client that never existed: {shown}"
                        ),
                    )
                }
            }
        }
        self.send(src, dest, body);
    }
}

pub(super) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A line as shown in a diagnostic: quoted, lossy UTF-8, cut at 200 characters.
pub(super) struct ShownLine<'a>(&'a [u8]);

impl std::fmt::Display for ShownLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = String::from_utf8_lossy(self.0);
        let mut shown: String = text.chars().take(200).collect();
        if text.chars().count() > 200 {
            shown.push('…');
        }
        write!(f, "{shown:?}")
    }
}
