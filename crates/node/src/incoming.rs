//! The input side of the [`Engine`]: reading a line (the one-pass scanner, or serde for
//! unusual lines), routing it (a reply to its RPC, `init`, a request to the node) and
//! answering what cannot be used with an error.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::{Engine, Node, QUOTE_LIMIT};
use crate::protocol::{
    self, truncated, write_json_str, Envelope, ErrorBody, ErrorCode, Header, RpcError,
};
use crate::read::BodyReader;
use crate::reply_to::ReplyTo;
use crate::scan::Scanned;

/// The body of `init`.
#[derive(Deserialize)]
struct InitBody {
    node_id: String,
    node_ids: Vec<String>,
}

#[derive(Serialize)]
struct InitOk {
    #[serde(rename = "type")]
    ty: &'static str,
}

/// Just the `msg_id` of a body whose other reserved fields are unusable.
#[derive(Deserialize)]
struct MsgIdOnly {
    #[serde(default)]
    msg_id: Option<u64>,
}

impl<N: Node> Engine<N> {
    /// Handles one input line (without its newline) that arrived at `now`.
    ///
    /// `init` is handled here: the ids are stored, `init_ok` is sent, then [`Node::on_init`]
    /// runs. A body with `in_reply_to` goes to the continuation of the RPC it answers (or is
    /// logged and dropped when there is none, e.g. after a timeout). Everything else is
    /// deserialized into [`Node::Request`] and given to [`Node::on_request`].
    ///
    /// Bad input never panics: it is logged, answered with error 12 (malformed-request) or 10
    /// (not-supported, for an unknown `type`) when it has a `msg_id`, and the engine goes on.
    /// Requests before `init` are answered with error 11 (temporarily-unavailable).
    ///
    /// Timers are not fired here: call [`Engine::advance`] for that.
    pub fn handle_line(&mut self, line: &[u8], now: Duration) {
        self.ctx.set_now(now);
        let blank_start = match line.first() {
            None => true,
            Some(b) => b.is_ascii_whitespace(),
        };
        if blank_start && line.iter().all(|b| b.is_ascii_whitespace()) {
            return;
        }
        // Validating UTF-8 once up front lets serde_json parse without re-checking every string.
        let text = match std::str::from_utf8(line) {
            Ok(text) => text,
            Err(e) => {
                let what = format!("not a message envelope (not UTF-8: {e})");
                self.diagnose(line, format_args!("{what}"));
                self.answer_salvaged(crate::salvage::address(line, None), &what);
                return;
            }
        };
        if self.ctx.initialized && self.deliver_unscanned(text) {
            return;
        }
        match crate::scan::scan(text) {
            Some(msg) if msg.body_checked => self.dispatch(line, msg, false),
            Some(msg) => self.dispatch_unchecked(line, text, msg),
            None => self.handle_unusual(line, text),
        }
    }

    /// The fastest path, for a request of the plain shape: the envelope is read up to the
    /// body, the body's `type` found at either end of it, and the node's hand reader walks the
    /// body (the only walk over it); then what the reader saw of the body's top-level keys
    /// confirms the header. Whether the request was delivered: when not, nothing happened
    /// (the reader's result is dropped) and the line takes [`crate::scan::scan`].
    #[inline]
    fn deliver_unscanned(&mut self, text: &str) -> bool {
        let Some(msg) = crate::scan::scan_request(text) else {
            return false;
        };
        // Replies (`*_ok`, `error`) carry `in_reply_to`: not worth a walk that would be
        // refused.
        if msg.ty == "init" || msg.ty == "error" || msg.ty.ends_with("_ok") {
            return false;
        }
        let mut reader = BodyReader::with_type_at(msg.body, msg.ty_at, msg.ty);
        let Some(req) = N::read_request(msg.ty, &mut reader) else {
            return false;
        };
        let Some(msg_id) = reader.request_header(msg.ty, msg.ty_at) else {
            return false;
        };
        self.deliver(req, msg.src, msg_id);
        true
    }

