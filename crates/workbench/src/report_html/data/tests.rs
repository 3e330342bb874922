//! Tests of the page data: written directly, it is serde's text of the struct it was built
//! as.

use super::*;

use std::borrow::Cow;

use serde::Serialize;

use super::super::html::process_text;

fn cut(s: &str, max: usize) -> String {
    cut_borrowed(s, max).into_owned()
}

/// [`cut`], borrowing a text that is short enough (most bodies are).
fn cut_borrowed(s: &str, max: usize) -> Cow<'_, str> {
    if s.len() <= max {
        return Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}… ({} bytes)", &s[..end], s.len()))
}

/// The page data as it was built before it was written directly: serde's text of this is
/// what [`PageData::write_json`] must write.
fn serde_page_data<'a>(
    run: &'a StoredRun<'_>,
    end: Nanos,
    periods: &'a [Period],
    op_messages: &'a OpMessages,
    trails: &'a [Trail],
    history_txt: Option<&HistoryText>,
) -> SerdePageData<'a> {
    // An op's value or error as JSON text: from history.txt when it was just written.
    let value_text = |op: &Op| match history_txt.and_then(|h| h.value(op)) {
        Some(text) => cut(text, MAX_VALUE),
        None => cut(&json_text(&op.value.to_json()), MAX_VALUE),
    };
    let error_text = |op: &Op| match history_txt.and_then(|h| h.error(op)) {
        Some(text) => text.map(str::to_string),
        None => op.error.as_ref().map(json_text),
    };
    // Names are short: a multiply per byte hashes them faster than SipHash.
    let mut part_index: HashMap<&str, usize, Fast> = HashMap::default();
    let mut parts: Vec<String> = Vec::new();
    let mut type_index: HashMap<&str, usize, Fast> = HashMap::default();
    let mut types: Vec<String> = Vec::new();
    let n = run.messages.len();
    let (mut src, mut dst, mut t0, mut t1, mut state, mut kind, mut ids, mut bodies) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    // A client's home: the first server it talks to.
    let mut home: HashMap<usize, usize> = HashMap::new();
    for m in &run.messages {
        let mut part = |p: &'a str| -> usize {
            if let Some(&i) = part_index.get(p) {
                return i;
            }
            parts.push(p.to_string());
            part_index.insert(p, parts.len() - 1);
            parts.len() - 1
        };
        let (s, d) = (part(&m.src), part(&m.dest));
        if is_client(&m.src) {
            home.entry(s).or_insert(d);
        } else if is_client(&m.dest) {
            home.entry(d).or_insert(s);
        }
        let k = m.kind();
        let ty = match type_index.get(k) {
            Some(&i) => i,
            None => {
                types.push(k.to_string());
                type_index.insert(k, types.len() - 1);
                types.len() - 1
            }
        };
        src.push(s);
        dst.push(d);
        t0.push(us(m.sent));
        let (end_t, st) = match m.fate {
            Fate::Delivered(t) => (us(t), 0),
            Fate::Dropped(t) => (us(t), 1),
            Fate::InFlight => (us(end), 2),
        };
        t1.push(end_t);
        state.push(st);
        kind.push(ty);
        ids.push(m.id);
        bodies.push(cut_borrowed(
            m.body(),
            if m.is_client_traffic() {
                MAX_CLIENT_BODY
            } else {
                MAX_BODY
            },
        ));
    }
    let part_names: Vec<&str> = parts.iter().map(String::as_str).collect();
    let home: Vec<Option<usize>> = (0..parts.len()).map(|i| home.get(&i).copied()).collect();
    let (lane_names, lane_of) = lanes(&part_names, &home);

    let pairs = run.history.pairs();
    let mut ops = Ops::default();
    for p in &pairs {
        let i = p.invoke;
        ops.i.push(i.index);
        ops.c.push(p.completion.map(|c| c.index));
        ops.p.push(process_text(i.process));
        ops.f.push(&i.f);
        ops.t0.push(us(i.time));
        ops.t1.push(p.completion.map(|c| us(c.time)));
        ops.o.push(match p.outcome() {
            OpType::Ok => "ok",
            OpType::Fail => "fail",
            _ => "info",
        });
        ops.v.push(value_text(i));
        ops.r
            .push(p.completion.map(|c| match run.history.int_set(c) {
                Some(set) => cut_set(set, MAX_VALUE),
                None => value_text(c),
            }));
        ops.e.push(p.completion.and_then(error_text));
        ops.fin.push(u8::from(i.is_final));
        ops.m
            .push(op_messages.get(&i.index).map_or(&[], Vec::as_slice));
    }
    SerdePageData {
        end: us(end),
        journal: run.has_journal,
        lane: lane_of,
        lanes: lane_names,
        m: Messages {
            b: bodies,
            d: dst,
            id: ids,
            s: src,
            st: state,
            t0,
            t1,
            ty: kind,
        },
        ops,
        parts,
        periods: periods
            .iter()
            .map(|p| {
                (
                    (p.start * 1e6) as u64,
                    (p.end * 1e6) as u64,
                    p.label.as_str(),
                )
            })
            .collect(),
        trails: trails
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    TrailData {
                        m: &t.messages,
                        o: &t.ops,
                        v: t.value.as_deref(),
                    },
                )
            })
            .collect(),
        types,
    }
}

