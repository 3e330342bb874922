use super::*;
use crate::history::{Op, OpType, Process};

fn op(process: u64, kind: OpType, time: Nanos) -> Op {
    Op {
        index: 0,
        time,
        kind,
        process: Process::Client(process),
        f: "read".into(),
        value: Value::Null.into(),
        error: None,
        is_final: false,
    }
}

fn message(src: &str, dest: &str, sent: Nanos, body: &str) -> JournalMessage {
    JournalMessage {
        id: 0,
        src: src.into(),
        dest: dest.into(),
        sent,
        kind: "read".into(),
        body: body.into(),
        fate: Fate::Delivered(sent + 1),
    }
}

/// A body's type read at once (`type` first) is the one the walk over its fields, or serde,
/// reads: on random bodies, and on ones made to mislead a quick look.
#[test]
fn body_types_read_at_once_are_those_of_the_walk() {
    fn walked(body: &str) -> Option<String> {
        let fields = json_scan::top_level_fields(body, ENVELOPE_FIELDS);
        match fields.and_then(|[kind, ..]| json_scan::as_optional_plain_str(kind)) {
            Some(kind) => kind.map(str::to_string),
            None => serde_json::from_str::<BodyType>(body)
                .ok()
                .and_then(|b| b.kind),
        }
    }
    let mut bodies: Vec<String> = [
        r#"{"type":"gossip","relay":[1,2]}"#,
        r#"{"type":"a","x":{"type":"b"}}"#,
        r#"{"type":"a","type":"b"}"#,
        r#"{"type":"a","typ\u0065":"b"}"#,
        r#"{"type":"a\"b"}"#,
        r#"{"type":"a","s":"type"}"#,
        r#"{"type":"","msg_id":1,"msg_id":2}"#,
        r#"{"type":"read_ok","messages":[1,2,3],"in_reply_to":4}"#,
        r#"{"type":7}"#,
        r#"{"msg_id":1,"type":"read"}"#,
        r#"{"type":"x"}"#,
        r#"{"a":{"type":"x"},"type":"y"}"#,
        r#"{"a":["type","x"],"type":"y"}"#,
        r#"{"a":"\"type\":\"x","type":"y"}"#,
        r#"{"a":1, "type":"y"}"#,
        r#"{"a":{"type":"y"}}"#,
        r#"{"type":"x","type":"y"}"#,
    ]
    .map(String::from)
    .to_vec();
    let mut gen = json_scan::tests::Gen(17, false);
    for _ in 0..20_000 {
        let mut kind = String::new();
        gen.string(&mut kind);
        let mut rest = String::new();
        gen.object(&mut rest, 2);
        let fields = rest[1..rest.len() - 1].trim();
        let sep = if fields.is_empty() { "" } else { "," };
        // `type` first, and last.
        bodies.push(format!("{{\"type\":{kind}{sep}{fields}}}"));
        bodies.push(format!("{{{fields}{sep}\"type\":{kind}}}"));
    }
    // The quick look as it was (an escape, then `"type"`, each looked for on its own).
    fn leading_type_by_memmem(body: &str) -> Option<&str> {
        let finder = memchr::memmem::Finder::new(b"\"type\"");
        let bytes = body.as_bytes();
        if memchr::memchr(b'\\', bytes).is_some() {
            return None;
        }
        if let Some(rest) = body.strip_prefix("{\"type\":\"") {
            let end = memchr::memchr(b'"', rest.as_bytes())?;
            if finder.find(&rest.as_bytes()[end..]).is_some() {
                return None;
            }
            return Some(&rest[..end]);
        }
        let inner = body.strip_suffix("\"}")?;
        let open = memchr::memrchr(b'"', inner.as_bytes())?;
        let key_at = inner[..open].strip_suffix("\"type\":")?.len();
        if !matches!(bytes.get(key_at.checked_sub(1)?), Some(b',' | b'{'))
            || finder.find(bytes) != Some(key_at)
        {
            return None;
        }
        Some(&inner[open + 1..])
    }
    bodies.extend(
        [
            r#"{"type":"type"}"#,
            r#"{"type":"type","a":1}"#,
            r#"{"a":"type","type":"x"}"#,
            r#"{"a":1,"type":"type"}"#,
            r#"{"type":"x","y":"type"}"#,
        ]
        .map(String::from),
    );
    for body in &bodies {
        serde_json::from_str::<Value>(body).expect(body);
        assert_eq!(body_kind(body).map(Cow::into_owned), walked(body), "{body}");
        assert_eq!(leading_type(body), leading_type_by_memmem(body), "{body}");
    }
    // The quick look does answer for bodies as nodes and the workbench write them.
    assert_eq!(leading_type(&bodies[0]), Some("gossip"));
    assert_eq!(leading_type(&bodies[7]), Some("read_ok"));
    assert_eq!(leading_type(&bodies[9]), Some("read"));
    assert_eq!(leading_type(&bodies[10]), Some("x"));
}