    /// A line whose body the scanner only skipped: a request the node's hand-written reader
    /// takes, having walked (and so validated) the whole body, goes straight to the node;
    /// anything else has its body validated first, and a line with an invalid body takes
    /// the careful path, exactly as if the scanner had refused it.
    fn dispatch_unchecked(&mut self, line: &[u8], text: &str, msg: Scanned<'_>) {
        let mut reader_refused = false;
        if let (None, Some(ty), true) = (msg.in_reply_to, msg.ty, self.ctx.initialized) {
            if ty != "init" {
                let mut reader = BodyReader::new(msg.body);
                match N::read_request(ty, &mut reader) {
                    Some(req) if reader.walked_all() || crate::scan::valid_body(msg.body) => {
                        self.deliver(req, msg.src, msg.msg_id);
                        return;
                    }
                    Some(_) => return self.handle_unusual(line, text),
                    None => reader_refused = true,
                }
            }
        }
        if !crate::scan::valid_body(msg.body) {
            return self.handle_unusual(line, text);
        }
        self.dispatch(line, msg, reader_refused);
    }

    /// The careful path for a line the fast scanner did not take (escapes, duplicates, syntax
    /// errors...): serde reads the envelope and the header, and explains what is wrong.
    #[cold]
    #[inline(never)]
    fn handle_unusual(&mut self, line: &[u8], text: &str) {
        let env: Envelope = match serde_json::from_str(text) {
            Ok(env) => env,
            Err(e) => {
                self.diagnose(line, format_args!("not a message envelope ({e})"));
                return;
            }
        };
        let body = env.body.get();
        let header: Header = match serde_json::from_str(body) {
            Ok(header) => header,
            Err(e) => {
                self.diagnose(line, format_args!("unusable message body ({e})"));
                // The body may still be an object with a usable msg_id (e.g. a non-string type).
                if let Ok(MsgIdOnly { msg_id: Some(id) }) = serde_json::from_str(body) {
                    let text = format!("malformed request: {e}");
                    self.answer_error(&env.src, &env.dest, id, ErrorCode::MalformedRequest, &text);
                }
                return;
            }
        };
        let msg = Scanned {
            src: &env.src,
            dest: &env.dest,
            body,
            ty: header.ty.as_deref(),
            msg_id: header.msg_id,
            in_reply_to: header.in_reply_to,
            body_checked: true,
        };
        self.dispatch(line, msg, false);
    }

    /// Routes a read message (its body validated): a reply to its RPC, `init` to the runtime,
    /// a request to the node. `reader_refused` is set when the node's hand-written reader
    /// already gave `None` for this body (it is not asked again).
    fn dispatch(&mut self, line: &[u8], msg: Scanned<'_>, reader_refused: bool) {
        let Scanned {
            src,
            dest,
            body,
            ty,
            msg_id,
            in_reply_to,
            body_checked: _,
        } = msg;
        if let Some(in_reply_to) = in_reply_to {
            self.route_reply(src, in_reply_to, ty, body);
            return;
        }

        let Some(ty) = ty else {
            self.diagnose(line, format_args!("body has no \"type\""));
            if let Some(id) = msg_id {
                self.answer_error(
                    src,
                    dest,
                    id,
                    ErrorCode::MalformedRequest,
                    "malformed request: missing field `type`",
                );
            }
            return;
        };

        if ty == "init" {
            self.handle_init(line, src, dest, msg_id, body);
            return;
        }

        if !self.ctx.initialized {
            self.diagnose(line, format_args!("{ty:?} before init"));
            if let Some(id) = msg_id {
                self.answer_error(
                    src,
                    dest,
                    id,
                    ErrorCode::TemporarilyUnavailable,
                    "node is not initialised yet",
                );
            }
            return;
        }

        let read = match reader_refused {
            true => None,
            false => N::read_request(ty, &mut BodyReader::new(body)),
        };
        let parsed = match read {
            Some(req) => Ok(req),
            None => crate::body::parse::<N::Request<'_>>(ty, body),
        };
        match parsed {
            Ok(req) => self.deliver(req, src, msg_id),
            Err(e) => self.refuse_request(line, src, dest, ty, msg_id, &e),
        }
    }

    /// Gives a request to the node.
    #[inline]
    fn deliver(&mut self, req: N::Request<'_>, src: &str, msg_id: Option<u64>) {
        let mut from = ReplyTo::new(src, msg_id);
        if let Some(msg_id) = msg_id {
            from.request = self.ctx.answers.open(&from.src, msg_id);
        }
        self.node.on_request(&mut self.ctx, req, from);
        self.settle();
    }

