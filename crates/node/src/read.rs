//! Reading a request body by hand: [`BodyReader`], for the few request types a node receives
//! thousands of times a second (see [`crate::Node::read_request`]).
//!
//! serde's derived deserializers are general, and pay for it: a field-name visitor, a map
//! access and an error path per field. A node whose requests are a handful of small, fixed
//! shapes (`{"txn":[["r",1,null],["w",2,3]]}`, `{"offsets":{"k1":3}}`) reads them several
//! times faster with a cursor that walks the body once.
//!
//! The reader only takes the plain shape: every method returns `None` on anything else (an
//! escape in a string, a float where an integer is expected, a duplicate field, a value out of
//! range, a syntax error). `None` is not an error: the runtime then reads the body with serde,
//! which either reads it the same way or explains, in the error it answers with, what is
//! wrong. A hand-written reader must therefore never accept what serde would refuse, and
//! never read a value differently; it may refuse whatever it likes.

use serde_json::Value;

use crate::scan::{string_run, Scanner, MAX_DEPTH};

/// A cursor over a JSON request body, for [`crate::Node::read_request`].
///
/// Objects are read with [`BodyReader::object`] then [`BodyReader::key`] until it gives
/// `Some(None)`, each key followed by exactly one value; arrays with [`BodyReader::array`] then
/// [`BodyReader::more`] before each element. Separators are checked. Every method returns
/// `None` when the text is not what it expects (see the module docs).
///
/// ```
/// use glomers_node::BodyReader;
///
/// // {"txn":[["r",1,null],["w",2,3]]} as (function, key, value) triples.
/// fn txn(r: &mut BodyReader<'_>) -> Option<Vec<(String, i64, Option<i64>)>> {
///     let mut ops = Vec::new();
///     r.object()?;
///     while let Some(key) = r.key()? {
///         if key != "txn" {
///             r.skip()?;
///             continue;
///         }
///         r.array()?;
///         while r.more()? {
///             r.array()?;
///             let f = r.more()?.then(|| r.str())??.to_string();
///             let k = r.more()?.then(|| r.i64())??;
///             let v = r.more()?.then(|| r.opt_i64())??;
///             (!r.more()?).then_some(())?;
///             ops.push((f, k, v));
///         }
///     }
///     r.end()?;
///     Some(ops)
/// }
///
/// let mut r = BodyReader::new(r#"{"type":"txn","txn":[["r",1,null],["w",2,3]],"msg_id":1}"#);
/// let ops = txn(&mut r).unwrap();
/// assert_eq!(ops, [("r".into(), 1, None), ("w".into(), 2, Some(3))]);
/// // An escape is not the plain shape: left to serde.
/// assert!(txn(&mut BodyReader::new(r#"{"txn":[["\u0072",1,null]]}"#)).is_none());
/// ```
pub struct BodyReader<'a> {
    s: Scanner<'a>,
    /// Objects and arrays open around the cursor.
    depth: u32,
    /// The cursor is right after an opening `{` or `[` (no separator expected).
    first: bool,
    /// What [`BodyReader::key`] saw of the reserved fields at the top level.
    top: TopFields,
    /// Where the value of the outermost object's `type` member starts and ends (its quotes
    /// included), when [`crate::scan::scan_request`] found it (`"type":"..."`, plain): that
    /// member's key and value are then stepped over without reading them again;
    /// `usize::MAX` twice otherwise (no place in a text).
    type_at: (usize, usize),
}

/// The reserved fields among the keys of the outermost object, as [`BodyReader::key`] read
/// them: lets the engine hand a body to the node's reader before reading its header (see
/// [`crate::scan::scan_request`]) and check the header afterwards.
#[derive(Clone, Copy, Default)]
struct TopFields {
    /// How many `type` keys, and where the value of the last starts.
    ty: (u32, usize),
    /// How many `msg_id` keys, and where the value of the last starts.
    msg_id: (u32, usize),
    in_reply_to: bool,
    /// The outermost object was left by [`BodyReader::key`]: it read all the keys.
    closed: bool,
    /// Where the last `msg_id` value starts and the value, when [`BodyReader::skip`] read it:
    /// [`BodyReader::request_header`] does not read it again.
    msg_id_skipped: Option<(usize, u64)>,
}

