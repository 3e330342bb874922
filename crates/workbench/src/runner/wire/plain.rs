//! The wire check's first lane: a line in the plain form nodes write, read by hand.
//!
//! `{"src":..,"dest":..,"body":{..}}` (any key order, whitespace anywhere JSON allows it)
//! whose strings are printable ASCII without escapes, whose numbers are integers of at most 19
//! digits, and whose nesting is at most [`MAX_NESTING`] deep. Such a line is valid JSON that
//! both modes of the serde-based check read the same way, so its envelope is exactly theirs;
//! anything else (a top-level `id`, an escape, a float, a bad line) is left to them (`None`),
//! which is also where every diagnostic comes from. Skipping serde here matters: every line a
//! node writes passes through this, and a broadcast read's reply holds the whole set: such
//! compact arrays of integers are checked by `workloads::reply::uint_array`, eight bytes at a
//! time (anything unusual in them falls back to the loop here).

use std::borrow::Cow;

use super::{WireBody, WireEnvelope};
use crate::net::Addr;
use crate::workloads::reply::micro_ops;
use crate::workloads::reply::uint_array::{self, LastArray};
use crate::workloads::reply::{reserved_key, ScannedBox, ScannedSet};

/// Deeper lines go to serde (whose exact mode refuses more than a thousand levels).
const MAX_NESTING: usize = 64;

/// The envelope of a plain line, or `None` to let serde read it. A body for a client or a
/// service comes with what was found in it on the way ([`ScannedBox`]); `last_array` is the
/// array of integers the writer sent last in such a body (see [`LastArray`]).
#[inline(always)]
pub(super) fn read<'a>(
    line: &'a [u8],
    node_count: usize,
    last_array: &mut LastArray,
) -> Option<WireEnvelope<'a>> {
    let mut p = Cursor { text: line, i: 0 };
    let (mut src, mut dest, mut body) = (None, None, None);
    // `dest` as `Addr::parse` reads it, once read.
    let mut dest_addr = None;
    // The head as nodes write it, read straight through; else key by key below.
    let head = compact_head(line);
    if let Some((s, d, at)) = head {
        (src, dest) = (Some(s), Some(d));
        dest_addr = Some(Addr::parse_bytes(d, node_count));
        p.i = at;
        p.ws();
        body = Some(read_body(&mut p, dest_addr, last_array)?);
    } else {
        p.ws();
        p.eat(b'{')?;
        p.ws();
    }
    let mut after_value = head.is_some();
    loop {
        if !after_value {
            let key = p.string_bytes()?;
            p.ws();
            p.eat(b':')?;
            p.ws();
            match key {
                b"src" if src.is_none() => src = Some(p.string_bytes()?),
                b"dest" if dest.is_none() => {
                    let d = p.string_bytes()?;
                    dest = Some(d);
                    dest_addr = Some(Addr::parse_bytes(d, node_count));
                }
                b"body" if body.is_none() => body = Some(read_body(&mut p, dest_addr, last_array)?),
                _ => return None,
            }
        }
        after_value = false;
        p.ws();
        match p.next()? {
            b',' => p.ws(),
            b'}' => break,
            _ => return None,
        }
    }
    p.ws();
    if p.i != line.len() {
        return None;
    }
    let (src, dest) = (src?, dest?);
    Some(WireEnvelope {
        src: Cow::Borrowed(src),
        dest: Cow::Borrowed(dest),
        body: body?,
        bad_id: false,
        addrs: Some([Addr::parse_bytes(src, node_count), dest_addr?]),
    })
}

/// `{"src":"..","dest":"..","body":` exactly (the head nodes write): `src`, `dest` and where
/// the body starts; `None` for anything else (read key by key, as the same).
#[inline]
fn compact_head(line: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    const SRC: &[u8] = br#"{"src":""#;
    const DEST: &[u8] = br#","dest":""#;
    const BODY: &[u8] = br#","body":"#;
    if !line.starts_with(SRC) {
        return None;
    }
    // Each string ends after its closing quote.
    let src_end = skip_string_contents(line, SRC.len())?;
    if !line[src_end..].starts_with(DEST) {
        return None;
    }
    let dest_start = src_end + DEST.len();
    let dest_end = skip_string_contents(line, dest_start)?;
    if !line[dest_end..].starts_with(BODY) {
        return None;
    }
    Some((
        &line[SRC.len()..src_end - 1],
        &line[dest_start..dest_end - 1],
        dest_end + BODY.len(),
    ))
}