/// A journal line read as written is what serde reads; other lines are left to serde.
#[test]
fn journal_lines_read_as_serde_reads_them() {
    type Fields = (Nanos, String, u64, String, String, Option<String>);
    let fields = |l: &JournalLine<'_>| -> Fields {
        (
            l.time,
            l.kind.to_string(),
            l.id,
            l.src.to_string(),
            l.dest.to_string(),
            l.body.map(str::to_string),
        )
    };
    let as_written = [
        r#"{"time":0,"type":"send","id":0,"src":"c0","dest":"n0","body":{"type":"init","msg_id":1}}"#,
        r#"{"time":12,"type":"recv","id":7,"src":"n1","dest":"lin-kv"}"#,
        r#"{"time":5,"type":"send","id":3,"src":"n1","dest":"n2","body":{"a":"}\"{","b":[1,{"c":[]}]}}"#,
    ];
    for line in as_written {
        let fast = JournalLine::parse_as_written(line).expect(line);
        // A leading space leaves the line to serde.
        let spaced = format!(" {line}");
        let slow = JournalLine::parse(&spaced).unwrap();
        assert_eq!(fields(&fast), fields(&slow), "{line}");
    }
    let for_serde = [
        r#"{"type":"send","time":0,"id":0,"src":"c0","dest":"n0","body":{}}"#,
        r#"{"time":0,"type":"send","id":0,"src":"c\u0030","dest":"n0","body":{}}"#,
        r#"{"time":01,"type":"send","id":0,"src":"c0","dest":"n0","body":{}}"#,
        r#"{"time":0,"type":"send","id":0,"src":"c0","dest":"n0","body":{"a":}}"#,
        r#"{"time":0,"type":"send","id":0,"src":"c0","dest":"n0","body":{}} x"#,
        r#" {"time":0,"type":"send","id":0,"src":"c0","dest":"n0","body":{} }"#,
    ];
    for line in for_serde {
        assert!(JournalLine::parse_as_written(line).is_none(), "{line}");
        let both = JournalLine::parse(line).map(|l| fields(&l));
        let slow = serde_json::from_str::<SerdeJournalLine>(line)
            .ok()
            .map(|l| {
                (
                    l.time,
                    l.kind.to_string(),
                    l.id,
                    l.src.to_string(),
                    l.dest.to_string(),
                    l.body.map(|b| b.get().to_string()),
                )
            });
        assert_eq!(both, slow, "{line}");
    }
}