/// The page's data as it was built (see [`serde_page_data`]).
#[derive(Serialize)]
struct SerdePageData<'a> {
    end: u64,
    journal: bool,
    lane: Vec<usize>,
    lanes: Vec<String>,
    m: Messages<'a>,
    ops: Ops<'a>,
    parts: Vec<String>,
    periods: Vec<(u64, u64, &'a str)>,
    trails: BTreeMap<&'a str, TrailData<'a>>,
    types: Vec<String>,
}

/// The journal's messages as parallel arrays.
#[derive(Serialize)]
struct Messages<'a> {
    b: Vec<Cow<'a, str>>,
    d: Vec<usize>,
    id: Vec<u64>,
    s: Vec<usize>,
    st: Vec<u8>,
    t0: Vec<u64>,
    t1: Vec<u64>,
    ty: Vec<usize>,
}

/// The client ops as parallel arrays.
#[derive(Serialize, Default)]
struct Ops<'a> {
    c: Vec<Option<usize>>,
    e: Vec<Option<String>>,
    f: Vec<&'a str>,
    fin: Vec<u8>,
    i: Vec<usize>,
    m: Vec<&'a [usize]>,
    o: Vec<&'static str>,
    p: Vec<String>,
    r: Vec<Option<String>>,
    t0: Vec<u64>,
    t1: Vec<Option<u64>>,
    v: Vec<String>,
}

#[derive(Serialize)]
struct TrailData<'a> {
    m: &'a [usize],
    o: &'a [usize],
    v: Option<&'a str>,
}

/// Strings are escaped as serde_json escapes them, and the page data is serde's text.
#[test]
fn json_strings_are_escaped_as_serde_does() {
    let mut all = String::new();
    for c in (0u32..0x80).chain([0xe9, 0x2028, 0x1f600]) {
        all.push(char::from_u32(c).unwrap());
    }
    for s in ["", "plain", &all, r#"{"type":"send","msg":"a\"b\\c"}"#] {
        let mut out = Vec::new();
        push_json_string(&mut out, s);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            serde_json::to_string(s).unwrap()
        );
    }
    // Random texts: escapes at every offset of the eight-byte words, and between them.
    let mut rng = Lcg(7);
    for _ in 0..2_000 {
        let len = rng.below(40) as usize;
        let s = rng.text(len);
        let mut out = b"x".to_vec();
        push_json_string(&mut out, &s);
        assert_eq!(
            out[1..],
            *serde_json::to_string(&s).unwrap().as_bytes(),
            "{s:?}"
        );
    }
}

/// A small deterministic generator for the random tests.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// `len` characters, most plain, some to escape, some of several bytes.
    fn text(&mut self, len: usize) -> String {
        const PICK: [char; 12] = [
            '"', '\\', '\n', '\t', '\u{1}', '\u{1f}', '\u{7f}', 'é', '€', '😀', '<', '/',
        ];
        (0..len)
            .map(|_| match self.below(4) {
                0 => PICK[self.below(PICK.len() as u64) as usize],
                _ => char::from(b' ' + self.below(95) as u8),
            })
            .collect()
    }
}