impl<'a> BodyReader<'a> {
    /// A reader at the start of `text`.
    #[inline]
    pub fn new(text: &'a str) -> Self {
        BodyReader {
            s: Scanner::new(text),
            depth: 0,
            first: false,
            top: TopFields::default(),
            type_at: (usize::MAX, usize::MAX),
        }
    }

    /// A reader at the start of `text`, a body whose `type` member `"type":"ty"` has its value
    /// at `ty_at` (the opening quote), as [`crate::scan::scan_request`] found it: the keys
    /// and values read are those [`BodyReader::new`]'s reader reads, that member's faster.
    #[inline]
    pub(crate) fn with_type_at(text: &'a str, ty_at: usize, ty: &str) -> Self {
        BodyReader {
            type_at: (ty_at, ty_at + ty.len() + 2),
            ..BodyReader::new(text)
        }
    }

    /// Enters an object (`{`).
    #[inline]
    pub fn object(&mut self) -> Option<()> {
        self.open(b'{')
    }

    /// Enters an array (`[`).
    #[inline]
    pub fn array(&mut self) -> Option<()> {
        self.open(b'[')
    }

    #[inline]
    fn open(&mut self, bracket: u8) -> Option<()> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        self.s.ws();
        self.s.eat(bracket)?;
        self.depth += 1;
        self.first = true;
        Some(())
    }

    /// Whether the current object or array goes on: true after the separator, false after
    /// the closing bracket (which leaves it).
    #[inline]
    fn go_on(&mut self, close: u8) -> Option<bool> {
        self.s.ws();
        let c = self.s.next()?;
        if c == close {
            self.depth -= 1;
            self.first = false;
            return Some(false);
        }
        if std::mem::replace(&mut self.first, false) {
            self.s.i -= 1;
            return Some(true);
        }
        (c == b',').then_some(true)
    }

    /// The next key of the current object (a plain string), the cursor then before its value;
    /// `Some(None)` at the end of the object, which it leaves.
    #[inline]
    pub fn key(&mut self) -> Option<Option<&'a str>> {
        // The plain shape, `,"key":` (`"key":` right after `{`), read in one go; anything
        // else (whitespace, the end of the object, an escape) by the general path.
        let b = self.s.b;
        let mut i = self.s.i;
        match b.get(i) {
            Some(b',') if !self.first => i += 1,
            // The end of the object, right there (every object read ends so): as
            // `key_slowly` leaves it.
            Some(b'}') => {
                self.s.i = i + 1;
                self.depth -= 1;
                self.first = false;
                self.top.closed |= self.depth == 0;
                return Some(None);
            }
            _ => {}
        }
        if (self.first || i > self.s.i) && b.get(i) == Some(&b'"') {
            if self.depth == 1 {
                if let Some(key) = self.reserved_key(i) {
                    return Some(Some(key));
                }
            }
            let start = i + 1;
            let end = start + string_run(&b[start..]);
            if b.get(end..end + 2) == Some(&b"\":"[..]) {
                let key = self.s.text.get(start..end)?;
                self.s.i = end + 2;
                self.first = false;
                if self.depth == 1 {
                    self.note_top_key(key);
                }
                return Some(Some(key));
            }
        }
        self.key_slowly()
    }

    /// The outermost object's `type` or `msg_id` key when its opening quote is at `i` (the
    /// cursor is then before its value, as [`BodyReader::key`] leaves it): the `type` that
    /// [`crate::scan::scan_request`] found is known by its place, `msg_id` by its bytes.
    #[inline(always)]
    fn reserved_key(&mut self, i: usize) -> Option<&'static str> {
        const TYPE: usize = b"\"type\":".len();
        const MSG_ID: &[u8] = b"\"msg_id\":";
        let key = if i + TYPE == self.type_at.0 {
            "type"
        } else if self.s.b.get(i..i + MSG_ID.len()) == Some(MSG_ID) {
            "msg_id"
        } else {
            return None;
        };
        self.s.i = i + key.len() + 3;
        self.first = false;
        self.note_top_key(key);
        Some(key)
    }

    /// [`BodyReader::key`] that steps over the outermost object's `type` and `msg_id` members
    /// (key and value, as [`BodyReader::skip`] would), which a request's reader has no use
    /// for: the next other key, or `Some(None)` at the end of the object. The `type` that
    /// [`crate::scan::scan_request`] found is known by its place and stepped over at once.
    /// For readers that skip those two members anyway (a reader that wants `msg_id` uses
    /// `key`).
    #[inline]
    pub fn field(&mut self) -> Option<Option<&'a str>> {
        loop {
            let key = self.key()?;
            if self.depth == 1 {
                if self.s.i == self.type_at.0 {
                    // Right after the `"type":` found by scan_request: its value is known.
                    self.s.i = self.type_at.1;
                    continue;
                }
                if matches!(key, Some("type" | "msg_id")) {
                    self.skip()?;
                    continue;
                }
            }
            return Some(key);
        }
    }

    /// Whether the next key is `key` (a plain key, as the reader's caller writes it), written
    /// plainly (`,"key":`, or `"key":` right after `{`): then it is read as [`BodyReader::key`]
    /// would read it, the cursor before its value; otherwise nothing moves. For readers of
    /// bodies whose fields usually come in one order: a literal comparison, where `key` finds
    /// the key's end and the caller compares it with every name it knows.
    #[inline]
    pub fn key_is(&mut self, key: &str) -> bool {
        let k = key.as_bytes();
        debug_assert!(string_run(k) == k.len(), "not a plain key: {key:?}");
        let (b, mut at) = (self.s.b, self.s.i);
        if !self.first {
            if b.get(at) != Some(&b',') {
                return false;
            }
            at += 1;
        }
        let end = at + k.len() + 3;
        match b.get(at..end) {
            Some(m) if m[0] == b'"' && &m[1..=k.len()] == k && m[k.len() + 1..] == *b"\":" => {}
            _ => return false,
        }
        self.s.i = end;
        self.first = false;
        if self.depth == 1 {
            self.note_top_key(key);
        }
        true
    }

    /// [`BodyReader::key`] for any shape.
    pub(crate) fn key_slowly(&mut self) -> Option<Option<&'a str>> {
        if !self.go_on(b'}')? {
            self.top.closed |= self.depth == 0;
            return Some(None);
        }
        self.s.ws();
        let key = self.s.plain_str()?;
        self.s.ws();
        self.s.eat(b':')?;
        if self.depth == 1 {
            self.note_top_key(key);
        }
        Some(Some(key))
    }

    /// Records a reserved key of the outermost object, the cursor after its colon.
    #[inline(always)]
    fn note_top_key(&mut self, key: &str) {
        let at = self.s.i;
        match key.len() {
            4 if key == "type" => self.top.ty = (self.top.ty.0 + 1, at),
            6 if key == "msg_id" => self.top.msg_id = (self.top.msg_id.0 + 1, at),
            11 if key == "in_reply_to" => self.top.in_reply_to = true,
            _ => {}
        }
    }

    /// After a node's reader took a request body found by [`crate::scan::scan_request`]
    /// (`type` `ty` at `ty_at`): its `msg_id`, if the reader walked the whole body and the
    /// header is one [`crate::scan::scan`] would accept for a request (one plain `type`, the
    /// one at `ty_at`; no `in_reply_to`; at most one `msg_id`, `null` or an integer), as seen
    /// by [`BodyReader::key`] or, if the reader skipped the body whole, read again. `None`
    /// otherwise.
    pub(crate) fn request_header(&mut self, ty: &str, ty_at: usize) -> Option<Option<u64>> {
        if !self.walked_all() {
            return None;
        }
        let top = self.top;
        if !top.closed {
            // The reader took the body whole (`skip`, which validated it), not key by key:
            // the header is read from it as `scan` reads it.
            let (found, msg_id, in_reply_to) = crate::scan::body_header(self.s.text)?;
            return (found == Some(ty) && in_reply_to.is_none()).then_some(msg_id);
        }
        let plain = top.ty == (1, ty_at) && !top.in_reply_to && top.msg_id.0 <= 1;
        if !plain {
            return None;
        }
        if top.msg_id.0 == 0 {
            return Some(None);
        }
        if let Some((at, msg_id)) = top.msg_id_skipped {
            if at == top.msg_id.1 {
                return Some(Some(msg_id));
            }
        }
        let mut s = Scanner::new(self.s.text);
        s.i = top.msg_id.1;
        s.ws();
        s.optional_u64()
    }

    /// Whether the current array has another element (the cursor then before it); at the end
    /// of the array, false, and the array is left.
    #[inline]
    pub fn more(&mut self) -> Option<bool> {
        self.go_on(b']')
    }

    /// A string without escapes or control characters, borrowed from the text.
    #[inline]
    pub fn str(&mut self) -> Option<&'a str> {
        self.s.ws();
        self.s.plain_str()
    }

    /// A non-negative integer that fits a `u64` (no sign, fraction or exponent).
    #[inline]
    pub fn u64(&mut self) -> Option<u64> {
        self.s.ws();
        if self.s.peek()? == b'n' {
            return None;
        }
        self.s.optional_u64()?
    }

    /// An integer that fits an `i64` (no fraction or exponent; not `-0`, which serde_json
    /// reads as a float).
    #[inline]
    pub fn i64(&mut self) -> Option<i64> {
        self.s.ws();
        if self.s.peek()? != b'-' {
            return i64::try_from(self.u64()?).ok();
        }
        self.s.i += 1;
        if self.s.peek()? == b'n' {
            return None;
        }
        let magnitude = self.s.optional_u64()??;
        match magnitude {
            0 => None,
            m if m <= 1 << 63 => Some((m as i64).wrapping_neg()),
            _ => None,
        }
    }

    /// An array of non-negative integers that fit a `u64` (`[1,22,333]`), appended to `out`
    /// in order; `None` on anything else, as [`BodyReader::u64`] (what was read before stays
    /// in `out`). Elements written plainly (digits then `,` or `]`) are read in one tight
    /// loop; anything else (whitespace, a sign, a fraction) by the general path.
    pub fn u64s(&mut self, out: &mut Vec<u64>) -> Option<()> {
        self.array()?;
        let b = self.s.b;
        // Room for as many elements as the text up to the first `]` can hold (a hint only).
        let span = memchr::memchr(b']', &b[self.s.i..]).unwrap_or(0);
        out.reserve(span / 2 + 1);
        let mut i = self.s.i;
        // Where the general path resumes: after the last element taken (before its
        // separator), or right after `[`.
        let mut resume = i;
        while let Some(&first) = b.get(i) {
            if !first.is_ascii_digit() {
                break;
            }
            let mut n = u64::from(first - b'0');
            let mut j = i + 1;
            if first != b'0' {
                while let Some(&d) = b.get(j) {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
                    j += 1;
                }
            }
            match b.get(j) {
                Some(b',') => {
                    out.push(n);
                    resume = j;
                    i = j + 1;
                }
                Some(b']') => {
                    out.push(n);
                    self.s.i = j + 1;
                    self.depth -= 1;
                    self.first = false;
                    return Some(());
                }
                _ => break,
            }
        }
        if resume != self.s.i {
            // At the comma after the last element taken.
            self.s.i = resume;
            self.first = false;
        }
        while self.more()? {
            out.push(self.u64()?);
        }
        Some(())
    }

    /// `null` (true, consumed) or anything else (false, left for the next read).
    #[inline]
    pub fn null(&mut self) -> Option<bool> {
        self.s.ws();
        if self.s.peek()? != b'n' {
            return Some(false);
        }
        self.s.eat_all(b"null")?;
        Some(true)
    }

    /// `null` or an integer that fits a `u64`.
    #[inline]
    pub fn opt_u64(&mut self) -> Option<Option<u64>> {
        if self.null()? {
            return Some(None);
        }
        self.u64().map(Some)
    }

    /// `null` or an integer that fits an `i64`.
    #[inline]
    pub fn opt_i64(&mut self) -> Option<Option<i64>> {
        if self.null()? {
            return Some(None);
        }
        self.i64().map(Some)
    }

    /// Skips one value (validating it).
    #[inline]
    pub fn skip(&mut self) -> Option<()> {
        // What readers skip most (a body's `type` and `msg_id`): a plain string, or an
        // integer without fraction or exponent, stepped over here; the rest by the scanner.
        self.s.ws();
        let b = self.s.b;
        let i = self.s.i;
        let end = match b.get(i) {
            // The value of the `type` member scan_request found: a plain string.
            Some(b'"') if i == self.type_at.0 => Some(self.type_at.1),
            Some(b'"') => {
                let end = i + 1 + string_run(&b[i + 1..]);
                (b.get(end) == Some(&b'"')).then_some(end + 1)
            }
            Some(b'1'..=b'9') if i == self.top.msg_id.1 && self.depth == 1 => {
                return self.skip_msg_id();
            }
            Some(b'1'..=b'9') => {
                let end = i + b[i..]
                    .iter()
                    .position(|c| !c.is_ascii_digit())
                    .unwrap_or(b.len() - i);
                (!matches!(b.get(end), Some(b'.' | b'e' | b'E'))).then_some(end)
            }
            _ => None,
        };
        match end {
            Some(end) => {
                self.s.i = end;
                self.first = false;
                Some(())
            }
            None => self.skip_slowly(),
        }
    }

    /// Skips the top-level `msg_id` (the cursor at its first digit), read as
    /// [`BodyReader::request_header`] would read it and kept for it.
    #[inline(never)]
    fn skip_msg_id(&mut self) -> Option<()> {
        let (b, start) = (self.s.b, self.s.i);
        let (mut end, mut msg_id) = (start, 0u64);
        while let Some(&d) = b.get(end) {
            if !d.is_ascii_digit() {
                break;
            }
            msg_id = msg_id.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            end += 1;
        }
        // Up to 19 digits always fit a u64; more, or a fraction, by the general path.
        if end - start > 19 || matches!(b.get(end), Some(b'.' | b'e' | b'E')) {
            return self.skip_slowly();
        }
        self.top.msg_id_skipped = Some((start, msg_id));
        self.s.i = end;
        self.first = false;
        Some(())
    }

    /// Skips the object at the cursor key by key ([`BodyReader::key`], [`BodyReader::skip`]).
    #[inline(never)]
    fn skip_members(&mut self) -> Option<()> {
        self.object()?;
        while self.key()?.is_some() {
            self.skip()?;
        }
        Some(())
    }

    /// [`BodyReader::skip`] of any value, by the scanner; a body skipped whole (a request
    /// without fields of its own) member by member, so that the keys are noted and the
    /// header needs no second walk.
    pub(crate) fn skip_slowly(&mut self) -> Option<()> {
        self.s.ws();
        if self.depth == 0 && self.s.peek() == Some(b'{') {
            return self.skip_members();
        }
        self.raw().map(|_| ())
    }

    /// One value as the text shows it (validated, without surrounding whitespace).
    pub fn raw(&mut self) -> Option<&'a str> {
        self.s.ws();
        let start = self.s.i;
        self.s.skip_value(self.depth + 1)?;
        self.first = false;
        Some(&self.s.text[start..self.s.i])
    }

    /// Any value as a [`Value`], exactly as serde_json reads it (integers and plain strings
    /// without a second pass).
    pub fn value(&mut self) -> Option<Value> {
        self.s.ws();
        let start = self.s.i;
        let fast = match self.s.peek()? {
            b'0'..=b'9' => self.u64().map(Value::from),
            b'-' => self.i64().map(Value::from),
            b'"' => self.s.plain_str().map(Value::from),
            _ => None,
        };
        if fast.is_some() {
            return fast;
        }
        self.s.i = start;
        serde_json::from_str(self.raw()?).ok()
    }

    /// The text from the cursor on, for a caller that reads the next value itself (a fast
    /// path for a shape of its own) and then steps over it with [`BodyReader::advance`].
    pub fn rest(&self) -> &'a str {
        &self.s.text[self.s.i..]
    }

    /// Moves the cursor `n` bytes on, past one whole value the caller read from
    /// [`BodyReader::rest`]: it must have checked that those bytes are exactly one valid
    /// JSON value (the reader does not look at them).
    pub fn advance(&mut self, n: usize) {
        self.s.i += n;
        self.first = false;
    }

    /// Checks that the text ends here (whitespace aside), all objects and arrays closed.
    pub fn end(&mut self) -> Option<()> {
        self.s.ws();
        (self.depth == 0 && self.s.i == self.s.b.len()).then_some(())
    }

    /// Whether the reader walked the whole text (every object and array closed, nothing but
    /// whitespace left), which it then validated.
    pub(crate) fn walked_all(&mut self) -> bool {
        self.end().is_some()
    }
}

