//! Writing integers as JSON digits, with short paths for the small numbers most messages
//! carry.

/// Appends the decimal digits of `n`. Most numbers a node writes (ids, offsets, keys, seqs)
/// have at most four digits: those are written without a buffer in between.
#[inline]
pub(crate) fn write_u64(out: &mut Vec<u8>, n: u64) {
    if n < 10_000 {
        write_small(out, n as u16);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// Appends the decimal digits of `n` (below 10 000), two at a time from a table (one
/// division instead of one per digit).
#[inline]
fn write_small(out: &mut Vec<u8>, n: u16) {
    let pair = |p: u16| {
        let i = usize::from(p % 100) * 2;
        [DIGIT_PAIRS[i], DIGIT_PAIRS[i + 1]]
    };
    if n < 10 {
        out.push(b'0' + n as u8);
    } else if n < 100 {
        out.extend_from_slice(&pair(n));
    } else {
        let (high, low) = (n / 100, pair(n));
        if high < 10 {
            out.extend_from_slice(&[b'0' + high as u8, low[0], low[1]]);
        } else {
            let high = pair(high);
            out.extend_from_slice(&[high[0], high[1], low[0], low[1]]);
        }
    }
}

/// `00`, `01`, ... `99`.
static DIGIT_PAIRS: [u8; 200] = {
    let mut table = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        table[2 * i] = b'0' + (i / 10) as u8;
        table[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    table
};

/// Appends the decimal digits of `n`, with its sign.
#[inline]
pub(crate) fn write_i64(out: &mut Vec<u8>, n: i64) {
    if (0..10_000).contains(&n) {
        write_small(out, n as u16);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}
