//! Replies read straight from the text a node wrote, without building a JSON value.
//!
//! The wire check has already validated a reply body as a JSON object, so finding its
//! top-level fields only has to skip over strings and brackets (with `memchr`), and a
//! workload parses just the field it needs into typed data. Anything unusual (an escape in a
//! key, a key twice, a field of the wrong type) is left to the slow path, which parses the
//! body into a map and names the problem exactly as before: the fast readers only ever accept
//! what the map-based checks accept, with the same result.

use std::cell::RefCell;

use serde_json::{Map, Value};

use crate::history::IntSet;

pub(crate) mod micro_ops;
pub(crate) mod uint_array;

pub use micro_ops::ScannedOp;

/// A reply body: the text of a JSON object the wire check validated.
#[derive(Clone, Copy, Debug)]
pub struct ReplyText<'a> {
    text: &'a [u8],
    /// What the wire check found in it (see [`Scanned`]); `None`: each reader walks the
    /// text. Borrowed, so that a reply stays small to hand on.
    scanned: Option<&'a Scanned>,
}

/// A top-level field: key, value text.
type Field<'a> = (&'a [u8], &'a [u8]);

/// Replies have a handful of fields.
const KEPT_FIELDS: usize = 6;

/// The keys every reply may have, in the order of [`Scanned::reserved`].
const TYPE: usize = 0;
const IN_REPLY_TO: usize = 1;
const MSG_ID: usize = 2;

/// Which of [`TYPE`], [`IN_REPLY_TO`] and [`MSG_ID`] a key is, plus one (0: none of them).
#[inline(always)]
pub(crate) fn reserved_key(key: &[u8]) -> u8 {
    match key {
        b"type" => TYPE as u8 + 1,
        b"in_reply_to" => IN_REPLY_TO as u8 + 1,
        b"msg_id" => MSG_ID as u8 + 1,
        _ => 0,
    }
}

impl<'a> ReplyText<'a> {
    /// A reply nothing was found in yet: each reader walks its text.
    pub fn new(text: &'a [u8]) -> ReplyText<'a> {
        ReplyText {
            text,
            scanned: None,
        }
    }

    /// The reply with what the wire check found in it (`None`: nothing, so it is read
    /// here as [`ReplyText::new`] reads it): the same fields, found without reading it again.
    pub fn scanned(text: &'a [u8], scanned: Option<&'a Scanned>) -> ReplyText<'a> {
        ReplyText { text, scanned }
    }

