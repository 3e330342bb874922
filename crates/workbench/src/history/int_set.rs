//! Sets of non-negative integers kept as ranges: how the history keeps a broadcast read
//! (see [`IntSet`]), and how it writes one back as the ascending array it stands for.

use serde::Serialize;
use serde_json::Value;

impl Serialize for IntSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// A set of non-negative integers as sorted, disjoint, non-adjacent inclusive ranges.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IntSet {
    ranges: Vec<(u64, u64)>,
}

impl IntSet {
    /// The set of `values`, or None when one of them is not a non-negative integer.
    pub fn from_values(values: &[Value]) -> Option<IntSet> {
        // Nodes mostly answer in ascending order: then the ranges are built in one pass,
        // without sorting a copy.
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for value in values {
            let i = value.as_u64()?;
            match ranges.last_mut() {
                Some((_, hi)) if i == hi.saturating_add(1) => *hi = i,
                Some((_, hi)) if i <= *hi => return IntSet::from_unsorted(values),
                _ => ranges.push((i, i)),
            }
        }
        ranges.shrink_to_fit();
        Some(IntSet { ranges })
    }

    fn from_unsorted(values: &[Value]) -> Option<IntSet> {
        let mut ints: Vec<u64> = values.iter().map(Value::as_u64).collect::<Option<_>>()?;
        ints.sort_unstable();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        for i in ints {
            match ranges.last_mut() {
                Some((_, hi)) if i <= hi.saturating_add(1) => *hi = (*hi).max(i),
                _ => ranges.push((i, i)),
            }
        }
        ranges.shrink_to_fit();
        Some(IntSet { ranges })
    }

    /// The set of `ranges` (inclusive) when they are as [`IntSet::ranges`] gives them:
    /// ascending, disjoint and non-adjacent; `None` otherwise.
    pub fn from_ranges(ranges: Vec<(u64, u64)>) -> Option<IntSet> {
        let ok = ranges.iter().all(|&(lo, hi)| lo <= hi)
            && ranges.windows(2).all(|w| w[1].0 > w[0].1.saturating_add(1));
        ok.then_some(IntSet { ranges })
    }

    /// Builds a set from integers pushed in any order (ascending is the fast case).
    pub fn builder() -> IntSetBuilder {
        IntSetBuilder::default()
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.ranges.iter().flat_map(|&(lo, hi)| lo..=hi)
    }

    /// The members as sorted, disjoint, non-adjacent inclusive ranges `(lo, hi)`.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }

    /// Appends the members as a JSON array, ascending, as serde_json writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        self.write_json_counting(out, &mut Counting::default());
    }

    /// [`IntSet::write_json`], taking each range's text from `counting` when it can (the sets
    /// of one history are written with one [`Counting`]).
    pub(super) fn write_json_counting(&self, out: &mut Vec<u8>, counting: &mut Counting) {
        out.push(b'[');
        for (i, &(lo, hi)) in self.ranges.iter().enumerate() {
            match counting.range(lo, hi) {
                Some(text) => {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(text);
                }
                None => push_ascending(out, lo, hi, i == 0),
            }
        }
        out.push(b']');
    }

    /// The members as a JSON array, ascending.
    pub fn to_value(&self) -> Value {
        Value::Array(self.iter().map(Value::from).collect())
    }
}

/// The text `0,1,2,…` grown as far as it is needed: the text of any range `lo..=hi` below
/// [`Counting::MAX`] is one slice of it, copied at once (a broadcast history's reads are long
/// runs of consecutive integers, written again in every read).
#[derive(Default)]
pub(super) struct Counting {
    text: Vec<u8>,
    /// The first integer not in `text` yet.
    next: u64,
}

impl Counting {
    /// Integers from here on are written digit by digit (the text up to here is ~8 MB).
    const MAX: u64 = 1 << 20;

    /// The text of `lo..=hi`, or None when `hi` is too large to be counted up to.
    fn range(&mut self, lo: u64, hi: u64) -> Option<&[u8]> {
        if hi >= Counting::MAX {
            return None;
        }
        if self.next <= hi {
            push_ascending(&mut self.text, self.next, hi, self.next == 0);
            self.next = hi + 1;
        }
        let (start, end) = (Counting::offset(lo), Counting::offset(hi + 1) - 1);
        Some(&self.text[start..end])
    }

    /// Where `n` starts in the text: each integer takes its digits and a comma.
    fn offset(n: u64) -> usize {
        let (mut offset, mut first, mut width) = (0u64, 0u64, 1u64);
        let mut limit = 10u64;
        while n >= limit {
            offset += (limit - first) * (width + 1);
            first = limit;
            limit *= 10;
            width += 1;
        }
        (offset + (n - first) * (width + 1)) as usize
    }
}

/// Appends `lo..=hi` as comma-separated decimals (a leading comma unless `first`), counting
/// in the text itself: consecutive integers mostly differ in their last digit.
fn push_ascending(out: &mut Vec<u8>, lo: u64, hi: u64, first: bool) {
    let mut digits = itoa::Buffer::new();
    let mut text: Vec<u8> = digits.format(lo).as_bytes().to_vec();
    let mut n = lo;
    loop {
        if !(first && n == lo) {
            out.push(b',');
        }
        out.extend_from_slice(&text);
        if n == hi {
            return;
        }
        n += 1;
        // Increment the decimal text: trailing 9s become 0s, a carry past the first digit
        // adds one.
        let mut i = text.len();
        loop {
            if i == 0 {
                text.insert(0, b'1');
                break;
            }
            i -= 1;
            if text[i] == b'9' {
                text[i] = b'0';
            } else {
                text[i] += 1;
                break;
            }
        }
    }
}

