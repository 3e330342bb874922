//! A transaction run straight from its request's text, as clients write it:
//! `[["r",1,null],["w",2,3]]`.
//!
//! [`CompactTxn::read`] checks the text while the request is read (the runtime's only walk
//! over the body, which must validate it); [`run`] then executes the micro-ops against the
//! replica and writes the `txn_ok` array in a second walk that trusts the form. No vector of
//! micro-ops lies in between, and the reply copies the request's text for every write and
//! for every read's name and key: the compact form writes integers as the reply writes them
//! (no leading zero, no `-0`, no `+`), so only the values read are written anew.

use super::{Fun, MicroOp, Replica};
use glomers_node::write_i64;

/// Micro-ops written compactly, checked by [`CompactTxn::read`]: `[]`, or `[` then micro-ops
/// `["r",K,V]` or `["w",K,V]` separated by `,` then `]`, where `K` is an integer and `V` an
/// integer or `null`, each integer `0` or `-?[1-9][0-9]{0,17}` (so it fits an `i64`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CompactTxn<'a>(&'a str);

impl std::fmt::Debug for CompactTxn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CompactTxn({})", self.0)
    }
}

impl<'a> CompactTxn<'a> {
    /// The compact micro-ops at the start of `text` and how many bytes they take; `None`
    /// when the text does not start with them (longer integers included: the general reader
    /// takes those).
    pub fn read(text: &'a str) -> Option<(CompactTxn<'a>, usize)> {
        let b = text.as_bytes();
        if b.first() != Some(&b'[') {
            return None;
        }
        let end = if b.get(1) == Some(&b']') {
            2
        } else {
            micro_ops_end(b)?
        };
        Some((CompactTxn(&text[..end]), end))
    }

    /// The micro-ops as [`crate::txn::Request::Txn`] holds them.
    pub fn to_vec(self) -> Vec<MicroOp> {
        let mut ops = Vec::new();
        walk(self.0.as_bytes(), |op, _, _| ops.push(op));
        ops
    }
}

/// Where the micro-ops starting at `b[1]` end (after the closing `]`), if they are compact.
fn micro_ops_end(b: &[u8]) -> Option<usize> {
    let mut i = 1;
    loop {
        match b.get(i..i + 5)? {
            b"[\"r\"," | b"[\"w\"," => {}
            _ => return None,
        }
        i = int_end(b, i + 5)?;
        if b.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
        i = if b.get(i..i + 4) == Some(b"null") {
            i + 4
        } else {
            int_end(b, i)?
        };
        match b.get(i..i + 2)? {
            b"]," => i += 2,
            b"]]" => return Some(i + 2),
            _ => return None,
        }
    }
}

/// Where the integer at `b[i]` ends: `0` or `-?[1-9][0-9]{0,17}`.
#[inline(always)]
fn int_end(b: &[u8], mut i: usize) -> Option<usize> {
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i)? {
        // `-0` is not an integer to serde_json (it reads a float).
        b'0' if b[i - 1] != b'-' => return Some(i + 1),
        b'1'..=b'9' => {}
        _ => return None,
    }
    let start = i;
    i += 1;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    (i - start <= 18).then_some(i)
}

/// The integer at `b[i]` of checked text, and where it ends.
#[inline(always)]
fn int_at(b: &[u8], mut i: usize) -> (i64, usize) {
    let negative = b[i] == b'-';
    i += usize::from(negative);
    let mut n = 0i64;
    while let Some(&c) = b.get(i) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        n = n * 10 + i64::from(d);
        i += 1;
    }
    (if negative { -n } else { n }, i)
}

/// Calls `each` with every micro-op of checked text `b`, where its value starts and where
/// it ends (at the micro-op's `]`), in order.
#[inline(always)]
fn walk(b: &[u8], mut each: impl FnMut(MicroOp, usize, usize)) {
    if b.len() == 2 {
        return;
    }
    let mut i = 1;
    loop {
        let f = if b[i + 2] == b'r' {
            Fun::Read
        } else {
            Fun::Write
        };
        let (key, end) = int_at(b, i + 5);
        let at = end + 1;
        let (value, end) = if b[at] == b'n' {
            (None, at + 4)
        } else {
            let (v, end) = int_at(b, at);
            (Some(v), end)
        };
        each((f, key, value), at, end);
        // At `]` then `,` or `]`.
        if b[end + 1] == b']' {
            return;
        }
        i = end + 2;
    }
}