/// Reads the body object at the cursor, bound for `dest_addr` (if `dest` was read before).
#[inline(always)]
fn read_body(
    p: &mut Cursor<'_>,
    dest_addr: Option<Option<Addr>>,
    last_array: &mut LastArray,
) -> Option<WireBody> {
    let line = p.text;
    let to_node = matches!(dest_addr, Some(Some(Addr::Node(_))));
    let start = p.i;
    if p.peek() != Some(b'{') {
        return None;
    }
    let scanned = if to_node {
        p.i = skip_value(line, start, &mut Skip)?;
        None
    } else {
        // A reply's fields and arrays are handed on to the runner and workload.
        let mut found = Found {
            base: start,
            last_array,
            scanned: ScannedBox::new(),
            key: [0; 3],
            reserved: 0,
        };
        p.i = skip_value(line, start, &mut found)?;
        found.finish(p.i - start)
    };
    Some(WireBody::Raw {
        text: line[start..p.i].into(),
        parsed_in_exact_mode: !to_node,
        scanned,
    })
}

struct Cursor<'a> {
    text: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.get(self.i).copied()
    }

    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }

    #[inline(always)]
    fn eat(&mut self, b: u8) -> Option<()> {
        (self.next()? == b).then_some(())
    }

    #[inline(always)]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// A string of printable ASCII without escapes; its contents.
    #[inline(always)]
    fn string_bytes(&mut self) -> Option<&'a [u8]> {
        let start = self.i + 1;
        self.skip_string()?;
        Some(&self.text[start..self.i - 1])
    }

    /// Skips a string of printable ASCII without escapes.
    #[inline(always)]
    fn skip_string(&mut self) -> Option<()> {
        self.i = skip_string(self.text, self.i)?;
        Some(())
    }
}

/// What [`skip_value`] tells about the value it reads: the body's own fields (those directly
/// in the outermost object) and arrays of integers.
trait Finds {
    /// Whether [`Finds::key`] and [`Finds::value_end`] want to be called.
    const FIELDS: bool;
    /// Whether arrays of scalars are read by [`skip_flat_array`] (the tests compare).
    const FLAT_ARRAYS: bool = true;
    /// A field's key, quotes included, at `text[start..end]`; its value starts at `value`.
    fn key(&mut self, text: &[u8], start: usize, end: usize, value: usize);
    /// [`Finds::key`] of a key known to be `reserved` ([`reserved_key`]).
    #[inline(always)]
    fn reserved_key(&mut self, text: &[u8], start: usize, end: usize, value: usize, reserved: u8) {
        let _ = reserved;
        self.key(text, start, end, value)
    }
    /// The field's value ends at `text[end]`.
    fn value_end(&mut self, text: &[u8], end: usize);
    /// The compact array of integers at `text[i]` (a field's value): the index after it, or
    /// `None` to leave it to the general loop.
    fn array(&mut self, text: &[u8], i: usize) -> Option<usize>;
    /// The compact array of arrays at `text[i]` (a field's value): the index after it, or
    /// `None` to leave it to the general loop.
    #[inline(always)]
    fn arrays(&mut self, _text: &[u8], _i: usize) -> Option<usize> {
        None
    }
}

/// Nothing is wanted (a body for a node).
struct Skip;

impl Finds for Skip {
    const FIELDS: bool = false;
    fn key(&mut self, _: &[u8], _: usize, _: usize, _: usize) {}
    fn value_end(&mut self, _: &[u8], _: usize) {}
    #[inline]
    fn array(&mut self, text: &[u8], i: usize) -> Option<usize> {
        uint_array::check(text, i)
    }
}