/// Two ops invoked at one instant: timing cannot tell their requests apart, the recorded
/// msg_ids do; and they survive history.jsonl.
#[test]
fn ops_find_their_messages_by_msg_id() {
    let mut h = History::default();
    let a = h.push(op(0, OpType::Invoke, 10));
    let b = h.push(op(1, OpType::Invoke, 10));
    h.note_request(a, "c7", 3);
    h.note_request(b, "c6", 1);
    h.push(op(1, OpType::Ok, 20));
    h.push(op(0, OpType::Ok, 30));
    let journal = [
        message("c6", "n0", 10, r#"{"type":"read","msg_id":1}"#),
        message("c7", "n1", 10, r#"{"type":"read","msg_id":3}"#),
        message("n0", "c6", 20, r#"{"type":"read_ok","in_reply_to":1}"#),
        message("n1", "c7", 30, r#"{"type":"read_ok","in_reply_to":3}"#),
    ];
    let stored = History::from_jsonl(&h.to_jsonl()).unwrap();
    assert_eq!(stored.requests(a), h.requests(a));
    assert_eq!(stored.requests(b).unwrap().msg_ids, vec![1]);
    let exact = op_messages(&stored, &journal);
    assert_eq!(exact[&a], vec![1, 3]);
    assert_eq!(exact[&b], vec![0, 2]);
    // An older history (no msg_ids): matched by time, here wrongly, which is why they are
    // recorded.
    let old = History::from_jsonl(
        &h.to_jsonl()
            .lines()
            .map(|l| {
                l.split(",\"client\"")
                    .next()
                    .unwrap()
                    .trim_end_matches('}')
                    .to_string()
                    + "}\n"
            })
            .collect::<String>(),
    )
    .unwrap();
    assert!(old.requests(a).is_none());
    let by_time = op_messages(&old, &journal);
    assert_eq!(by_time[&a], vec![0, 2]);
}

/// Names are shared by their text, short ones (found packed) and long ones alike; texts that
/// differ only in length or by a zero byte stay apart.
#[test]
fn names_are_shared_by_text() {
    let mut builder = JournalBuilder::default();
    let texts: [&[u8]; 7] = [
        b"",
        b"a",
        b"a\0",
        b"n1",
        b"n10",
        b"exactly15bytes!",
        b"sixteen bytes!!!",
    ];
    let first: Vec<Arc<str>> = texts.iter().map(|t| builder.name(t).unwrap()).collect();
    for (text, name) in texts.iter().zip(&first) {
        assert_eq!(name.as_bytes(), *text);
        assert!(Arc::ptr_eq(name, &builder.name(text).unwrap()));
    }
    for (i, a) in first.iter().enumerate() {
        for (j, b) in first.iter().enumerate() {
            assert_eq!(Arc::ptr_eq(a, b), i == j);
        }
    }
    assert!(builder.name(b"\xff").is_none());
}

/// A short name packed a few bytes at a time is the one packed byte by byte, at every length
/// and with any bytes; and names found through the recent slots stay shared by text when
/// many names take turns in them.
#[test]
fn short_names_pack_as_byte_by_byte() {
    let mut seed = 11u64;
    let mut next = || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as u8
    };
    for len in 0..=20 {
        for _ in 0..200 {
            let text: Vec<u8> = (0..len).map(|_| next()).collect();
            let (fast, simple) = (ShortName::of(&text), ShortName::of_simply(&text));
            assert_eq!(fast.map(|n| n.0), simple.map(|n| n.0), "{text:?}");
        }
    }
    let mut builder = JournalBuilder::default();
    let names: Vec<String> = (0..500).map(|i| format!("c{i}")).collect();
    let first: Vec<Arc<str>> = names
        .iter()
        .map(|n| builder.name(n.as_bytes()).unwrap())
        .collect();
    for round in 0..3 {
        for (i, n) in names.iter().enumerate().rev() {
            let again = builder.name(n.as_bytes()).unwrap();
            assert!(Arc::ptr_eq(&again, &first[i]), "{n} {round}");
        }
    }
}

/// The run's pairs, found once as positions, are the history's.
#[test]
fn a_runs_pairs_are_its_historys() {
    let mut h = History::default();
    h.push(op(0, OpType::Invoke, 10));
    h.push(op(1, OpType::Invoke, 10));
    let mut nemesis = op(0, OpType::Info, 12);
    nemesis.process = Process::NEMESIS;
    nemesis.f = "start-partition".into();
    h.push(nemesis);
    h.push(op(1, OpType::Ok, 20));
    h.push(op(0, OpType::Info, 30));
    h.push(op(0, OpType::Invoke, 40));
    h.push(op(2, OpType::Fail, 45));
    h.push(op(2, OpType::Invoke, 50));
    let run = StoredRun {
        dir: PathBuf::new(),
        results: Value::Null,
        history: Cow::Borrowed(&h),
        messages: Vec::new(),
        has_journal: false,
        pair_positions: OnceLock::new(),
    };
    let same = |a: &[Pair<'_>], b: &[Pair<'_>]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                std::ptr::eq(x.invoke, y.invoke)
                    && match (x.completion, y.completion) {
                        (Some(x), Some(y)) => std::ptr::eq(x, y),
                        (x, y) => x.is_none() && y.is_none(),
                    }
            })
    };
    let expected = h.pairs();
    assert_eq!(expected.len(), 4);
    assert!(same(&run.pairs(), &expected));
    assert!(same(&run.pairs(), &expected));
}

