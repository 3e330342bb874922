use super::*;

fn ops(list: &[(&str, i64, Option<i64>)]) -> Vec<MicroOp> {
    list.iter()
        .map(|(f, k, v)| {
            let f = if *f == "r" { Fun::Read } else { Fun::Write };
            (f, *k, *v)
        })
        .collect()
}

#[test]
fn a_transaction_reads_its_own_writes_and_keeps_only_its_last_write_per_key() {
    let mut replica = Replica::default();
    replica.apply(1, 10, (1, 0));
    let (done, writes) = execute(
        &replica,
        ops(&[
            ("r", 1, None),
            ("w", 1, Some(11)),
            ("r", 1, None),
            ("w", 1, Some(12)),
            ("r", 2, None),
        ]),
    );
    assert_eq!(
        done,
        ops(&[
            ("r", 1, Some(10)),
            ("w", 1, Some(11)),
            ("r", 1, Some(11)),
            ("w", 1, Some(12)),
            ("r", 2, None),
        ])
    );
    assert_eq!(writes.into_iter().collect::<Vec<_>>(), [(1, 12)]);
}

#[test]
fn replicas_keep_the_newest_version_whatever_the_arrival_order() {
    let mut a = Replica::default();
    let mut b = Replica::default();
    let updates = [(1, 5, (3, 1)), (1, 4, (3, 0)), (1, 6, (2, 1))];
    for u in updates {
        a.apply(u.0, u.1, u.2);
    }
    for u in updates.iter().rev() {
        b.apply(u.0, u.1, u.2);
    }
    assert_eq!(a.get(1), Some(5));
    assert_eq!(b.get(1), Some(5));
    // A local write after seeing counter 3 gets a larger version.
    assert!(a.next_version(0) > (3, 1));
}

#[test]
fn micro_ops_read_and_write_as_the_wire_has_them() {
    let txn: Vec<MicroOp> = serde_json::from_str(r#"[["r", 1, null], ["w", 2, 3]]"#).unwrap();
    assert_eq!(txn, ops(&[("r", 1, None), ("w", 2, Some(3))]));
    assert_eq!(
        serde_json::to_string(&txn).unwrap(),
        r#"[["r",1,null],["w",2,3]]"#
    );
    assert!(serde_json::from_str::<Vec<MicroOp>>(r#"[["append", 1, 2]]"#).is_err());
    // Inside a request, read by the runtime by its type (`type` after the fields on purpose).
    let mut engine = glomers_node::Engine::new(Txn::from_args(&[]).unwrap(), 0);
    let lines = [
        r#"{"src":"c0","dest":"n0","body":{"type":"init","msg_id":1,"node_id":"n0","node_ids":["n0"]}}"#,
        r#"{"src":"c1","dest":"n0","body":{"txn":[["w",1,2],["r",1,null]],"msg_id":2,"type":"txn"}}"#,
    ];
    for line in lines {
        engine.handle_line(line.as_bytes(), std::time::Duration::ZERO);
    }
    let out = String::from_utf8(std::mem::take(engine.output())).unwrap();
    let reply: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(reply["body"]["type"], "txn_ok", "{out}");
    assert_eq!(
        reply["body"]["txn"],
        serde_json::json!([["w", 1, 2], ["r", 1, 2]])
    );
}

#[test]
fn arguments_choose_the_mode() {
    assert_eq!(Txn::from_args(&[]).unwrap().mode, Mode::ReadCommitted);
    assert_eq!(
        Txn::from_args(&["serializable".into()]).unwrap().mode,
        Mode::Serializable
    );
    assert!(Txn::from_args(&["fast".into()]).is_err());
}

/// The in-place execution completes the same micro-ops and keeps the same last writes, in the
/// same (key) order, as [`execute`], on random transactions over few keys (so that they read
/// and overwrite their own writes) against a random replica.
#[test]
fn execute_in_place_is_execute() {
    use glomers_node::rand::{Rng, SeedableRng};
    let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let mut writes = Vec::new();
    for _ in 0..3000 {
        let mut replica = Replica::default();
        for _ in 0..rng.gen_range(0..6) {
            replica.apply(rng.gen_range(-3..6), rng.gen_range(0..100), (1, 0));
        }
        let txn: Vec<MicroOp> = (0..rng.gen_range(0..8))
            .map(|_| {
                let f = if rng.gen_bool(0.5) {
                    Fun::Read
                } else {
                    Fun::Write
                };
                let v = rng.gen_bool(0.8).then(|| rng.gen_range(-50..50));
                (f, rng.gen_range(-3..6), v)
            })
            .collect();
        let (done, by_map) = execute(&replica, txn.clone());
        let mut in_place = txn;
        execute_in_place(&replica, &mut in_place, &mut writes);
        assert_eq!(in_place, done);
        assert_eq!(writes, by_map.into_iter().collect::<Vec<_>>());
    }
}

/// The replica (small keys in a vector, others in a map) keeps what a plain map of the newest
/// version per key keeps, on random writes over small, negative and large keys.
#[test]
fn replica_is_a_map_of_newest_versions() {
    use glomers_node::rand::{Rng, SeedableRng};
    use std::collections::BTreeMap;
    let mut rng = glomers_node::rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let keys = [
        -5,
        -1,
        0,
        1,
        2,
        700,
        DENSE_KEYS - 1,
        DENSE_KEYS,
        i64::MIN,
        i64::MAX,
    ];
    for _ in 0..200 {
        let mut replica = Replica::default();
        let mut model: BTreeMap<i64, (i64, Version)> = BTreeMap::new();
        for _ in 0..rng.gen_range(0..40) {
            let key = keys[rng.gen_range(0..keys.len())];
            let (value, version) = (
                rng.gen_range(0..100),
                (rng.gen_range(0..5), rng.gen_range(0..2)),
            );
            let newer = model.get(&key).is_none_or(|(_, v)| *v < version);
            if newer {
                model.insert(key, (value, version));
            }
            assert_eq!(replica.apply(key, value, version), newer);
            for key in keys {
                assert_eq!(replica.get(key), model.get(&key).map(|(v, _)| *v));
            }
        }
    }
}