/// An [`IntSet`] being built (see [`IntSet::builder`]).
#[derive(Debug, Default)]
pub struct IntSetBuilder {
    ranges: Vec<(u64, u64)>,
    /// Members that came after a larger one, merged in at the end.
    out_of_order: Vec<u64>,
}

impl IntSetBuilder {
    #[inline]
    pub fn push(&mut self, i: u64) {
        match self.ranges.last_mut() {
            Some((_, hi)) if i == hi.saturating_add(1) => *hi = i,
            Some((_, hi)) if i <= *hi => self.out_of_order.push(i),
            _ => self.ranges.push((i, i)),
        }
    }

    /// Pushes `lo, lo + 1, ..., hi` (`lo <= hi`), as many [`IntSetBuilder::push`]es would.
    #[inline]
    pub fn push_range(&mut self, lo: u64, hi: u64) {
        match self.ranges.last().map(|&(_, last)| last) {
            Some(last) if lo == last.saturating_add(1) => {
                if let Some((_, last)) = self.ranges.last_mut() {
                    *last = hi;
                }
            }
            Some(last) if lo <= last => (lo..=hi).for_each(|i| self.push(i)),
            _ => self.ranges.push((lo, hi)),
        }
    }

    pub fn finish(mut self) -> IntSet {
        if !self.out_of_order.is_empty() {
            let mut all: Vec<(u64, u64)> = self.ranges;
            all.extend(self.out_of_order.iter().map(|&i| (i, i)));
            all.sort_unstable();
            self.ranges = Vec::with_capacity(all.len());
            for (lo, hi) in all {
                match self.ranges.last_mut() {
                    Some((_, last)) if lo <= last.saturating_add(1) => *last = (*last).max(hi),
                    _ => self.ranges.push((lo, hi)),
                }
            }
        }
        self.ranges.shrink_to_fit();
        IntSet {
            ranges: self.ranges,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pushed_range_is_its_members_pushed() {
        let pushes = [
            vec![(3, 5)],
            vec![(3, 5), (6, 9)],
            vec![(3, 5), (8, 9), (1, 2)],
            vec![(3, 5), (4, 7), (2, 2)],
            vec![(3, 5), (5, 5), (20, 30), (10, 25)],
            vec![(u64::MAX - 1, u64::MAX), (u64::MAX, u64::MAX)],
        ];
        for ranges in pushes {
            let (mut by_range, mut by_member) = (IntSet::builder(), IntSet::builder());
            for &(lo, hi) in &ranges {
                by_range.push_range(lo, hi);
                (lo..=hi).for_each(|i| by_member.push(i));
            }
            assert_eq!(by_range.finish(), by_member.finish(), "{ranges:?}");
        }
    }
    use serde_json::json;

    fn set(values: Value) -> IntSet {
        IntSet::from_values(values.as_array().unwrap()).unwrap()
    }

    #[test]
    fn an_int_set_is_the_same_whatever_the_order_of_its_values() {
        let sorted = set(json!([1, 2, 3, 7, 9, 10]));
        assert_eq!(set(json!([10, 9, 7, 3, 2, 1, 2])), sorted);
        assert_eq!(set(json!([1, 2, 3, 7, 7, 9, 10])), sorted);
        assert_eq!(sorted.iter().collect::<Vec<_>>(), vec![1, 2, 3, 7, 9, 10]);
        assert_eq!(IntSet::from_values(&[json!(1), json!(-1)]), None);
        assert_eq!(IntSet::from_values(&[json!(1), json!("a")]), None);
    }

    #[test]
    fn ranges_are_cut_from_the_counting_text() {
        let mut counting = Counting::default();
        for (lo, hi) in [
            (5, 12),
            (0, 0),
            (0, 1),
            (99, 101),
            (3, 3),
            (998, 1_200),
            (0, 15),
        ] {
            let expected: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
            let text = counting.range(lo, hi).unwrap();
            assert_eq!(std::str::from_utf8(text).unwrap(), expected.join(","));
        }
        assert!(counting.range(1, Counting::MAX).is_none());
        let set = IntSet {
            ranges: vec![(1, 3), (7, 7), (Counting::MAX - 1, Counting::MAX + 1)],
        };
        let mut text = Vec::new();
        set.write_json_counting(&mut text, &mut counting);
        assert_eq!(
            String::from_utf8(text).unwrap(),
            serde_json::to_string(&set.iter().collect::<Vec<_>>()).unwrap()
        );
    }

    #[test]
    fn ranges_are_written_digit_by_digit_as_itoa_would() {
        for (lo, hi) in [
            (0, 0),
            (0, 1205),
            (8, 12),
            (99_990, 100_011),
            (u64::MAX - 3, u64::MAX),
        ] {
            let mut text = Vec::new();
            push_ascending(&mut text, lo, hi, true);
            let expected: Vec<String> = (lo..=hi).map(|n| n.to_string()).collect();
            assert_eq!(String::from_utf8(text).unwrap(), expected.join(","));
        }
    }
}