/// Runs `txn` against `replica` as [`super::execute_in_place`] does (reads see the
/// transaction's own earlier writes) and appends the completed micro-ops to `out` as
/// [`super::wire::render_txn`] writes them (the node writes them straight into its reply's
/// body, see [`glomers_node::Fields::raw_with`]). Leaves the transaction's last write per key
/// in `writes`, sorted by key.
pub fn run(
    txn: CompactTxn<'_>,
    replica: &Replica,
    writes: &mut Vec<(i64, i64)>,
    out: &mut Vec<u8>,
) {
    let b = txn.0.as_bytes();
    writes.clear();
    out.reserve(b.len() + 32);
    // `b[copied..]` is still to be copied: writes go out as they came, reads up to their
    // value, which is written in place of the request's. Only whole ASCII runs of the
    // checked text and digits, signs and `null` are written.
    let mut copied = 0;
    walk(b, |(f, key, value), at, end| {
        let written = writes.iter_mut().find(|(k, _)| *k == key);
        if f == Fun::Read {
            out.extend_from_slice(&b[copied..at]);
            let value = match written {
                Some(&mut (_, v)) => Some(v),
                None => replica.get(key),
            };
            match value {
                Some(v) => write_i64(out, v),
                None => out.extend_from_slice(b"null"),
            }
            copied = end;
        } else if let Some(v) = value {
            match written {
                Some((_, value)) => *value = v,
                None => writes.push((key, v)),
            }
        }
    });
    out.extend_from_slice(&b[copied..]);
    writes.sort_unstable_by_key(|&(k, _)| k);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::txn::execute_in_place;
    use crate::txn::wire::render_txn;
    use glomers_node::rand::{Rng, SeedableRng};
    use glomers_node::rand_chacha::ChaCha8Rng;

    fn random_int(rng: &mut ChaCha8Rng) -> i64 {
        let edges = [
            0,
            -1,
            1,
            9,
            10,
            -10,
            999_999_999_999_999_999,
            i64::MIN,
            i64::MAX,
        ];
        match rng.gen_range(0..4) {
            0 => edges[rng.gen_range(0..edges.len())],
            1 => rng.gen_range(-1000..1000),
            2 => rng.gen_range(0..12),
            _ => rng.gen(),
        }
    }

    fn random_txn(rng: &mut ChaCha8Rng) -> Vec<MicroOp> {
        (0..rng.gen_range(0..7))
            .map(|_| {
                let f = if rng.gen_bool(0.5) {
                    Fun::Read
                } else {
                    Fun::Write
                };
                let key = if rng.gen_bool(0.8) {
                    rng.gen_range(0..6)
                } else {
                    random_int(rng)
                };
                (f, key, rng.gen_bool(0.6).then(|| random_int(rng)))
            })
            .collect()
    }

    /// On random transactions and replicas: the text is read as serde reads it (or left to
    /// the general reader, for integers of 19 digits), and running it answers and writes
    /// what executing the micro-ops then rendering them does.
    #[test]
    fn running_the_text_is_executing_and_rendering() {
        let mut rng = ChaCha8Rng::seed_from_u64(31);
        let (mut text, mut expected, mut got) = (String::new(), String::new(), Vec::new());
        let (mut writes, mut expected_writes) = (Vec::new(), Vec::new());
        let mut ran = 0;
        for _ in 0..20_000 {
            let mut replica = Replica::default();
            for _ in 0..rng.gen_range(0..6) {
                let version = (rng.gen_range(1..5), 0);
                replica.apply(rng.gen_range(0..6), random_int(&mut rng), version);
            }
            let mut txn = random_txn(&mut rng);
            render_txn(&txn, &mut text);
            let Some((compact, used)) = CompactTxn::read(&text) else {
                // Only integers beyond 18 digits leave the compact form.
                assert!(
                    text.bytes().filter(u8::is_ascii_digit).count() > 18,
                    "{text}"
                );
                continue;
            };
            ran += 1;
            assert_eq!(used, text.len());
            assert_eq!(compact.to_vec(), txn, "{text}");
            assert_eq!(serde_json::from_str::<Vec<MicroOp>>(&text).unwrap(), txn);
            // Appended after what the buffer holds already.
            got.clear();
            got.extend_from_slice(b"{\"txn\":");
            run(compact, &replica, &mut writes, &mut got);
            execute_in_place(&replica, &mut txn, &mut expected_writes);
            render_txn(&txn, &mut expected);
            assert_eq!(got[7..], *expected.as_bytes(), "{text}");
            assert_eq!(writes, expected_writes, "{text}");
        }
        assert!(ran > 8_000, "{ran}");
    }

    /// Damaged texts: what the check takes, serde reads the same way (and it ends where
    /// serde's value ends).
    #[test]
    fn the_check_takes_only_what_serde_reads_alike() {
        let mut rng = ChaCha8Rng::seed_from_u64(37);
        let bytes = b"[]\",rwnul-0123456789 x.e";
        let mut text = String::new();
        let (mut taken, mut refused) = (0, 0);
        for _ in 0..20_000 {
            render_txn(&random_txn(&mut rng), &mut text);
            let mut damaged = text.clone().into_bytes();
            for _ in 0..rng.gen_range(1..3) {
                let i = rng.gen_range(0..damaged.len());
                damaged[i] = bytes[rng.gen_range(0..bytes.len())];
            }
            let damaged = String::from_utf8(damaged).unwrap();
            match CompactTxn::read(&damaged) {
                Some((compact, used)) => {
                    taken += 1;
                    let by_serde: Vec<MicroOp> = serde_json::from_str(&damaged[..used])
                        .unwrap_or_else(|e| panic!("{damaged}: {e}"));
                    assert_eq!(compact.to_vec(), by_serde, "{damaged}");
                }
                None => refused += 1,
            }
        }
        assert!(taken > 500 && refused > 5000, "{taken} {refused}");
        for text in [
            "[",
            "[[\"r\",1,null]",
            "[[\"r\",01,null]]",
            "[[\"r\",-0,null]]",
            "[[\"r\",1,-0]]",
        ] {
            assert_eq!(CompactTxn::read(text), None, "{text}");
        }
        assert_eq!(CompactTxn::read("[]]"), Some((CompactTxn("[]"), 2)));
        // 18 digits are taken, 19 left to the general reader.
        assert!(CompactTxn::read("[[\"w\",-999999999999999999,1]]").is_some());
        assert_eq!(CompactTxn::read("[[\"w\",1000000000000000000,1]]"), None);
    }
}