/// The envelope read at once is the one the walk over the fields (or serde) reads: on random
/// bodies with the envelope's keys first, last and elsewhere, and on bodies made to mislead a
/// quick look.
#[test]
fn envelopes_read_at_once_are_those_of_the_walk() {
    let mut bodies: Vec<String> = [
        r#"{"type":"read_ok","messages":[1,2],"in_reply_to":4}"#,
        r#"{"msg_id":3,"type":"read"}"#,
        r#"{"type":"poll_ok","msgs":{"k_1":[[1,2],[3,4]]},"in_reply_to":7}"#,
        r#"{"key":"7","msg":2,"msg_id":6,"type":"send"}"#,
        r#"{"key":"[","msg":2,"msg_id":6,"type":"send"}"#,
        r#"{"a":[1],"msg_id":6,"type":"send"}"#,
        r#"{"a":{"msg_id":5},"msg_id":6}"#,
        r#"{"a":1,"msg_id":6 ,"type":"send"}"#,
        r#"{"a":1,"msg_id":6}"#,
        r#"{"msg_id":3,"in_reply_to":5}"#,
        r#"{"msg_id":3,"x":{"in_reply_to":5}}"#,
        r#"{"x":{"in_reply_to":5},"in_reply_to":6}"#,
        r#"{"msg_id":3,"msg_id":4}"#,
        r#"{"in_reply_to":3,"in_reply_to":4}"#,
        r#"{"msg_id":"3","in_reply_to":4}"#,
        r#"{"msg_id":1.5,"in_reply_to":4}"#,
        r#"{"msg_id":-1,"in_reply_to":4}"#,
        r#"{"msg_id":18446744073709551616,"in_reply_to":4}"#,
        r#"{"msg_id":18446744073709551615,"in_reply_to":4}"#,
        r#"{"a":"msg_id","in_reply_to":4}"#,
        r#"{"a":["msg_id"],"in_reply_to":4}"#,
        r#"{"msg_id_x":1,"in_reply_to":4}"#,
        r#"{"x_msg_id":1,"in_reply_to":4}"#,
        r#"{"msg_i\u0064":3,"in_reply_to":4}"#,
        r#"{"in_reply_to":4 }"#,
        r#" {"in_reply_to":4}"#,
        r#"{"in_reply_to":null}"#,
        r#"{"in_reply_to":4,"msg_id":5}"#,
        r#"{"x":{"msg_id":1}}"#,
        r#"{"x":[{"msg_id":1}]}"#,
        r#"[3,4]"#,
        r#"{}"#,
    ]
    .map(String::from)
    .to_vec();
    let mut gen = json_scan::tests::Gen(23, false);
    for i in 0..20_000 {
        let mut rest = String::new();
        gen.object(&mut rest, 2);
        let fields = rest[1..rest.len() - 1].trim();
        let sep = if fields.is_empty() { "" } else { "," };
        let key = ["msg_id", "in_reply_to"][i % 2];
        let mut n = String::new();
        gen.value(&mut n, 0);
        bodies.push(rest.clone());
        bodies.push(format!("{{\"{key}\":{n}{sep}{fields}}}"));
        bodies.push(format!("{{{fields}{sep}\"{key}\":{n}}}"));
        bodies.push(format!("{{\"{key}\":{i}{sep}{fields}}}"));
        bodies.push(format!("{{{fields}{sep}\"{key}\":{i}}}"));
        // In the middle, after scalars or not.
        bodies.push(format!("{{\"a\":{n},\"{key}\":{i}{sep}{fields}}}"));
    }
    let mut quick = 0;
    for body in &bodies {
        serde_json::from_str::<Value>(body).expect(body);
        quick += usize::from(quick_envelope(body).is_some());
        assert_eq!(envelope(body), walked_envelope(body), "{body}");
    }
    // The quick look answers for many of them, and for bodies as nodes and the workbench
    // write them.
    assert!(quick > bodies.len() / 10, "{quick} of {}", bodies.len());
    for body in &bodies[..4] {
        assert!(quick_envelope(body).is_some(), "{body}");
    }
}

