//! Integers written as JSON digits (what serde_json and itoa write), with a short path for
//! the small numbers most ops carry (keys, values, msg_ids, offsets): no buffer, no copy
//! call, two digits per table look-up.

/// Appends the decimal digits of `n`.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, n: u64) {
    if n < 10_000 {
        push_small(out, n as u16);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// Appends the decimal digits of `n`, with its sign.
#[inline]
pub fn push_i64(out: &mut Vec<u8>, n: i64) {
    if (0..10_000).contains(&n) {
        push_small(out, n as u16);
    } else {
        out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// Appends the digits of `n` (below 10 000).
#[inline]
fn push_small(out: &mut Vec<u8>, n: u16) {
    let pair = |p: u16| {
        let i = usize::from(p % 100) * 2;
        [DIGIT_PAIRS[i], DIGIT_PAIRS[i + 1]]
    };
    if n < 10 {
        out.push(b'0' + n as u8);
    } else if n < 100 {
        out.extend_from_slice(&pair(n));
    } else if n < 1000 {
        let low = pair(n);
        out.extend_from_slice(&[b'0' + (n / 100) as u8, low[0], low[1]]);
    } else {
        let (high, low) = (pair(n / 100), pair(n));
        out.extend_from_slice(&[high[0], high[1], low[0], low[1]]);
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn digits_are_what_itoa_writes() {
        let mut rng = crate::Rng::seed_from_u64(4);
        let check = |n: i64| {
            let mut out = b"x".to_vec();
            push_i64(&mut out, n);
            assert_eq!(out[1..], *itoa::Buffer::new().format(n).as_bytes(), "{n}");
            if let Ok(u) = u64::try_from(n) {
                let mut out = b"x".to_vec();
                push_u64(&mut out, u);
                assert_eq!(out[1..], *itoa::Buffer::new().format(u).as_bytes(), "{u}");
            }
        };
        for n in -20_100..20_100 {
            check(n);
        }
        for _ in 0..100_000 {
            let bits = rng.gen_range(0..64);
            check(rng.gen::<i64>() >> bits);
        }
        for n in [i64::MIN, i64::MAX, 99_999, 100_000] {
            check(n);
        }
        let mut out = Vec::new();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, u64::MAX.to_string().as_bytes());
    }
}
