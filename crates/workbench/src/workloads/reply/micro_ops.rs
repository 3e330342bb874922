//! A compact array of txn micro-ops (`[["r",1,null],["w",2,3]]`, as the txn nodes write a
//! `txn_ok`'s `txn`) read by the wire check in the one walk that validates it.
//!
//! The wire check walks every reply body to validate it; a `txn_ok`'s micro-ops were then
//! read a second time by the txn workload. Here the wire check reads them into
//! [`ScannedOp`]s instead of skipping them, and the workload compares those with its
//! request (`workloads::txn::text::read_rw_ops`). Only the exact compact form is read:
//! each element `["r"|"w"|"append",<key>,null|<value>]`, keys and values integers of at most
//! `i64::MAX` without sign or leading zero. Anything else is left to the general walk (and
//! the workload then reads the text, as before), so what is read here is always valid JSON
//! that the general walk reads to the same end (a test compares them).

use crate::history::MicroF;

/// One micro-op of a compact array: its function, key and value (`None` for `null`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScannedOp {
    pub f: MicroF,
    pub key: i64,
    pub value: Option<i64>,
}

/// Reads the compact array of micro-ops at `text[i]` (an `[` followed by `[`) into `ops`
/// (which it leaves as it found it when it gives up): the index after its `]`, or `None`
/// for anything but the compact form.
#[inline]
pub(crate) fn scan(text: &[u8], i: usize, ops: &mut Vec<ScannedOp>) -> Option<usize> {
    let len = ops.len();
    let end = scan_into(text, i, ops);
    if end.is_none() {
        ops.truncate(len);
    }
    end
}

#[inline(always)]
fn scan_into(text: &[u8], mut i: usize, ops: &mut Vec<ScannedOp>) -> Option<usize> {
    i += 1;
    loop {
        // The name, a literal of known length each.
        let (f, name) = match text.get(i..i + 5)? {
            b"[\"r\"," => (MicroF::Read, 5),
            b"[\"w\"," => (MicroF::Write, 5),
            _ if text.get(i..i + 10) == Some(&b"[\"append\","[..]) => (MicroF::Append, 10),
            _ => return None,
        };
        i += name;
        let (key, used) = uint(text, i)?;
        i += used;
        if text.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
        let value = if text.get(i..i + 4) == Some(&b"null"[..]) {
            i += 4;
            None
        } else {
            let (value, used) = uint(text, i)?;
            i += used;
            Some(value)
        };
        if text.get(i) != Some(&b']') {
            return None;
        }
        ops.push(ScannedOp { f, key, value });
        match text.get(i + 1)? {
            b',' => i += 2,
            b']' => return Some(i + 2),
            _ => return None,
        }
    }
}

/// A non-negative integer at `text[i]` of at most `i64::MAX`, without a leading zero, and
/// how many bytes it takes (the caller checks what follows). Also the txn workload's reader of
/// a `txn_ok` the wire check did not read (`workloads/txn/text.rs`).
#[inline(always)]
pub(crate) fn uint(text: &[u8], i: usize) -> Option<(i64, usize)> {
    let digits = text.get(i..)?;
    let mut n: u64 = 0;
    let mut len = 0;
    while let Some(&c) = digits.get(len) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        // 19 digits never overflow a u64; a 20th is past i64::MAX.
        if len == 19 {
            return None;
        }
        n = n * 10 + u64::from(d);
        len += 1;
    }
    if len == 0 || (len > 1 && digits[0] == b'0') || n > i64::MAX as u64 {
        return None;
    }
    Some((n as i64, len))
}