/// Ops matched by time find what they did when every client message was indexed (the index is
/// now built only for the instants and clients looked up): on random journals of a few clients
/// (one sometimes writing to another) and servers, with requests at shared instants.
#[test]
fn ops_matched_by_time_find_what_they_did_with_a_full_index() {
    fn by_time_full_index(
        pairs: &[crate::history::Pair<'_>],
        messages: &[JournalMessage],
    ) -> OpMessages {
        let mut requests_at: HashMap<Nanos, Vec<usize>> = HashMap::new();
        let mut by_client: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, m) in messages.iter().enumerate() {
            if is_client(&m.src) {
                requests_at.entry(m.sent).or_default().push(i);
            }
            let client: &str = if is_client(&m.src) {
                &m.src
            } else if is_client(&m.dest) {
                &m.dest
            } else {
                continue;
            };
            by_client.entry(client).or_default().push(i);
        }
        let mut claimed = vec![false; messages.len()];
        let mut out: OpMessages = OpMessages::default();
        for pair in pairs {
            let invoke = pair.invoke;
            let Some(candidates) = requests_at.get(&invoke.time) else {
                continue;
            };
            let Some(&first) = candidates.iter().find(|&&i| !claimed[i]) else {
                continue;
            };
            claimed[first] = true;
            let client = &*messages[first].src;
            let until = pair.completion.map(|c| c.time);
            let mut mine = Vec::new();
            for &i in &by_client[client] {
                let m = &messages[i];
                if m.sent < invoke.time || until.is_some_and(|t| m.sent > t) {
                    continue;
                }
                if i != first && claimed[i] && is_client(&m.src) {
                    continue;
                }
                if is_client(&m.src) {
                    claimed[i] = true;
                }
                mine.push(i);
            }
            out.insert(invoke.index, mine);
        }
        out
    }
    let mut state = 11u64;
    let mut below = |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    const PARTS: [&str; 6] = ["c1", "c2", "c3", "n0", "n1", "lin-kv"];
    for _ in 0..300 {
        let mut h = History::default();
        let mut journal = Vec::new();
        for t in 0..30 {
            // Ops invoked at a few shared instants.
            if below(3) == 0 {
                let process = below(3);
                h.push(op(process, OpType::Invoke, t / 3 * 3));
                if below(4) != 0 {
                    h.push(op(process, OpType::Ok, t / 3 * 3 + below(6)));
                }
            }
            for _ in 0..below(3) {
                let (src, dest) = (PARTS[below(6) as usize], PARTS[below(6) as usize]);
                journal.push(message(src, dest, t / 2 * 2, "{}"));
            }
        }
        let pairs = h.pairs();
        assert_eq!(
            op_messages_by_time(&pairs, &journal),
            by_time_full_index(&pairs, &journal)
        );
    }
}

/// Messages kept in chunks come out whole and in order, each with its fate, whether the ids
/// are the indices or not (then found through the map), on both sides of chunk boundaries.
#[test]
fn chunked_messages_keep_order_and_fates() {
    for (count, id_of) in [
        (0, (|i| i) as fn(u64) -> u64),
        (JournalBuilder::CHUNK as u64, |i| i),
        (2 * JournalBuilder::CHUNK as u64 + 5, |i| i),
        (2 * JournalBuilder::CHUNK as u64 + 5, |i| 3 * i + 7),
    ] {
        let mut builder = JournalBuilder::default();
        for i in 0..count {
            let body = format!("{{\"type\":\"t{}\",\"msg_id\":{i}}}", i % 3);
            assert!(builder.push_send(i, id_of(i), b"n1", b"c2", Some(&body)));
            // Fates come later, some for messages of earlier chunks.
            if i % 7 == 0 {
                let back = i.saturating_sub(JournalBuilder::CHUNK as u64 + 3);
                builder.push_fate(10 * i, back % 2 == 0, id_of(back));
            }
        }
        let messages = builder.finish("test");
        assert_eq!(messages.len() as u64, count);
        let mut expected = vec![Fate::InFlight; count as usize];
        for i in (0..count).filter(|i| i % 7 == 0) {
            let back = i.saturating_sub(JournalBuilder::CHUNK as u64 + 3);
            expected[back as usize] = if back % 2 == 0 {
                Fate::Delivered(10 * i)
            } else {
                Fate::Dropped(10 * i)
            };
        }
        for (i, m) in messages.iter().enumerate() {
            let i64 = i as u64;
            assert_eq!(
                (m.id, m.sent, m.kind()),
                (id_of(i64), i64, &*format!("t{}", i % 3))
            );
            assert_eq!(m.fate, expected[i], "{i}");
        }
    }
}
