//! Input that cannot be parsed whole: over-long lines (issue 10, item 14) and lines that are
//! not UTF-8.

use std::io::Cursor;

use crate::runtime::{read_chunks, Input};
use crate::tests::{ms, take_lines, take_logs};
use crate::tests_pitfalls::keeper;

/// Everything the reader sends for `input`, with lines capped at `max_line`.
fn read_all(input: Vec<u8>, max_line: usize) -> Vec<Input> {
    let (tx, rx) = crossbeam_channel::unbounded();
    let (_spare_tx, spare_rx) = crossbeam_channel::unbounded();
    read_chunks(Cursor::new(input), tx, spare_rx, max_line);
    rx.try_iter().map(|r| r.unwrap()).collect()
}

fn describe(inputs: &[Input]) -> Vec<String> {
    let mut out = Vec::new();
    for input in inputs {
        match input {
            Input::Lines(chunk) => out.extend(
                chunk
                    .split(|b| *b == b'\n')
                    .filter(|l| !l.is_empty())
                    .map(|l| String::from_utf8_lossy(l).into_owned()),
            ),
            Input::Long(long) => out.push(format!(
                "long {} head {} tail {}",
                long.len,
                String::from_utf8_lossy(&long.head[..12]),
                String::from_utf8_lossy(&long.tail[long.tail.len() - 12..])
            )),
        }
    }
    out
}

fn big_line(len: usize, msg_id_at_end: bool) -> Vec<u8> {
    let mut line = br#"{"src":"c1","dest":"n1","body":{"type":"echo","echo":""#.to_vec();
    let closing: &[u8] = if msg_id_at_end {
        br#"","msg_id":5}}"#
    } else {
        br#""}}"#
    };
    line.resize(len - closing.len(), b'x');
    line.extend_from_slice(closing);
    line
}

#[test]
fn an_over_long_line_is_cut_to_its_ends_and_the_next_lines_survive() {
    let mut input = b"first\n".to_vec();
    input.extend(big_line(300_000, true));
    input.extend(b"\nsecond\nthird-unterminated");
    let got = describe(&read_all(input, 1000));
    assert_eq!(
        got,
        [
            "first",
            r#"long 300000 head {"src":"c1", tail "msg_id":5}}"#,
            "second",
            "third-unterminated"
        ]
    );
    // An over-long last line without a newline is reported too; short lines pass whole.
    let got = describe(&read_all(big_line(5000, false), 1000));
    assert_eq!(got, [r#"long 5000 head {"src":"c1", tail xxxxxxxxx"}}"#]);
    let got = describe(&read_all(big_line(900, false), 1000));
    assert_eq!(got.len(), 1);
    assert!(got[0].ends_with(r#"xx"}}"#));
}

#[test]
fn the_reader_keeps_no_more_than_the_cap() {
    let inputs = read_all(big_line(3_000_000, true), 100_000);
    let Input::Long(long) = &inputs[0] else {
        panic!("expected a long line")
    };
    assert!(long.head.len() + long.tail.len() <= 3 * 64 * 1024);
}

#[test]
fn an_over_long_request_with_a_readable_msg_id_gets_error_12() {
    let mut e = keeper();
    let line = big_line(200_000, true);
    e.handle_long_line(
        &line[..1000],
        &line[line.len() - 1000..],
        line.len() as u64,
        ms(1),
    );
    let out = take_lines(&mut e);
    assert_eq!(out[0]["dest"], "c1");
    assert_eq!(out[0]["body"]["code"], 12);
    assert_eq!(out[0]["body"]["in_reply_to"], 5);
    assert!(out[0]["body"]["text"]
        .as_str()
        .unwrap()
        .contains("line too long: 200000 bytes"));
    assert!(take_logs(&mut e).contains("line too long"));
    // Without a msg_id: only logged.
    let line = big_line(200_000, false);
    e.handle_long_line(
        &line[..1000],
        &line[line.len() - 1000..],
        line.len() as u64,
        ms(2),
    );
    assert!(take_lines(&mut e).is_empty());
    assert!(take_logs(&mut e).contains("line too long"));
}

#[test]
fn a_line_that_is_not_utf8_but_has_a_msg_id_gets_error_12() {
    let mut e = keeper();
    let mut line = br#"{"src":"c2","dest":"n1","body":{"type":"echo","echo":"bad "#.to_vec();
    line.extend([0xff, 0xfe]);
    line.extend(br#"","msg_id":8}}"#);
    e.handle_line(&line, ms(1));
    let out = take_lines(&mut e);
    assert_eq!(out[0]["body"]["code"], 12, "{out:?}");
    assert_eq!(out[0]["body"]["in_reply_to"], 8);
    assert_eq!(out[0]["dest"], "c2");
    assert!(take_logs(&mut e).contains("not UTF-8"));
    // No msg_id: logged only.
    e.handle_line(b"{\"src\":\"c2\",\"body\":{\"x\":\"\xff\"}}", ms(2));
    assert!(take_lines(&mut e).is_empty());
}

#[test]
fn an_error_reply_never_quotes_a_huge_value() {
    let mut e = crate::Engine::new(crate::tests::Probe::default(), 1);
    e.handle_line(crate::tests::INIT, ms(0));
    take_lines(&mut e);
    let mut line = br#"{"src":"c1","dest":"n1","body":{"type":"add","msg_id":3,"delta":""#.to_vec();
    line.extend(vec![b'x'; 100_000]);
    line.extend(br#""}}"#);
    e.handle_line(&line, ms(1));
    let out = take_lines(&mut e);
    assert_eq!(out[0]["body"]["code"], 12);
    assert!(out[0]["body"]["text"].as_str().unwrap().len() < 400);
}
