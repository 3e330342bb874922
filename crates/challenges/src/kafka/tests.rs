//! Two kafka nodes on an in-test network: what clients see, with the network up and cut.

use std::time::Duration;

use glomers_node::Engine;
use serde_json::{json, Value};

use super::ring::Ring;
use super::*;

const MS: Duration = Duration::from_millis(1);

struct Net {
    nodes: Vec<Engine<Kafka>>,
    now: Duration,
    /// Node-to-node messages are dropped while set.
    cut: bool,
    next_msg_id: u64,
    /// Replies to the client, in order.
    replies: Vec<Value>,
}

impl Net {
    fn new() -> Net {
        let ids = ["n0".to_string(), "n1".to_string()];
        let mut net = Net {
            nodes: Vec::new(),
            now: Duration::ZERO,
            cut: false,
            next_msg_id: 1,
            replies: Vec::new(),
        };
        for (i, id) in ids.iter().enumerate() {
            let mut engine = Engine::new(Kafka::default(), i as u64);
            let init = json!({"src": "c0", "dest": id,
                "body": {"type": "init", "msg_id": 1, "node_id": id, "node_ids": ids}});
            engine.handle_line(&serde_json::to_vec(&init).unwrap(), Duration::ZERO);
            engine.output().clear();
            net.nodes.push(engine);
        }
        net
    }

    /// A key that node `i` owns.
    fn key_of(i: usize) -> String {
        let ring = Ring::new(&["n0".to_string(), "n1".to_string()]);
        let me = format!("n{i}");
        (0..)
            .map(|k| k.to_string())
            .find(|k| ring.owner(k) == Some(me.as_str()))
            .unwrap()
    }

    /// Sends a client request to node `i`.
    fn request(&mut self, i: usize, mut body: Value) {
        body["msg_id"] = json!(self.next_msg_id);
        self.next_msg_id += 1;
        let line = json!({"src": "c1", "dest": format!("n{i}"), "body": body});
        self.nodes[i].handle_line(&serde_json::to_vec(&line).unwrap(), self.now);
        self.deliver();
    }

    /// Delivers every pending message at once (node-to-node ones unless cut).
    fn deliver(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..self.nodes.len() {
                let out = std::mem::take(self.nodes[i].output());
                for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    moved = true;
                    let msg: Value = serde_json::from_slice(line).unwrap();
                    match msg["dest"].as_str().unwrap() {
                        "n0" | "n1" if self.cut => {}
                        "n0" => self.nodes[0].handle_line(line, self.now),
                        "n1" => self.nodes[1].handle_line(line, self.now),
                        "c1" => self.replies.push(msg["body"].clone()),
                        _ => {} // lin-kv: no service here
                    }
                }
            }
            if !moved {
                return;
            }
        }
    }

    /// Lets `d` pass, a millisecond at a time.
    fn wait(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += MS;
            for node in &mut self.nodes {
                node.advance(self.now);
            }
            self.deliver();
        }
    }

    /// The replies so far, in the order of their requests.
    fn take_replies(&mut self) -> Vec<Value> {
        let mut replies = std::mem::take(&mut self.replies);
        replies.sort_by_key(|r| r["in_reply_to"].as_u64());
        replies
    }
}

#[test]
fn sends_polls_and_commits_through_either_node() {
    let mut net = Net::new();
    let (k0, k1) = (Net::key_of(0), Net::key_of(1));
    // Sent through the owner and through the other node (forwarded).
    net.request(0, json!({"type": "send", "key": k0, "msg": 10}));
    net.request(
        1,
        json!({"type": "send", "key": k0, "msg": {"any": "json"}}),
    );
    net.request(0, json!({"type": "send", "key": k1, "msg": 12}));
    net.wait(20 * MS);
    let offsets: Vec<Value> = net
        .take_replies()
        .iter()
        .map(|r| r["offset"].clone())
        .collect();
    assert_eq!(offsets, [json!(0), json!(1), json!(0)]);
    for i in 0..2 {
        net.request(
            i,
            json!({"type": "poll", "offsets": {&k0: 0, &k1: 0, "unknown": 0}}),
        );
    }
    for reply in net.take_replies() {
        assert_eq!(reply["type"], "poll_ok");
        let msgs = &reply["msgs"];
        assert_eq!(msgs[&k0], json!([[0, 10], [1, {"any": "json"}]]), "{reply}");
        assert_eq!(msgs[&k1], json!([[0, 12]]), "{reply}");
        assert!(msgs.get("unknown").is_none());
    }
    net.request(1, json!({"type": "commit_offsets", "offsets": {&k0: 1}}));
    net.wait(20 * MS);
    assert_eq!(net.take_replies()[0]["type"], "commit_offsets_ok");
    // Every node answers the acknowledged commit.
    for i in 0..2 {
        net.request(
            i,
            json!({"type": "list_committed_offsets", "keys": [&k0, &k1]}),
        );
    }
    for reply in net.take_replies() {
        assert_eq!(reply["offsets"], json!({&k0: 1}), "{reply}");
    }
}

#[test]
fn clients_cut_off_from_a_second_node_get_a_timeout_at_their_deadline() {
    let mut net = Net::new();
    net.cut = true;
    let (k0, k1) = (Net::key_of(0), Net::key_of(1));
    net.request(0, json!({"type": "send", "key": k0, "msg": 1})); // no peer ack, no lin-kv
    net.request(0, json!({"type": "send", "key": k1, "msg": 2})); // forwarded: never arrives
    net.request(0, json!({"type": "commit_offsets", "offsets": {&k0: 0}}));
    net.wait(CLIENT_DEADLINE - MS);
    assert_eq!(net.take_replies(), Vec::<Value>::new());
    net.wait(TICK);
    let replies = net.take_replies();
    assert_eq!(replies.len(), 3, "{replies:?}");
    for reply in replies {
        assert_eq!(
            (&reply["type"], &reply["code"]),
            (&json!("error"), &json!(0))
        );
    }
    // Nothing is answered twice.
    net.wait(CLIENT_DEADLINE);
    assert_eq!(net.take_replies(), Vec::<Value>::new());
}

/// Key names that need escapes (sent and polled through the serde path) come back in
/// `poll_ok` as serde writes them, with their messages.
#[test]
fn polls_of_names_with_escapes_are_answered_with_their_messages() {
    let mut net = Net::new();
    let names = ["a\"b", "é\n", "7", "x\\y", "k"];
    for (i, k) in names.iter().enumerate() {
        net.request(i % 2, json!({"type": "send", "key": k, "msg": i}));
    }
    net.wait(20 * MS);
    assert_eq!(net.take_replies().len(), names.len());
    let offsets: serde_json::Map<String, Value> =
        names.iter().map(|k| (k.to_string(), json!(0))).collect();
    for i in 0..2 {
        net.request(i, json!({"type": "poll", "offsets": offsets}));
    }
    for reply in net.take_replies() {
        let msgs = reply["msgs"].as_object().expect("msgs");
        assert_eq!(msgs.len(), names.len(), "{reply}");
        for (i, k) in names.iter().enumerate() {
            assert_eq!(msgs[*k], json!([[0, i]]), "{reply}");
        }
    }
}