    /// The fields the wire check found, when it kept them all.
    #[inline(always)]
    fn kept(&self) -> Option<&'a Scanned> {
        self.scanned.filter(|s| !s.too_many)
    }

    /// A kept field's key and value.
    #[inline(always)]
    fn field(&self, [ks, ke, vs, ve]: [u32; 4]) -> Field<'a> {
        (
            &self.text[ks as usize..ke as usize],
            &self.text[vs as usize..ve as usize],
        )
    }

    /// The value of reserved key `which` ([`TYPE`] ...) among the kept fields.
    #[inline(always)]
    fn reserved(&self, scanned: &Scanned, which: usize) -> Option<&'a [u8]> {
        let at = usize::from(scanned.reserved[which]).checked_sub(1)?;
        Some(self.field(scanned.fields[at]).1)
    }

    /// The set of `values`, one of this reply's field values: what [`int_set`] makes of it,
    /// taken from the wire check when it already parsed it.
    pub fn int_set(&self, values: &'a [u8]) -> Option<IntSet> {
        let at = (values.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
        let kept = self.scanned.and_then(|s| {
            s.sets
                .iter()
                .find(|s| s.start as usize == at && s.end as usize == at + values.len())
        });
        if let Some(set) = kept.and_then(|s| s.set.borrow_mut().take()) {
            return Some(set);
        }
        int_set(values)
    }

    /// The micro-ops of `values`, one of this reply's field values, when the wire check read
    /// it as a compact array of micro-ops (see [`micro_ops`]); `None` otherwise (the text
    /// then says what it holds).
    pub fn micro_ops(&self, values: &'a [u8]) -> Option<&'a [ScannedOp]> {
        let scanned = self.scanned?;
        let [start, end] = scanned.ops_at?;
        let at = (values.as_ptr() as usize).wrapping_sub(self.text.as_ptr() as usize);
        (start as usize == at && end as usize == at + values.len()).then_some(&scanned.ops)
    }

    /// Calls `f` for each top-level field (see [`for_each_field`]).
    fn each(&self, mut f: impl FnMut(&'a [u8], &'a [u8]) -> bool) -> bool {
        match self.kept() {
            Some(scanned) => scanned.fields[..scanned.len].iter().all(|&field| {
                let (k, v) = self.field(field);
                f(k, v)
            }),
            None => for_each_field(self.text, f),
        }
    }

    pub fn text(&self) -> &'a [u8] {
        self.text
    }

    /// The body as a map (the slow path).
    pub fn to_map(&self) -> Map<String, Value> {
        match crate::net::parse_value(self.text) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// The top-level fields as (key, value text), in the order written; `None` if a key holds
    /// an escape (its name is only known once unescaped: the slow path reads it).
    pub fn fields(&self) -> Option<Vec<(&'a [u8], &'a [u8])>> {
        let mut fields = Vec::with_capacity(4);
        let ok = self.each(|key, value| {
            fields.push((key, value));
            true
        });
        ok.then_some(fields)
    }

    /// The texts of `type` and `in_reply_to` (the last of each, as the map keeps), or `None`
    /// when a key holds an escape.
    pub fn header(&self) -> Option<Header<'a>> {
        if let Some(scanned) = self.kept() {
            return Some(Header {
                kind: self.reserved(scanned, TYPE),
                in_reply_to: self.reserved(scanned, IN_REPLY_TO),
            });
        }
        let mut header = Header::default();
        let ok = self.each(|key, value| {
            match key {
                b"type" => header.kind = Some(value),
                b"in_reply_to" => header.in_reply_to = Some(value),
                _ => {}
            }
            true
        });
        ok.then_some(header)
    }

    /// The reply's `in_reply_to` as the map reads it (`Value::as_u64`), or `None` when the
    /// text cannot tell quickly (an escaped key): the caller asks the map.
    pub fn in_reply_to(&self) -> Option<Option<u64>> {
        if let Some(scanned) = self.kept() {
            return Some(scanned.ids[IN_REPLY_TO - 1]);
        }
        let mut found = None;
        let ok = self.each(|key, value| {
            if key == b"in_reply_to" {
                // A key written twice: the map keeps the last.
                found = Some(value);
            }
            true
        });
        ok.then(|| found.and_then(as_u64))
    }

    /// What a reply to a client is routed by: its `in_reply_to` as the map reads it
    /// (`Value::as_u64`), and whether its `type` is `"error"` (`None` when an escape in it
    /// leaves that to the map); both `None` when a key holds an escape. Exactly what
    /// [`ReplyText::header`] gives with [`as_u64`] of its `in_reply_to`, without reading the
    /// number again when the wire check read it.
    pub fn route(&self) -> (Option<u64>, Option<bool>) {
        let (in_reply_to, kind) = match self.kept() {
            Some(scanned) => (scanned.ids[IN_REPLY_TO - 1], self.reserved(scanned, TYPE)),
            None => match self.header() {
                Some(h) => (h.in_reply_to.and_then(as_u64), h.kind),
                None => return (None, None),
            },
        };
        let is_error = match kind {
            Some(b"\"error\"") => Some(true),
            // An escape in `type`: only the map can say what it is.
            Some(kind) if kind.contains(&b'\\') => None,
            _ => Some(false),
        };
        (in_reply_to, is_error)
    }

    /// The text of each of `fields` when the reply is exactly `{"type": expected_type,
    /// "in_reply_to": <integer>, ["msg_id": <integer>,] fields...}`, each key once and no
    /// escape in a key or in `type` (so [`crate::workloads::closed_schema`] would accept it);
    /// `None` for anything else.
    pub fn closed<const N: usize>(
        &self,
        expected_type: &str,
        fields: [&str; N],
    ) -> Option<[&'a [u8]; N]> {
        if let Some(scanned) = self.kept() {
            return self.closed_kept(scanned, expected_type, fields);
        }
        let mut found = Closed {
            kind: None,
            in_reply_to: None,
            msg_id: None,
            values: [None; N],
        };
        // `take` always inlined (as a closure, it was a call per field).
        let ok = for_each_field(self.text, |key, value| found.take(&fields, key, value));
        if !ok {
            return None;
        }
        let Closed {
            kind,
            in_reply_to,
            msg_id,
            values,
        } = found;
        let kind = kind?;
        let quoted = kind.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        if quoted != expected_type.as_bytes() {
            return None;
        }
        as_u64(in_reply_to?)?;
        if let Some(id) = msg_id {
            as_u64(id)?;
        }
        let mut out: [&'a [u8]; N] = [&[]; N];
        for (o, v) in out.iter_mut().zip(values) {
            *o = v?;
        }
        Some(out)
    }

    /// [`ReplyText::closed`] from the fields the wire check kept: the reserved keys as it
    /// filed them (`in_reply_to` and `msg_id` already read as numbers), the others by name.
    #[inline(always)]
    fn closed_kept<const N: usize>(
        &self,
        scanned: &'a Scanned,
        expected_type: &str,
        fields: [&str; N],
    ) -> Option<[&'a [u8]; N]> {
        // A reserved key twice goes to the slow path (the map keeps the last one).
        if scanned.twice {
            return None;
        }
        // `in_reply_to` a u64, `msg_id` absent or a u64.
        scanned.ids[IN_REPLY_TO - 1]?;
        if scanned.reserved[MSG_ID] != 0 && scanned.ids[MSG_ID - 1].is_none() {
            return None;
        }
        let kind = self.reserved(scanned, TYPE)?;
        let quoted = kind.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        if quoted != expected_type.as_bytes() {
            return None;
        }
        let mut values: [Option<&'a [u8]>; N] = [None; N];
        for (&field, &reserved) in scanned.fields[..scanned.len].iter().zip(&scanned.keys) {
            if reserved != 0 {
                continue;
            }
            let (key, value) = self.field(field);
            let at = fields.iter().position(|f| f.as_bytes() == key)?;
            if values[at].replace(value).is_some() {
                return None;
            }
        }
        let mut out: [&'a [u8]; N] = [&[]; N];
        for (o, v) in out.iter_mut().zip(values) {
            *o = v?;
        }
        Some(out)
    }
}

/// The fields [`ReplyText::closed`] found so far.
struct Closed<'a, const N: usize> {
    kind: Option<&'a [u8]>,
    in_reply_to: Option<&'a [u8]>,
    msg_id: Option<&'a [u8]>,
    values: [Option<&'a [u8]>; N],
}

impl<'a, const N: usize> Closed<'a, N> {
    /// Files one field; `false` for a key not allowed or seen before.
    #[inline(always)]
    fn take(&mut self, fields: &[&str; N], key: &'a [u8], value: &'a [u8]) -> bool {
        let slot = match key {
            b"type" => &mut self.kind,
            b"in_reply_to" => &mut self.in_reply_to,
            b"msg_id" => &mut self.msg_id,
            _ => return self.take_other(fields, key, value),
        };
        // A key twice goes to the slow path (the map keeps the last one).
        slot.replace(value).is_none()
    }

    /// [`Closed::take`] of a key that is not reserved.
    #[inline(always)]
    fn take_other(&mut self, fields: &[&str; N], key: &'a [u8], value: &'a [u8]) -> bool {
        match fields.iter().position(|f| f.as_bytes() == key) {
            Some(i) => self.values[i].replace(value).is_none(),
            None => false,
        }
    }
}

/// What the runner routes a reply by (see [`ReplyText::header`]): value texts.
#[derive(Clone, Copy, Debug, Default)]
pub struct Header<'a> {
    pub kind: Option<&'a [u8]>,
    pub in_reply_to: Option<&'a [u8]>,
}

/// [`as_u64`] of an id: the short ones every run has in a loop inlined where they are
/// filed, the rest by [`as_u64`].
#[inline(always)]
fn id_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 8 {
        return as_u64(text);
    }
    digits_u64(text)
}

/// The number `text` spells if it is all decimal digits (at most 19 of them, so that it
/// fits), else `None`.
#[inline(always)]
fn digits_u64(text: &[u8]) -> Option<u64> {
    let mut n: u64 = 0;
    for &b in text {
        let d = b.wrapping_sub(b'0');
        if d >= 10 {
            return None;
        }
        n = n * 10 + u64::from(d);
    }
    Some(n)
}

/// A JSON value's text read as `Value::as_u64` would: a non-negative integer that fits.
pub fn as_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 19 {
        // Twenty digits may not fit: the checked parse below says.
        if text.is_empty() || !text.iter().all(u8::is_ascii_digit) {
            return None;
        }
        return std::str::from_utf8(text).ok()?.parse().ok();
    }
    digits_u64(text)
}