/// A reply's fields and sets, the body starting at `base` in the line.
struct Found<'c> {
    base: usize,
    last_array: &'c mut LastArray,
    /// Filled in as they are found (offsets in the body).
    scanned: ScannedBox,
    /// The field being read: key start and end (quotes excluded), value start (in the body),
    /// and which reserved key it is (`reply::reserved_key`).
    key: [u32; 3],
    reserved: u8,
}

impl Found<'_> {
    /// What was found, in a body of `len` bytes; `None` if its offsets do not fit.
    fn finish(self, len: usize) -> Option<ScannedBox> {
        u32::try_from(len).ok()?;
        Some(self.scanned)
    }

    /// An index in the line as an offset in the body (checked to fit by `finish`).
    fn at(&self, i: usize) -> u32 {
        (i - self.base) as u32
    }
}

impl Finds for Found<'_> {
    const FIELDS: bool = true;

    fn key(&mut self, text: &[u8], start: usize, end: usize, value: usize) {
        self.key = [self.at(start + 1), self.at(end - 1), self.at(value)];
        self.reserved = reserved_key(&text[start + 1..end - 1]);
    }

    #[inline(always)]
    fn reserved_key(&mut self, _: &[u8], start: usize, end: usize, value: usize, reserved: u8) {
        self.key = [self.at(start + 1), self.at(end - 1), self.at(value)];
        self.reserved = reserved;
    }

    fn value_end(&mut self, text: &[u8], end: usize) {
        let [key_start, key_end, value] = self.key;
        let field = [key_start, key_end, value, self.at(end)];
        let body = text.get(self.base..).unwrap_or_default();
        self.scanned.push_field(field, self.reserved, body);
    }

    fn array(&mut self, text: &[u8], i: usize) -> Option<usize> {
        let end = self.last_array.scan(text, i)?;
        let (start, end32) = (self.at(i), self.at(end));
        self.scanned.sets.push(ScannedSet {
            start,
            end: end32,
            set: Some(self.last_array.set()).into(),
        });
        Some(end)
    }

    /// A txn's micro-ops are read here, for the workload (see `reply::micro_ops`).
    #[inline]
    fn arrays(&mut self, text: &[u8], i: usize) -> Option<usize> {
        if self.scanned.ops_at.is_some() {
            return None;
        }
        let end = micro_ops::scan(text, i, &mut self.scanned.ops)?;
        self.scanned.ops_at = Some([self.at(i), self.at(end)]);
        Some(end)
    }
}

