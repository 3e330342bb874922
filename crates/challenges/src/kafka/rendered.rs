//! A key's log as `poll_ok` lists it, rendered once: polls return the same messages again and
//! again (a consumer's position moves only when its commit does, and the final phase reads
//! every log from 0), and rendering each `[offset, msg]` pair anew for every poll was most
//! of the cost of answering one. A message never changes once in the log, so its text does
//! not either: a poll copies the text of its range.

use std::ops::Range;

use glomers_node::{write_i64, write_u64};
use serde_json::Value;

/// `[offset,msg]` pairs of a log's first messages, joined by commas, and where each ends.
#[derive(Debug, Default)]
pub struct RenderedPairs {
    /// UTF-8 (written from integers and serde's text).
    text: Vec<u8>,
    /// `ends[o]`: the end of pair `o` in `text` (the next pair starts after a comma).
    ends: Vec<usize>,
}

impl RenderedPairs {
    /// Renders the pairs of `msgs[..end]` not rendered yet.
    pub fn extend(&mut self, msgs: &[Value], end: usize) {
        let from = self.ends.len();
        if end <= from {
            return;
        }
        // Room for small integers' pairs at once.
        self.text.reserve((end - from) * 12);
        self.ends.reserve(end - from);
        for (offset, msg) in msgs[from..end].iter().enumerate() {
            let offset = from + offset;
            if offset > 0 {
                self.text.push(b',');
            }
            self.text.push(b'[');
            write_u64(&mut self.text, offset as u64);
            self.text.push(b',');
            push_msg(&mut self.text, msg);
            self.text.push(b']');
            self.ends.push(self.text.len());
        }
    }

    /// Appends the JSON array of the pairs of `range` (rendered: see [`RenderedPairs::extend`])
    /// to `out`.
    pub fn array(&self, range: Range<usize>, out: &mut Vec<u8>) {
        out.push(b'[');
        if !range.is_empty() {
            let start = match range.start {
                0 => 0,
                // After the previous pair and its comma.
                s => self.ends[s - 1] + 1,
            };
            out.extend_from_slice(&self.text[start..self.ends[range.end - 1]]);
        }
        out.push(b']');
    }
}

/// A message as [`super::wire`] writes one: integers by hand, anything else by serde.
fn push_msg(out: &mut Vec<u8>, msg: &Value) {
    if let Some(n) = msg.as_u64() {
        write_u64(out, n);
    } else if let Some(n) = msg.as_i64() {
        write_i64(out, n);
    } else {
        serde_json::to_writer(out, msg).expect("a JSON value serializes");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::rand::{Rng, SeedableRng};
    use serde_json::json;

    /// Logs of random messages (integers of both signs, other values), rendered a few at a
    /// time: every range's text is what serde writes for the array of its pairs.
    #[test]
    fn a_range_is_the_text_serde_writes_for_its_pairs() {
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let others = [
            json!(1.5),
            json!("a\"b\n"),
            json!(null),
            json!({"x": [1, "é"]}),
            json!(i64::MIN),
            json!(u64::MAX),
        ];
        for _ in 0..200 {
            let mut msgs = Vec::new();
            let mut rendered = RenderedPairs::default();
            for _ in 0..rng.gen_range(0..40) {
                msgs.push(match rng.gen_range(0..4) {
                    0 => json!(rng.gen_range(0..20)),
                    1 => json!(rng.gen::<i64>()),
                    2 => json!(rng.gen::<u64>()),
                    _ => others[rng.gen_range(0..others.len())].clone(),
                });
                let end = rng.gen_range(0..=msgs.len());
                rendered.extend(&msgs, end.max(rendered.ends.len()));
                let start = rng.gen_range(0..=rendered.ends.len());
                let end = rng.gen_range(start..=rendered.ends.len());
                let mut text = b"x".to_vec();
                rendered.array(start..end, &mut text);
                let text = String::from_utf8(text).unwrap();
                let pairs: Vec<Value> = (start..end).map(|o| json!([o, msgs[o]])).collect();
                assert_eq!(text, format!("x{}", Value::Array(pairs)));
            }
        }
    }
}