/// A JSON value's text read as `Value::as_i64` would: an integer that fits (not `-0`, which
/// serde_json reads as a float).
pub fn as_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix(b"-") {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) || text.starts_with(b"-0") {
        return None;
    }
    if digits.len() > 18 {
        // Nineteen digits may not fit: the checked parse says.
        return std::str::from_utf8(text).ok()?.parse().ok();
    }
    let n = digits
        .iter()
        .fold(0i64, |n, &d| n * 10 + i64::from(d - b'0'));
    Some(if negative { -n } else { n })
}

/// What the wire check found in a reply body it validated, handed on with it (see
/// [`ReplyText::scanned`]): offsets in the body's text.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scanned {
    /// The top-level fields (key start, key end, value start, value end), in the order
    /// written, as [`ReplyText::new`] finds them: the first `len`, unless there were more
    /// than [`KEPT_FIELDS`] (`too_many`).
    pub(crate) fields: [[u32; 4]; KEPT_FIELDS],
    pub(crate) len: usize,
    pub(crate) too_many: bool,
    /// For each kept field, [`reserved_key`] of its key.
    pub(crate) keys: [u8; KEPT_FIELDS],
    /// Where `type`, `in_reply_to` and `msg_id` are in `fields` (index plus one, the last
    /// one if written twice; 0: not there), and whether one of them was written twice.
    pub(crate) reserved: [u8; 3],
    pub(crate) twice: bool,
    /// `in_reply_to` and `msg_id` (the last of each) as [`as_u64`] reads them, read as they
    /// were filed (`None`: not there, or not a `u64`), so that neither the runner nor
    /// [`ReplyText::closed`] reads the number again.
    pub(crate) ids: [Option<u64>; 2],
    /// The arrays of integers directly in the body that were parsed on the way.
    pub(crate) sets: Vec<ScannedSet>,
    /// The first compact array of micro-ops directly in the body (start, end), read on the
    /// way into `ops` (see [`micro_ops`]).
    pub(crate) ops_at: Option<[u32; 2]>,
    pub(crate) ops: Vec<ScannedOp>,
}