/// Skips the plain value at `text[i]`; the index after it, telling `finds` about it.
///
/// One loop, no recursion: the open containers are a stack of bits (1 for an object, 0 for
/// an array), at most [`MAX_NESTING`] of them. Every line a node writes goes through here
/// (a kafka poll's arrays of pairs, a txn's micro-ops), so it is kept to a few instructions
/// per byte: the byte after a value or separator is matched directly, whitespace (which
/// nodes rarely write) only looked for when it is not what was expected. What it does not
/// take, the caller leaves to serde.
fn skip_value<F: Finds>(text: &[u8], mut i: usize, finds: &mut F) -> Option<usize> {
    let mut objects: u64 = 0;
    let mut depth = 0usize;
    'value: loop {
        // A value starts at `i`.
        match *text.get(i)? {
            b'"' => i = skip_string_contents(text, i + 1)?,
            b'0'..=b'9' => i = skip_digits(text, i)?,
            b'-' => i = skip_digits(text, i + 1)?,
            open @ (b'{' | b'[') => {
                if depth >= MAX_NESTING {
                    return None;
                }
                // The compact arrays of integers nodes write directly in a body (a
                // broadcast read's whole set): eight bytes at a time. Other arrays of
                // scalars written compactly (a txn's micro-ops, a kafka message) in a loop
                // of their own.
                let scanned = match open == b'[' {
                    true if depth == 1 && text.get(i + 1).is_some_and(u8::is_ascii_digit) => finds
                        .array(text, i)
                        .or_else(|| skip_flat_array::<F>(text, i)),
                    true if depth == 1 && text.get(i + 1) == Some(&b'[') => finds.arrays(text, i),
                    true => skip_flat_array::<F>(text, i),
                    false => None,
                };
                if let Some(end) = scanned {
                    i = end;
                } else if F::FLAT_ARRAYS
                    && open == b'['
                    && depth >= 1
                    && depth + 1 < MAX_NESTING
                    && text.get(i + 1) == Some(&b'[')
                {
                    // An array of arrays of scalars (kafka's pairs, a sync's entries): its
                    // elements in a loop of their own, up to the first it does not take,
                    // from which the general loop goes on as if it had read them.
                    match skip_flat_arrays::<F>(text, i) {
                        Ok(end) => i = end,
                        Err(element) => {
                            depth += 1;
                            objects <<= 1;
                            i = skip_ws(text, element);
                            continue;
                        }
                    }
                } else {
                    i = skip_ws(text, i + 1);
                    let close = open + 2; // `}` and `]` follow `{` and `[` by two
                    if text.get(i) == Some(&close) {
                        i += 1;
                    } else {
                        depth += 1;
                        let is_object = open == b'{';
                        objects = objects << 1 | u64::from(is_object);
                        if is_object {
                            i = read_key(text, i, depth, finds)?;
                        }
                        continue;
                    }
                }
            }
            b't' => i = skip_literal(text, i, b"true")?,
            b'f' => i = skip_literal(text, i, b"false")?,
            b'n' => i = skip_literal(text, i, b"null")?,
            _ => return None,
        }
        // After a value: close what ends here, up to the next value.
        loop {
            if depth == 0 {
                return Some(i);
            }
            if F::FIELDS && depth == 1 {
                finds.value_end(text, i);
            }
            let mut b = *text.get(i)?;
            if b <= b' ' {
                i = skip_ws(text, i);
                b = *text.get(i)?;
            }
            let in_object = objects & 1 == 1;
            if b == b',' {
                i = skip_ws(text, i + 1);
                if in_object {
                    i = read_key(text, i, depth, finds)?;
                }
                continue 'value;
            }
            // `}` closes an object, `]` an array.
            if b != if in_object { b'}' } else { b']' } {
                return None;
            }
            i += 1;
            depth -= 1;
            objects >>= 1;
        }
    }
}

/// Skips the array at `text[i]` if it holds only scalars and no whitespace: the index after
/// its `]`, or `None` to leave it to [`skip_value`]'s general loop (a nested value,
/// whitespace, a bad element), which reads such an array the same way: the same elements,
/// each followed by a `,` or the `]`.
#[inline(always)]
fn skip_flat_array<F: Finds>(text: &[u8], mut i: usize) -> Option<usize> {
    if !F::FLAT_ARRAYS {
        return None;
    }
    i += 1;
    if text.get(i) == Some(&b']') {
        return Some(i + 1);
    }
    loop {
        i = match *text.get(i)? {
            b'"' => skip_string_contents(text, i + 1)?,
            b'0'..=b'9' => skip_digits(text, i)?,
            b'-' => skip_digits(text, i + 1)?,
            b't' => skip_literal(text, i, b"true")?,
            b'f' => skip_literal(text, i, b"false")?,
            b'n' => skip_literal(text, i, b"null")?,
            _ => return None,
        };
        match *text.get(i)? {
            b',' => i += 1,
            b']' => return Some(i + 1),
            _ => return None,
        }
    }
}

