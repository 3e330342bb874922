//! The txn node's hot messages by hand: requests read with [`BodyReader`]
//! ([`glomers_node::Node::read_request`]; a `txn`'s micro-ops and a `replicate` batch in one
//! walk over the body, several times cheaper than serde's derived deserializers, anything
//! unusual left to serde), and `txn_ok` written field by field.

use glomers_node::{BodyReader, Ctx, FieldSet, Node, ReplyTo};

use super::compact::CompactTxn;
use super::{Fun, MicroOp, Request, Update};
use crate::decimal::plain_i64;
use glomers_node::write_i64;

/// Reads a `txn` or `replicate` body; `None` leaves it to serde.
pub fn read<'a>(ty: &str, r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    let request = match ty {
        "txn" => read_txn(r)?,
        "replicate" => read_replicate(r)?,
        _ => return None,
    };
    r.end()?;
    Some(request)
}

fn read_txn<'a>(r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    let mut txn = None;
    r.object()?;
    while let Some(key) = r.key()? {
        match key {
            "txn" if txn.is_none() => txn = Some(micro_ops(r)?),
            "txn" => return None,
            _ => r.skip()?,
        }
    }
    txn
}

fn read_replicate<'a>(r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    let (mut seq, mut updates, mut acks) = (None, None, None);
    let mut seen = FieldSet::default();
    r.object()?;
    while let Some(key) = r.key()? {
        match key {
            "seq" if seen.first(0) => seq = r.opt_u64()?,
            "updates" if seen.first(1) => updates = Some(list(r, update)?),
            "acks" if seen.first(2) => acks = Some(list(r, BodyReader::u64)?),
            "seq" | "updates" | "acks" => return None,
            _ => r.skip()?,
        }
    }
    Some(Request::Replicate {
        seq,
        updates: updates?,
        acks: acks?,
    })
}

/// An array whose elements `element` reads.
fn list<'a, T>(
    r: &mut BodyReader<'a>,
    mut element: impl FnMut(&mut BodyReader<'a>) -> Option<T>,
) -> Option<Vec<T>> {
    let mut out = Vec::new();
    r.array()?;
    while r.more()? {
        out.push(element(r)?);
    }
    Some(out)
}

/// A transaction's micro-ops: written compactly as the clients write them
/// (`[["r",1,null],["w",2,3]]`), checked in one pass over the bytes, with no validation to
/// repeat (the compact form is valid JSON by construction) and kept as text for the node to
/// run ([`CompactTxn`]); with longer integers, read in one pass; in any other form, element
/// by element with [`micro_op`].
fn micro_ops<'a>(r: &mut BodyReader<'a>) -> Option<Request<'a>> {
    if let Some((txn, used)) = CompactTxn::read(r.rest()) {
        r.advance(used);
        return Some(Request::TxnText(txn));
    }
    if let Some((txn, used)) = compact_micro_ops(r.rest().as_bytes()) {
        r.advance(used);
        return Some(Request::Txn { txn });
    }
    list(r, micro_op).map(|txn| Request::Txn { txn })
}

/// `[["r",1,null],["w",2,3]]` without whitespace at the start of `b`, each integer as
/// [`BodyReader::i64`] takes it, and how many bytes it takes; `None` for anything else.
fn compact_micro_ops(b: &[u8]) -> Option<(Vec<MicroOp>, usize)> {
    if b.starts_with(b"[]") {
        return Some((Vec::new(), 2));
    }
    if b.first() != Some(&b'[') {
        return None;
    }
    let mut ops = Vec::new();
    let mut i = 1;
    loop {
        let f = match b.get(i..i + 5)? {
            b"[\"r\"," => Fun::Read,
            b"[\"w\"," => Fun::Write,
            _ => return None,
        };
        let (key, used) = plain_i64(&b[i + 5..])?;
        i += 5 + used;
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
        let value = if b[i..].starts_with(b"null") {
            i += 4;
            None
        } else {
            let (v, used) = plain_i64(&b[i..])?;
            i += used;
            Some(v)
        };
        ops.push((f, key, value));
        match b.get(i..i + 2)? {
            b"]," => i += 2,
            b"]]" => return Some((ops, i + 2)),
            _ => return None,
        }
    }
}

/// `["r", 1, null]` or `["w", 2, 3]`: exactly three elements.
fn micro_op(r: &mut BodyReader<'_>) -> Option<MicroOp> {
    r.array()?;
    r.more()?.then_some(())?;
    let f = match r.str()? {
        "r" => Fun::Read,
        "w" => Fun::Write,
        _ => return None,
    };
    r.more()?.then_some(())?;
    let key = r.i64()?;
    r.more()?.then_some(())?;
    let value = r.opt_i64()?;
    (!r.more()?).then_some((f, key, value))
}

