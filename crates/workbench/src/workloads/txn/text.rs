//! A rw-register `txn_ok`'s micro-ops read back against the request's in one plain loop
//! (every op's reply goes through it), rather than through the general [`Compact`] cursor
//! of `Txn::read_txn_compact`.
//!
//! [`Compact`]: crate::workloads::compact::Compact

use crate::history::{MicroF, MicroOp, MicroValue};
use crate::workloads::reply::micro_ops::uint;
use crate::workloads::reply::ScannedOp;

/// [`read_rw`] of a reply whose micro-ops the wire check already read (see
/// `workloads::reply::micro_ops`): the same result, without reading the text again (a test
/// compares them).
pub fn read_rw_ops(sent: &[MicroOp], got: &[ScannedOp]) -> Option<Vec<MicroOp>> {
    if got.len() != sent.len() {
        return None;
    }
    let mut mops = super::pow2_vec(sent.len());
    for (s, g) in sent.iter().zip(got) {
        if g.f != s.f || g.key != s.key {
            return None;
        }
        let value = match (s.f, g.value) {
            (MicroF::Read, None) => MicroValue::Nil,
            (MicroF::Read, Some(v)) => MicroValue::Int(v),
            // Writes (and appends) echo the value sent.
            (_, Some(v)) if s.value == MicroValue::Int(v) => MicroValue::Int(v),
            _ => return None,
        };
        mops.push(MicroOp {
            key: s.key,
            value,
            f: s.f,
        });
    }
    Some(mops)
}