/// Skips the array at `text[i]` if its elements are all arrays that [`skip_flat_array`]
/// takes, with no whitespace: the index after its `]`; else `Err` with the index of the
/// first element not taken (or of the one before a separator it did not take), where
/// [`skip_value`]'s general loop, having read the elements before it as the same, goes on.
#[inline(always)]
fn skip_flat_arrays<F: Finds>(text: &[u8], i: usize) -> Result<usize, usize> {
    let mut element = i + 1;
    loop {
        if text.get(element) != Some(&b'[') {
            return Err(element);
        }
        let Some(end) = skip_flat_array::<F>(text, element) else {
            return Err(element);
        };
        match text.get(end) {
            Some(b',') => element = end + 1,
            Some(b']') => return Ok(end + 1),
            _ => return Err(element),
        }
    }
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
#[inline(always)]
fn skip_ws(text: &[u8], i: usize) -> usize {
    match text.get(i) {
        Some(&b) if b > b' ' => i,
        _ => skip_ws_slowly(text, i),
    }
}

#[inline(never)]
fn skip_ws_slowly(text: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = text.get(i) {
        i += 1;
    }
    i
}

/// [`skip_key`], telling `finds` about a key of the outermost object (at `depth` 1).
#[inline(always)]
fn read_key<F: Finds>(text: &[u8], i: usize, depth: usize, finds: &mut F) -> Option<usize> {
    if F::FIELDS && depth == 1 {
        if let Some((len, reserved)) = literal_key(text, i) {
            let value = skip_ws(text, i + len);
            finds.reserved_key(text, i, i + len - 1, value, reserved);
            return Some(value);
        }
        let end = skip_string(text, i)?;
        let value = skip_colon(text, end)?;
        finds.key(text, i, end, value);
        return Some(value);
    }
    skip_key(text, i)
}

/// The reserved keys replies write (`"type":`, `"in_reply_to":`, `"msg_id":`, the colon
/// right after the quote) known by their bytes at `text[i]`: how many bytes they take, colon
/// included, and which key it is ([`reserved_key`]); `None` for anything else (read as any
/// key is). Cheaper than finding the string's end and naming the key after.
#[inline(always)]
fn literal_key(text: &[u8], i: usize) -> Option<(usize, u8)> {
    let word = |at: usize| {
        let bytes = text.get(at..at + 8)?;
        Some(u64::from_le_bytes(bytes.try_into().expect("eight bytes")))
    };
    let head = word(i)?;
    // Seven bytes of `"type":` (the eighth is the value's first).
    if head & 0x00ff_ffff_ffff_ffff == u64::from_le_bytes(*b"\"type\":\0") {
        return Some((7, reserved_key(b"type")));
    }
    if head == u64::from_le_bytes(*b"\"msg_id\"") && text.get(i + 8) == Some(&b':') {
        return Some((9, reserved_key(b"msg_id")));
    }
    // `"in_reply_to":` is fourteen bytes: two words that overlap by two.
    if head == u64::from_le_bytes(*b"\"in_repl")
        && word(i + 6)? == u64::from_le_bytes(*b"ply_to\":")
    {
        return Some((14, reserved_key(b"in_reply_to")));
    }
    None
}

/// Skips the whitespace, colon and whitespace after a key that ends before `i`.
#[inline(always)]
fn skip_colon(text: &[u8], i: usize) -> Option<usize> {
    if text.get(i) == Some(&b':') {
        return Some(skip_ws(text, i + 1));
    }
    let i = skip_ws(text, i);
    if text.get(i) != Some(&b':') {
        return None;
    }
    Some(skip_ws(text, i + 1))
}

/// Skips an object's key, its colon and the whitespace up to its value.
#[inline(always)]
fn skip_key(text: &[u8], i: usize) -> Option<usize> {
    skip_colon(text, skip_string(text, i)?)
}

/// Skips a string of printable ASCII without escapes.
#[inline(always)]
fn skip_string(text: &[u8], i: usize) -> Option<usize> {
    if text.get(i) != Some(&b'"') {
        return None;
    }
    skip_string_contents(text, i + 1)
}

/// Skips the rest of a string whose contents start at `i`: the index after its closing
/// quote. Strings are short (a type, a key): sixteen bytes at a time (eight where SSE2 is
/// not there, and byte by byte at the end of the line) find the first byte that ends or
/// spoils one.
#[inline(always)]
fn skip_string_contents(text: &[u8], mut i: usize) -> Option<usize> {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while i + 16 <= text.len() {
        // SAFETY: the sixteen bytes at `i` are in `text` (checked just above).
        let special = unsafe { not_plain_string_bytes_16(text.as_ptr().add(i)) };
        if special != 0 {
            let at = i + special.trailing_zeros() as usize;
            return (text[at] == b'"').then_some(at + 1);
        }
        i += 16;
    }
    while let Some(bytes) = text.get(i..i + 8) {
        let word = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        let special = not_plain_string_bytes(word);
        if special != 0 {
            let at = i + (special.trailing_zeros() / 8) as usize;
            return (text[at] == b'"').then_some(at + 1);
        }
        i += 8;
    }
    loop {
        match *text.get(i)? {
            b'"' => return Some(i + 1),
            b'\\' | 0..=0x1f | 0x7f..=0xff => return None,
            _ => i += 1,
        }
    }
}

/// A bit for each of the sixteen bytes at `p` that is not a plain string byte: a quote, a
/// backslash, a control character, DEL or not ASCII.
///
/// # Safety
/// The sixteen bytes at `p` must be readable.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline(always)]
unsafe fn not_plain_string_bytes_16(p: *const u8) -> u32 {
    use std::arch::x86_64::*;
    let v = _mm_loadu_si128(p.cast());
    let splat = |b: u8| _mm_set1_epi8(b as i8);
    // Signed bytes: those of 0x80 and more are negative, so below 0x20 too.
    let below_space = _mm_cmplt_epi8(v, splat(0x20));
    let quote = _mm_cmpeq_epi8(v, splat(b'"'));
    let backslash = _mm_cmpeq_epi8(v, splat(b'\\'));
    let del = _mm_cmpeq_epi8(v, splat(0x7f));
    let special = _mm_or_si128(
        _mm_or_si128(below_space, quote),
        _mm_or_si128(backslash, del),
    );
    _mm_movemask_epi8(special) as u32
}

/// One byte of each of eight.
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `word` that is not a plain string byte: a quote, a
/// backslash, a control character, DEL or not ASCII. Exact per byte (no borrow crosses
/// bytes: each is compared with its high bit set).
#[inline]
fn not_plain_string_bytes(word: u64) -> u64 {
    let low = word & !HIGH;
    // The high bit of each byte of `low` that is at least `n` (n at most 0x80).
    let at_least = |x: u64, n: u8| ((x | HIGH) - u64::from(n) * ONES) & HIGH;
    let below_space = at_least(low, 0x20) ^ HIGH;
    let del = at_least(low, 0x7f);
    let quote = at_least(low ^ (u64::from(b'"') * ONES), 1) ^ HIGH;
    let backslash = at_least(low ^ (u64::from(b'\\') * ONES), 1) ^ HIGH;
    (word & HIGH) | below_space | del | quote | backslash
}

/// Skips the digits of an integer starting at `start` (after its sign, if any): at least one
/// and at most 19, without a leading zero. A fraction or exponent after it is refused by
/// whatever reads on (it expects `,`, `]`, `}` or whitespace).
#[inline(always)]
fn skip_digits(text: &[u8], start: usize) -> Option<usize> {
    match *text.get(start)? {
        // A zero is the whole integer: no digit may follow it.
        b'0' => match text.get(start + 1) {
            Some(b) if b.is_ascii_digit() => None,
            _ => Some(start + 1),
        },
        b'1'..=b'9' => {
            // Eight bytes at a time: integers are short (ids, offsets), mostly one word.
            if let Some(bytes) = text.get(start..start + 8) {
                let word = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
                let digits = uint_array::leading_digits(word);
                if digits < 8 {
                    return Some(start + digits);
                }
            }
            let mut end = start + 1;
            while let Some(&b) = text.get(end) {
                if b.wrapping_sub(b'0') >= 10 {
                    break;
                }
                end += 1;
            }
            (end - start <= 19).then_some(end)
        }
        _ => None,
    }
}

fn skip_literal(text: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    text[i..].starts_with(word).then_some(i + word.len())
}

#[cfg(test)]
mod tests;