impl Scanned {
    /// Files the next top-level field (key start, key end, value start, value end), whose key
    /// is `reserved` ([`reserved_key`]), of the body `text` (which the offsets are in).
    #[inline(always)]
    pub(crate) fn push_field(&mut self, field: [u32; 4], reserved: u8, text: &[u8]) {
        // `in_reply_to` or `msg_id`.
        if let Some(id) = usize::from(reserved).checked_sub(IN_REPLY_TO + 1) {
            self.ids[id] = text
                .get(field[2] as usize..field[3] as usize)
                .and_then(id_u64);
        }
        let Some(slot) = self.fields.get_mut(self.len) else {
            self.too_many = true;
            return;
        };
        *slot = field;
        self.keys[self.len] = reserved;
        self.len += 1;
        if let Some(at) = usize::from(reserved).checked_sub(1) {
            self.twice |= self.reserved[at] != 0;
            self.reserved[at] = self.len as u8;
        }
    }
}

/// A boxed [`Scanned`] whose box is kept for the next reply when it is dropped (in a pool per
/// thread): every reply a node sends a client carries one, and a fresh allocation each time
/// cost about a hundred instructions a reply.
#[derive(Debug)]
pub struct ScannedBox(Option<Box<Scanned>>);

thread_local! {
    // Boxes, not values: the point is to hand the same allocation to the next reply.
    #[allow(clippy::vec_box)]
    static SPARE_SCANNED: RefCell<Vec<Box<Scanned>>> = const { RefCell::new(Vec::new()) };
}