    /// Logs a request its type could not be deserialized into, and answers it with error 10
    /// (an unknown `type`) or 12.
    #[cold]
    fn refuse_request(
        &mut self,
        line: &[u8],
        src: &str,
        dest: &str,
        ty: &str,
        msg_id: Option<u64>,
        e: &serde_json::Error,
    ) {
        let (code, text) = if is_unknown_variant(e, ty) {
            (
                ErrorCode::NotSupported,
                format!("unsupported message type {ty:?}"),
            )
        } else {
            (
                ErrorCode::MalformedRequest,
                format!("malformed {ty:?} request: {e}"),
            )
        };
        // serde quotes the offending value, which may be most of a huge line.
        let text = truncated(text.as_bytes(), QUOTE_LIMIT);
        self.diagnose(line, format_args!("{text}"));
        if let Some(id) = msg_id {
            self.answer_error(src, dest, id, code, &text);
        }
    }

    fn handle_init(&mut self, line: &[u8], src: &str, dest: &str, msg_id: Option<u64>, body: &str) {
        let init: InitBody = match serde_json::from_str(body) {
            Ok(init) => init,
            Err(e) => {
                let text = format!("malformed \"init\" request: {e}");
                self.diagnose(line, format_args!("{text}"));
                if let Some(id) = msg_id {
                    self.answer_error(src, dest, id, ErrorCode::MalformedRequest, &text);
                }
                return;
            }
        };
        let first = !self.ctx.initialized;
        if first {
            self.ctx.src_prefix.clear();
            self.ctx.src_prefix.extend_from_slice(b"{\"src\":");
            write_json_str(&mut self.ctx.src_prefix, &init.node_id);
            self.ctx.head = crate::fields::Head::new(&self.ctx.src_prefix);
            self.ctx.node_id = init.node_id;
            self.ctx.node_ids = init.node_ids;
            self.ctx.initialized = true;
        } else {
            self.diagnose(line, format_args!("second init ignored (answered init_ok)"));
        }
        let from = ReplyTo::new(src, msg_id);
        self.ctx.reply(&from, InitOk { ty: "init_ok" });
        if first {
            self.node.on_init(&mut self.ctx);
            self.settle();
        }
    }

    fn route_reply(&mut self, src: &str, in_reply_to: u64, ty: Option<&str>, body: &str) {
        let Some(pending) = self.ctx.pending.remove(&in_reply_to) else {
            self.ctx.log(format_args!(
                "dropped reply from {} in_reply_to {in_reply_to}: no pending rpc (timed out, answered already, or never sent): {}",
                src,
                truncated(body.as_bytes(), QUOTE_LIMIT)
            ));
            return;
        };
        self.ctx.queue.remove(&pending.key);
        let outcome = if ty == Some("error") {
            match serde_json::from_str::<ErrorBody>(body) {
                Ok(err) => Err(RpcError::new(err.code, err.text)),
                Err(e) => {
                    self.ctx.log(format_args!(
                        "malformed error reply from {}: {e}: {}",
                        src,
                        truncated(body.as_bytes(), QUOTE_LIMIT)
                    ));
                    Err(RpcError::new(
                        ErrorCode::MalformedRequest,
                        format!("malformed error reply: {e}"),
                    ))
                }
            }
        } else {
            Ok(body)
        };
        (pending.then)(&mut self.node, &mut self.ctx, outcome);
        self.settle();
    }

    /// Logs a problem with an input line.
    pub(crate) fn diagnose(&mut self, line: &[u8], what: fmt::Arguments) {
        let quoted = truncated(line, QUOTE_LIMIT);
        self.ctx.log(format_args!("bad input: {what}: {quoted}"));
    }

    /// Answers `src` with an error, also before init (our id is then `dest`).
    fn answer_error(&mut self, src: &str, dest: &str, msg_id: u64, code: ErrorCode, text: &str) {
        self.answer_error_to(src, dest, msg_id, code, text);
    }

    /// Answers `requester` with an error; `addressed_to` is the request's `dest`, our id
    /// before init.
    pub(crate) fn answer_error_to(
        &mut self,
        requester: &str,
        addressed_to: &str,
        msg_id: u64,
        code: ErrorCode,
        text: &str,
    ) {
        let body = ErrorBody::new(code, text);
        let src: &str = if self.ctx.initialized {
            &self.ctx.node_id
        } else {
            addressed_to
        };
        let _ =
            protocol::write_message(&mut self.ctx.out, src, requester, &body, Some(msg_id), None);
    }
}

/// Whether `err` is serde's "unknown variant `ty`" for the message type itself.
fn is_unknown_variant(err: &serde_json::Error, ty: &str) -> bool {
    let msg = err.to_string();
    msg.strip_prefix("unknown variant `")
        .and_then(|rest| rest.strip_prefix(ty))
        .is_some_and(|rest| rest.starts_with('`'))
}