/// The reply's micro-ops (`[["r",1,null],["w",2,3]]`, compact) against those `sent`, for
/// rw-register: each `[f, k, v]` with the sent f and k, writes (and appends) echoing the sent value, reads
/// `null` or a non-negative integer; `None` for anything else, exactly where the general
/// reader (`Txn::read_txn_compact`) says `None` (a test compares them).
pub fn read_rw(sent: &[MicroOp], text: &[u8]) -> Option<Vec<MicroOp>> {
    if text.first() != Some(&b'[') {
        return None;
    }
    let mut mops = super::pow2_vec(sent.len());
    let mut i = 1;
    for (n, s) in sent.iter().enumerate() {
        if n > 0 {
            (text.get(i) == Some(&b',')).then_some(())?;
            i += 1;
        }
        // The name the request had (a literal of known length per name).
        let named = match s.f {
            MicroF::Read => text.get(i..i + 5) == Some(&b"[\"r\","[..]),
            MicroF::Write => text.get(i..i + 5) == Some(&b"[\"w\","[..]),
            MicroF::Append => text.get(i..i + 10) == Some(&b"[\"append\","[..]),
        };
        named.then_some(())?;
        i += if s.f == MicroF::Append { 10 } else { 5 };
        let (key, used) = uint(text, i)?;
        (key == s.key).then_some(())?;
        i += used;
        (text.get(i) == Some(&b',')).then_some(())?;
        i += 1;
        let value = match s.f {
            MicroF::Read if text[i..].starts_with(b"null") => {
                i += 4;
                MicroValue::Nil
            }
            MicroF::Read => {
                let (v, used) = uint(text, i)?;
                i += used;
                MicroValue::Int(v)
            }
            _ => {
                let MicroValue::Int(sent) = s.value else {
                    return None;
                };
                let (v, used) = uint(text, i)?;
                (v == sent).then_some(())?;
                i += used;
                MicroValue::Int(sent)
            }
        };
        (text.get(i) == Some(&b']')).then_some(())?;
        i += 1;
        mops.push(MicroOp {
            key: s.key,
            value,
            f: s.f,
        });
    }
    (text.get(i) == Some(&b']') && i + 1 == text.len()).then_some(mops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkers::txn::Flavor;
    use crate::history::OpValue;
    use crate::workloads::reply::micro_ops::scan;
    use crate::workloads::WorkloadOptions;
    use rand::{Rng as _, SeedableRng};

    type Rng = rand_chacha::ChaCha8Rng;

    /// An integer, often small, sometimes at an edge (negative ones too).
    fn int(rng: &mut Rng) -> i64 {
        let edges = [
            0,
            1,
            9,
            10,
            99,
            100,
            999,
            1000,
            9999,
            10_000,
            -1,
            i64::MAX,
            i64::MIN,
        ];
        match rng.gen_range(0..4) {
            0 => edges[rng.gen_range(0..edges.len())],
            1 => rng.gen_range(0..20),
            2 => rng.gen_range(0..20_000),
            _ => rng.gen(),
        }
    }

    fn micro_ops(rng: &mut Rng, fs: &[MicroF]) -> Vec<MicroOp> {
        (0..rng.gen_range(0..6))
            .map(|_| {
                let f = fs[rng.gen_range(0..fs.len())];
                let value = match (f, rng.gen_range(0..10)) {
                    (MicroF::Read, 0..=4) => MicroValue::Nil,
                    (_, 0) => MicroValue::List(Box::new(vec![int(rng)])),
                    _ => MicroValue::Int(int(rng)),
                };
                MicroOp {
                    key: int(rng),
                    value,
                    f,
                }
            })
            .collect()
    }

    /// On random transactions, their replies as a node writes them, and those replies with
    /// a byte damaged: the one loop reads what the general reader reads, and refuses what
    /// it refuses; so does the comparison with the micro-ops the wire check read.
    #[test]
    fn read_as_the_compact_reader_reads() {
        let mut opts = WorkloadOptions::new(2);
        opts.consistency_models = "read-committed".into();
        let w = super::super::Txn::new(&opts, Flavor::RwRegister).unwrap();
        let mut rng = Rng::seed_from_u64(18);
        let bytes = b"[]\",rwnul-0123456789 x.eE";
        let (mut read, mut scanned) = (0, 0);
        for round in 0..20_000 {
            let fs: &[MicroF] = match round % 10 {
                0 => &[MicroF::Read, MicroF::Write, MicroF::Append],
                _ => &[MicroF::Read, MicroF::Write],
            };
            let sent = micro_ops(&mut rng, fs);
            // The reply: reads filled (or a list, or left null), writes echoed (mostly).
            let reply: Vec<MicroOp> = sent
                .iter()
                .map(|s| {
                    let value = match (s.f, rng.gen_range(0..12)) {
                        (_, 0) => MicroValue::List(Box::new(vec![int(&mut rng)])),
                        (_, 1) => MicroValue::Int(int(&mut rng)),
                        (MicroF::Read, 2..=5) => MicroValue::Nil,
                        (MicroF::Read, _) => MicroValue::Int(int(&mut rng)),
                        _ => s.value.clone(),
                    };
                    MicroOp { value, ..*s }
                })
                .collect();
            let mut text = Vec::new();
            OpValue::Txn(reply).write_json(&mut text);
            if rng.gen_bool(0.5) {
                let at = rng.gen_range(0..text.len());
                let b = bytes[rng.gen_range(0..bytes.len())];
                crate::test_util::damage(&mut text, at, b, rng.gen_range(0..3));
            }
            let fast = read_rw(&sent, &text);
            assert_eq!(
                fast,
                w.read_txn_compact(&sent, &text),
                "{}",
                String::from_utf8_lossy(&text)
            );
            // What the wire check reads of the same text (in its line), compared with the
            // request.
            let mut ops = Vec::new();
            let line = [&text[..], br#","in_reply_to":1}}"#].concat();
            if text.starts_with(b"[[") && scan(&line, 0, &mut ops) == Some(text.len()) {
                assert_eq!(
                    read_rw_ops(&sent, &ops),
                    fast,
                    "{}",
                    String::from_utf8_lossy(&text)
                );
                scanned += 1;
            }
            read += usize::from(fast.is_some_and(|m| !m.is_empty()));
        }
        assert!(read > 2000 && scanned > 2000, "{read} {scanned}");
    }
}