/// How many spare boxes a thread keeps (replies in flight at once are few).
const SPARES: usize = 64;

impl ScannedBox {
    /// An empty one: no fields, no sets.
    pub(crate) fn new() -> ScannedBox {
        let spare = SPARE_SCANNED.with(|spare| spare.borrow_mut().pop());
        ScannedBox(Some(match spare {
            Some(mut scanned) => {
                // As `Box::default()` makes it, the sets' room kept.
                scanned.fields = Default::default();
                scanned.len = 0;
                scanned.too_many = false;
                scanned.keys = Default::default();
                scanned.reserved = Default::default();
                scanned.twice = false;
                scanned.ids = [None; 2];
                scanned.sets.clear();
                scanned.ops_at = None;
                scanned.ops.clear();
                scanned
            }
            None => Box::default(),
        }))
    }
}

impl std::ops::Deref for ScannedBox {
    type Target = Scanned;

    fn deref(&self) -> &Scanned {
        self.0.as_deref().expect("there until dropped")
    }
}

impl std::ops::DerefMut for ScannedBox {
    fn deref_mut(&mut self) -> &mut Scanned {
        self.0.as_deref_mut().expect("there until dropped")
    }
}

impl Clone for ScannedBox {
    fn clone(&self) -> ScannedBox {
        ScannedBox(Some(Box::new((**self).clone())))
    }
}

impl Drop for ScannedBox {
    fn drop(&mut self) {
        if let Some(scanned) = self.0.take() {
            // As the thread ends the pool may be gone: then the box is freed.
            let _ = SPARE_SCANNED.try_with(|spare| {
                let mut spare = spare.borrow_mut();
                if spare.len() < SPARES {
                    spare.push(scanned);
                }
            });
        }
    }
}

/// An array of integers in a reply body and its set (until a workload takes it).
#[derive(Clone, Debug, PartialEq)]
pub struct ScannedSet {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) set: RefCell<Option<IntSet>>,
}

/// Parses a JSON array of non-negative integers straight into a set (`None` for anything
/// else: not an array, an element that is not a `u64` as `Value::as_u64` reads it). The set
/// is what [`IntSet::from_values`] makes of the same array. A loop over the bytes, not
/// serde: a broadcast read holds the whole set, hundreds of thousands of integers a run. The
/// compact form nodes write goes through `uint_array::scan` (runs of consecutive values at
/// a few instructions each); anything else through the byte loop below.
pub fn int_set(text: &[u8]) -> Option<IntSet> {
    // The compact form nodes write, eight bytes at a time; anything else byte by byte below.
    let mut set = IntSet::builder();
    if uint_array::scan(text, 0, |lo, hi, _| set.push_range(lo, hi)) == Some(text.len()) {
        return Some(set.finish());
    }
    let mut set = IntSet::builder();
    let len = text.len();
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'[') {
        return None;
    }
    i = skip_ws(text, i + 1);
    if text.get(i) != Some(&b']') {
        loop {
            let start = i;
            let mut n: u64 = 0;
            while i < len {
                let d = text[i].wrapping_sub(b'0');
                if d >= 10 {
                    break;
                }
                n = n.wrapping_mul(10).wrapping_add(u64::from(d));
                i += 1;
            }
            let digits = i - start;
            // Digits alone (no sign, fraction or exponent), and no leading zero.
            if digits == 0 || (text[start] == b'0' && digits > 1) {
                return None;
            }
            // Up to 19 digits always fit; 20 may not (the sum above wrapped).
            if digits >= 20 {
                n = as_u64(&text[start..i])?;
            }
            set.push(n);
            match text.get(i) {
                Some(b',') => i += 1,
                Some(b']') => break,
                _ => {
                    i = skip_ws(text, i);
                    match text.get(i) {
                        Some(b',') => i += 1,
                        Some(b']') => break,
                        _ => return None,
                    }
                }
            }
            if i < len && !text[i].is_ascii_digit() {
                i = skip_ws(text, i);
            }
        }
    }
    (skip_ws(text, i + 1) == len).then(|| set.finish())
}