/// `[key, value, [counter, node]]`.
fn update(r: &mut BodyReader<'_>) -> Option<Update> {
    r.array()?;
    r.more()?.then_some(())?;
    let key = r.i64()?;
    r.more()?.then_some(())?;
    let value = r.i64()?;
    r.more()?.then_some(())?;
    r.array()?;
    r.more()?.then_some(())?;
    let counter = r.u64()?;
    r.more()?.then_some(())?;
    let node = u32::try_from(r.u64()?).ok()?;
    (!r.more()?).then_some(())?;
    (!r.more()?).then_some((key, value, (counter, node)))
}

/// Answers `{"type":"txn_ok","txn":[["r",1,null],["w",2,3]]}`. The array is rendered into
/// `scratch` (kept by the node for its allocation) and copied in at once: cheaper than
/// writing it element by element through [`glomers_node::Array`].
pub fn reply_txn_ok<N: Node>(
    ctx: &mut Ctx<N>,
    from: &ReplyTo,
    done: &[MicroOp],
    scratch: &mut String,
) {
    render_txn(done, scratch);
    reply_rendered(ctx, from, scratch);
}

/// Answers `{"type":"txn_ok","txn":...}` with the array `txn` (written already).
pub fn reply_rendered<N: Node>(ctx: &mut Ctx<N>, from: &ReplyTo, txn: &str) {
    ctx.reply_with(from, "txn_ok", |body| {
        body.raw("txn", txn);
    });
}