/// The page data written directly is serde's text of the struct it was built as, on a run
/// with bodies to escape and to cut (inside a character too), every fate, ops without a
/// completion, errors, final ops, reads kept as sets, periods and trails (one id twice).
#[test]
fn page_data_is_serdes_text() {
    use crate::history::History;
    use crate::report_html::stored::JournalBuilder;

    let dir = std::env::temp_dir().join(format!("glomers-page-data-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lines = [
        r#"{"index":0,"time":0,"type":"invoke","process":1,"f":"read","value":null,"client":"c1","msg_ids":[1]}"#,
        r#"{"index":1,"time":5,"type":"info","process":"nemesis","f":"start-partition","value":{"shape":"ring"}}"#,
        r#"{"index":2,"time":1000,"type":"ok","process":1,"f":"read","value":[3,1,2,2]}"#,
        r#"{"index":3,"time":2000,"type":"invoke","process":2,"f":"broadcast","value":"a\"b</c>","client":"c2","msg_ids":[1]}"#,
        r#"{"index":4,"time":3000,"type":"fail","process":2,"f":"broadcast","value":"a\"b</c>","error":["crash","x\ty"]}"#,
        r#"{"index":5,"time":4000,"type":"invoke","process":3,"f":"write","value":[1,"é"],"final":true}"#,
        r#"{"index":6,"time":4500,"type":"invoke","process":4,"f":"read","value":null}"#,
        r#"{"index":7,"time":4600,"type":"info","process":4,"f":"read","value":null,"error":"net-timeout"}"#,
    ];
    let mut long = String::from(r#"{"type":"read_ok","in_reply_to":1,"messages":["#);
    while long.len() < 3_000 {
        long.push_str("12345,");
    }
    long.push_str("1]}");
    let mut rng = Lcg(11);
    let parsed = History::from_jsonl(&lines.join("\n")).unwrap();
    let mut history = History::default();
    history.keep_reads_as_sets("read");
    for op in parsed.ops {
        history.push(op);
    }
    for (invoke, client) in [(0, "c1"), (3, "c2")] {
        history.note_request(invoke, client, 1);
    }
    let mut journal = JournalBuilder::default();
    let mut t = 0;
    let mut send = |journal: &mut JournalBuilder, id: u64, src: &str, dest: &str, body: &str| {
        t += 1_234;
        journal.push_event(t, "send", id, src, dest, Some(body));
    };
    send(&mut journal, 0, "c1", "n0", r#"{"type":"read","msg_id":1}"#);
    send(&mut journal, 1, "n0", "c1", &long);
    send(
        &mut journal,
        2,
        "c2",
        "n1",
        r#"{"type":"broadcast","message":"a\"b</c>","msg_id":1}"#,
    );
    send(
        &mut journal,
        3,
        "n1",
        "n0",
        &format!(r#"{{"type":"gossip","x":"{}"}}"#, "é".repeat(1_200)),
    );
    send(&mut journal, 4, "n1", "lin-kv", "{\"type\":\t\"cas\"}");
    for id in 5..60 {
        let len = rng.below(2_200) as usize;
        let body = rng.text(len);
        let (src, dest) =
            [("n0", "n1"), ("n2", "c9"), ("c3", "n2"), ("lin-kv", "n1")][id as usize % 4];
        send(&mut journal, id, src, dest, &body);
    }
    for id in 0..60 {
        match id % 3 {
            0 => journal.push_event(t + id, "recv", id, "", "", None),
            1 => journal.push_event(t + id, "drop", id, "", "", None),
            _ => {}
        }
    }
    let run = StoredRun {
        dir: dir.clone(),
        results: serde_json::json!({}),
        history: std::borrow::Cow::Owned(history),
        messages: journal.finish("test"),
        has_journal: true,
        pair_positions: Default::default(),
    };
    let history_txt = super::super::write_history_txt(&run).unwrap();
    let periods = [
        Period {
            start: 0.5,
            end: 1.25,
            label: "partition (\"ring\")".into(),
        },
        Period {
            start: 2.0,
            end: 3.000_001,
            label: "kill".into(),
        },
    ];
    let op_messages = super::super::stored::op_messages(&run.history, &run.messages);
    let trail = |id: &str, value: Option<&str>| Trail {
        id: id.into(),
        html: String::new(),
        messages: vec![1, 3],
        ops: vec![0, 2],
        value: value.map(str::to_string),
        finding: None,
    };
    let trails = [
        trail("trail-b", Some("</x>")),
        trail("trail-a", None),
        trail("trail-b", Some("2")),
    ];
    let end = 90_000;
    for txt in [Some(&history_txt), None] {
        let direct = page_data(&run, end, &periods, &op_messages, &trails, txt).to_json();
        let serde = serde_json::to_string(&serde_page_data(
            &run,
            end,
            &periods,
            &op_messages,
            &trails,
            txt,
        ))
        .unwrap();
        assert_eq!(direct, serde);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// [`cut`] of the JSON array of a read kept as a set, built as text (what
/// [`JsonOut::cut_u64_array`] writes straight into the page).
fn cut_set(set: &IntSet, max: usize) -> String {
    let mut text = String::with_capacity(max + 32);
    text.push('[');
    for (i, n) in set.iter().enumerate() {
        if text.len() > max {
            break;
        }
        if i > 0 {
            text.push(',');
        }
        text.push_str(itoa::Buffer::new().format(n));
    }
    let len = set_text_len(set);
    if text.len() <= max {
        text.push(']');
    }
    if len <= max {
        return text;
    }
    text.truncate(max);
    format!("{text}… ({len} bytes)")
}

/// A read kept as a set is shown as its whole JSON text would be cut. The page writes it
/// straight into its text: the JSON string of that cut.
#[test]
fn cut_set_matches_cut_of_the_text() {
    for count in [0usize, 1, 2, 9, 10, 11, 30, 31, 32, 33, 200, 5000] {
        for max in [0usize, 1, 2, 5, 20, 21, 22, 160] {
            let mut set = IntSet::builder();
            for i in 0..count as u64 {
                set.push(i * 7 + i % 3 * 1000);
                set.push(i + 95);
            }
            let set = set.finish();
            let text = serde_json::to_string(&set.iter().collect::<Vec<_>>()).unwrap();
            assert_eq!(
                cut_set(&set, max),
                cut(&text, max),
                "{count} ints, max {max}"
            );
            assert_eq!(set_text_len(&set), text.len());
            // Written after other text, across the writer's buffer's end too.
            for before in [0, 4_000] {
                let mut out = Vec::new();
                {
                    let mut json = JsonOut::new(&mut out);
                    for _ in 0..before {
                        json.byte(b' ');
                    }
                    json.cut_u64_array(set.iter(), set_text_len(&set), max);
                }
                assert_eq!(
                    std::str::from_utf8(&out[before..]).unwrap(),
                    serde_json::to_string(&cut(&text, max)).unwrap(),
                    "{count} ints, max {max}"
                );
            }
        }
    }
}

#[test]
fn digits_are_counted_per_width() {
    for (lo, hi) in [
        (0, 0),
        (0, 9),
        (0, 10),
        (5, 123),
        (99, 100),
        (1000, 1000),
        (7, 100_000),
    ] {
        let counted: u64 = (lo..=hi).map(|n: u64| n.to_string().len() as u64).sum();
        assert_eq!(digits_in(lo, hi), counted, "{lo}..={hi}");
    }
    let top = u64::MAX - 5..=u64::MAX;
    assert_eq!(digits_in(*top.start(), *top.end()), 6 * 20);
}

/// Read sets written one after another through [`ShownSet`] (which copies the shown text of
/// the last cut one when the next begins alike) are written as each alone: random sets that
/// often share their first numbers, grow or lose a number near the cut.
#[test]
fn shown_sets_are_written_as_each_alone() {
    let mut seed = 11u64;
    let mut below = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut sets = Vec::new();
    let mut members: Vec<u64> = (0..60).collect();
    for _ in 0..3_000 {
        match below(6) {
            // Lose or gain a number somewhere near the front (where the cut falls).
            0 if !members.is_empty() => {
                let at = below(members.len() as u64) as usize;
                members.remove(at);
            }
            1 => members.push(below(80)),
            2 => members.push(below(100_000)),
            3 => members = (0..below(70)).map(|_| below(120)).collect(),
            _ => {}
        }
        let mut set = IntSet::builder();
        for &m in &members {
            set.push(m);
        }
        sets.push(set.finish());
        members.sort_unstable();
        members.dedup();
    }
    for max in [0usize, 1, 2, 5, 40, 160] {
        let mut out = Vec::new();
        let mut expected = String::new();
        // Sets written from the kept text: the path under test must be taken.
        let mut copied = 0;
        {
            let mut json = JsonOut::new(&mut out);
            let mut shown = ShownSet::default();
            for set in &sets {
                let cut = set_text_len(set) > max;
                copied += usize::from(cut && !shown.ranges.is_empty() && shown.begins(set));
                shown.write(&mut json, set, max);
                expected.push_str(&serde_json::to_string(&cut_set(set, max)).unwrap());
            }
        }
        assert_eq!(std::str::from_utf8(&out).unwrap(), expected, "max {max}");
        if max >= 5 {
            assert!(copied > 100, "max {max}: only {copied} sets copied");
        }
    }
}