/// Calls `f(key, value_text)` for each top-level field of a validated JSON object, until `f`
/// returns false. Returns false if `f` did, if a key holds an escape, or if the text is not
/// an object after all.
pub(crate) fn for_each_field<'a>(
    text: &'a [u8],
    mut f: impl FnMut(&'a [u8], &'a [u8]) -> bool,
) -> bool {
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return false;
    }
    i = skip_ws(text, i + 1);
    if text.get(i) == Some(&b'}') {
        return true;
    }
    loop {
        if text.get(i) != Some(&b'"') {
            return false;
        }
        let Some((end, escaped)) = skip_string(text, i) else {
            return false;
        };
        if escaped {
            return false;
        }
        let key = &text[i + 1..end - 1];
        i = skip_ws(text, end);
        if text.get(i) != Some(&b':') {
            return false;
        }
        let start = skip_ws(text, i + 1);
        let Some(value_end) = skip_value(text, start) else {
            return false;
        };
        if !f(key, &text[start..value_end]) {
            return false;
        }
        i = skip_ws(text, value_end);
        match text.get(i) {
            Some(b',') => i = skip_ws(text, i + 1),
            Some(b'}') => return true,
            _ => return false,
        }
    }
}

fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = text.get(i) {
        i += 1;
    }
    i
}

/// From the opening quote at `i`: the index after the closing quote, and whether the string
/// holds an escape.
fn skip_string(text: &[u8], i: usize) -> Option<(usize, bool)> {
    // Strings in replies are short: a loop beats memchr's setup.
    let mut j = i + 1;
    let mut escaped = false;
    while j < text.len() {
        match text[j] {
            b'"' => return Some((j + 1, escaped)),
            b'\\' => {
                escaped = true;
                j += 2;
            }
            _ => j += 1,
        }
    }
    None
}

/// From the first byte of a value at `i`: the index after it.
fn skip_value(text: &[u8], i: usize) -> Option<usize> {
    match *text.get(i)? {
        b'"' => skip_string(text, i).map(|(end, _)| end),
        b'[' => skip_nested(text, i, b'[', b']'),
        b'{' => skip_nested(text, i, b'{', b'}'),
        _ => {
            let len = text[i..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(text.len() - i);
            Some(i + len)
        }
    }
}

/// Skips an array or object: in validated JSON only its own kind of bracket needs counting
/// (the other kind nests in balanced pairs inside it), strings aside.
fn skip_nested(text: &[u8], i: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0usize;
    let mut j = i;
    // Short values (a txn's micro-ops): a loop beats memchr's setup.
    if text.len() - i < 256 {
        while j < text.len() {
            match text[j] {
                b'"' => j = skip_string(text, j)?.0,
                b if b == open => {
                    depth += 1;
                    j += 1;
                }
                b if b == close => {
                    depth -= 1;
                    j += 1;
                    if depth == 0 {
                        return Some(j);
                    }
                }
                _ => j += 1,
            }
        }
        return None;
    }
    loop {
        j += memchr::memchr3(b'"', open, close, text.get(j..)?)?;
        match text[j] {
            b'"' => j = skip_string(text, j)?.0,
            b if b == open => {
                depth += 1;
                j += 1;
            }
            _ => {
                depth -= 1;
                j += 1;
                if depth == 0 {
                    return Some(j);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