/// `done` as JSON, `[["r",1,null],["w",2,3]]`, into `out` (cleared first). Room for the
/// longest micro-op is made at once and integers are written by [`write_i64`] (small ones
/// without itoa's buffer): pushing each piece as a `str` cost a copy call per piece.
pub fn render_txn(done: &[MicroOp], out: &mut String) {
    // `,["w",` and two integers of at most 20 bytes each, `,` and `]`.
    const MAX: usize = 6 + 20 + 1 + 20 + 1;
    // SAFETY: only ASCII bytes are written (brackets, quotes, letters, digits, signs), so the
    // string stays valid UTF-8.
    let out = unsafe { out.as_mut_vec() };
    out.clear();
    out.reserve(2 + MAX * done.len());
    out.push(b'[');
    for (i, &(f, key, value)) in done.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // A copy of known length (not of either of two lengths, a call to memcpy).
        out.extend_from_slice(match f {
            Fun::Read => b"[\"r\",",
            Fun::Write => b"[\"w\",",
        });
        write_i64(out, key);
        out.push(b',');
        match value {
            Some(v) => write_i64(out, v),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b']');
    }
    out.push(b']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::{assert_left_to_serde, assert_reads_as_serde};

    #[test]
    fn plain_bodies_read_as_serde_reads_them() {
        for (ty, body) in [
            (
                "txn",
                r#"{"type":"txn","msg_id":3,"txn":[["r",1,null],["w",2,3],["r",-4,-5]]}"#,
            ),
            ("txn", r#"{ "txn" : [ ] , "extra" : {"a":[1.5]} }"#),
            (
                "txn",
                r#"{"txn":[["w",9223372036854775807,-9223372036854775808]]}"#,
            ),
            (
                "replicate",
                r#"{"type":"replicate","seq":4,"updates":[[1,2,[3,0]],[-1,5,[7,4294967295]]],"acks":[1,2]}"#,
            ),
            ("replicate", r#"{"seq":null,"updates":[],"acks":[9]}"#),
            ("replicate", r#"{"updates":[],"acks":[]}"#),
        ] {
            assert_reads_as_serde(read, ty, body);
        }
    }

    #[test]
    fn bodies_serde_refuses_or_reads_differently_are_left_to_it() {
        for (ty, body) in [
            // Refused by serde too.
            ("txn", r#"{"txn":[["x",1,null]]}"#),
            ("txn", r#"{"txn":[["r",1]]}"#),
            ("txn", r#"{"txn":[["r",1,null,4]]}"#),
            ("txn", r#"{"txn":[["r",1.5,null]]}"#),
            ("txn", r#"{"txn":[["r",-0,null]]}"#),
            ("txn", r#"{"txn":[["w",1,9223372036854775808]]}"#),
            ("txn", r#"{"txn":[],"txn":[]}"#),
            ("txn", r#"{"type":"txn"}"#),
            ("txn", r#"{"txn":{}}"#),
            (
                "replicate",
                r#"{"seq":1,"updates":[[1,2,[3,4294967296]]],"acks":[]}"#,
            ),
            ("replicate", r#"{"seq":1,"updates":[[1,2,[3]]],"acks":[]}"#),
            ("replicate", r#"{"seq":-1,"updates":[],"acks":[]}"#),
            ("replicate", r#"{"updates":[],"acks":[],"acks":[]}"#),
            ("replicate", r#"{"updates":[]}"#),
            ("other", r#"{"txn":[]}"#),
            // Read by serde, but not the plain shape.
            ("txn", r#"{"txn":[["\u0072",1,null]]}"#),
        ] {
            let by_serde = assert_left_to_serde(read, ty, body);
            if !body.contains("\\u") {
                assert_eq!(by_serde, None, "{body}");
            }
        }
        assert!(
            glomers_node::parse_request::<Request>("txn", r#"{"txn":[["\u0072",1,null]]}"#).is_ok()
        );
    }

    /// The rendered array is what serde writes, on random micro-ops (extreme values too).
    /// Fewer than `max` random micro-ops, keys and values often at the integer edges.
    fn random_micro_ops(
        rng: &mut glomers_node::rand_chacha::ChaCha8Rng,
        max: usize,
    ) -> Vec<MicroOp> {
        use glomers_node::rand::Rng;
        let edges = [0, -1, 1, i64::MIN, i64::MAX, 9, 10, -10];
        let int = |rng: &mut glomers_node::rand_chacha::ChaCha8Rng| match rng.gen_range(0..3) {
            0 => edges[rng.gen_range(0..edges.len())],
            1 => rng.gen_range(-1000..1000),
            _ => rng.gen(),
        };
        (0..rng.gen_range(0..max))
            .map(|_| {
                let f = if rng.gen_bool(0.5) {
                    Fun::Read
                } else {
                    Fun::Write
                };
                let key = int(rng);
                let value = rng.gen_bool(0.7).then(|| int(rng));
                (f, key, value)
            })
            .collect()
    }

    #[test]
    fn txn_renders_as_serde_writes_it() {
        use glomers_node::rand::SeedableRng;
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(6);
        let mut out = String::new();
        for _ in 0..2000 {
            let done = random_micro_ops(&mut rng, 6);
            render_txn(&done, &mut out);
            assert_eq!(out, serde_json::to_string(&done).unwrap());
        }
    }

    /// The one-pass reader of compact micro-ops reads what serde reads, and leaves alone
    /// (`None`) what serde refuses: on random transactions written compactly or with spaces,
    /// and on those texts with a byte changed.
    #[test]
    fn compact_micro_ops_read_as_serde_reads_them() {
        use glomers_node::rand::{Rng, SeedableRng};
        let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(8);
        let mut out = String::new();
        let bytes = b"[]\",rwnul-0123456789 x.e";
        for _ in 0..5000 {
            let done = random_micro_ops(&mut rng, 5);
            render_txn(&done, &mut out);
            let ops = compact_micro_ops(out.as_bytes());
            assert_eq!(ops, Some((done.clone(), out.len())), "{out}");
            let body = format!(r#"{{"type":"txn","msg_id":1,"txn":{out}}}"#);
            assert_reads_as_serde(read, "txn", &body);
            let spaced = format!(r#"{{"txn": {}}}"#, out.replace(',', " , "));
            assert_reads_as_serde(read, "txn", &spaced);
            let mut text = out.clone().into_bytes();
            for _ in 0..rng.gen_range(1..3) {
                let i = rng.gen_range(0..text.len());
                text[i] = bytes[rng.gen_range(0..bytes.len())];
            }
            let text = String::from_utf8(text).unwrap();
            if let Some((ops, used)) = compact_micro_ops(text.as_bytes()) {
                let by_serde = serde_json::from_str(&text[..used]).ok();
                assert_eq!(Some(ops), by_serde, "{text}");
            }
            let body = format!(r#"{{"txn":{text}}}"#);
            if read("txn", &mut BodyReader::new(&body)).is_some() {
                assert_reads_as_serde(read, "txn", &body);
            }
        }
        assert_eq!(compact_micro_ops(b"[]]"), Some((vec![], 2)));
        for text in [
            "[",
            "[[\"r\",1,null]",
            "[[\"r\",01,null]]",
            "[[\"r\",-0,null]]",
        ] {
            assert_eq!(compact_micro_ops(text.as_bytes()), None, "{text}");
        }
        assert_eq!(
            compact_micro_ops(b"[[\"w\",-9223372036854775808,9223372036854775807]]"),
            Some((vec![(Fun::Write, i64::MIN, Some(i64::MAX))], 48))
        );
        assert_eq!(compact_micro_ops(b"[[\"w\",1,9223372036854775808]]"), None);
        assert_eq!(compact_micro_ops(b"[[\"w\",1,-9223372036854775809]]"), None);
    }
}