/// Keeps track of which of up to 64 fields of an object were read, to refuse duplicates (which
/// serde's derived structs refuse): `if !seen.first(0) { return None }`.
#[derive(Clone, Copy, Debug, Default)]
pub struct FieldSet(u64);

impl FieldSet {
    /// Records field `n` (below 64); whether it is its first time.
    #[inline]
    pub fn first(&mut self, n: u32) -> bool {
        let bit = 1u64 << n;
        let fresh = self.0 & bit == 0;
        self.0 |= bit;
        fresh
    }

    /// Whether field `n` was recorded.
    #[inline]
    pub fn has(&self, n: u32) -> bool {
        self.0 & (1u64 << n) != 0
    }
}

/// Test support for a hand reader (the function a node's [`crate::Node::read_request`] calls):
/// `read` takes `body`, a body of type `ty`, and gives exactly what the runtime's serde path
/// ([`crate::parse_request`]) gives. Panics, naming the body, otherwise.
#[track_caller]
pub fn assert_reads_as_serde<'de, R>(
    read: fn(&str, &mut BodyReader<'de>) -> Option<R>,
    ty: &str,
    body: &'de str,
) where
    R: serde::Deserialize<'de> + PartialEq + std::fmt::Debug,
{
    let fast = read(ty, &mut BodyReader::new(body));
    assert!(fast.is_some(), "the hand reader left {body} to serde");
    assert_eq!(fast, crate::parse_request(ty, body).ok(), "{body}");
}

/// Test support for a hand reader: `read` leaves `body` (of type `ty`) to serde, answering
/// `None`. Returns what serde makes of the body, for the test to check (most such bodies are
/// refused by serde too; a few, with escapes, are read by serde alone).
#[track_caller]
pub fn assert_left_to_serde<'de, R>(
    read: fn(&str, &mut BodyReader<'de>) -> Option<R>,
    ty: &str,
    body: &'de str,
) -> Option<R>
where
    R: serde::Deserialize<'de> + std::fmt::Debug,
{
    let fast = read(ty, &mut BodyReader::new(body));
    assert!(fast.is_none(), "the hand reader took {body}: {fast:?}");
    crate::parse_request(ty, body).ok()
}

#[cfg(test)]
mod tests;
