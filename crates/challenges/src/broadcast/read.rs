//! The broadcast node's requests read by hand ([`glomers_node::Node::read_request`]): one
//! walk over the body with [`BodyReader`] instead of serde's derived deserializers. Anything
//! unusual is left to serde, which reads it as [`Request`]'s derive says or answers with the
//! error.

use glomers_node::{BodyReader, FieldSet};

use super::Request;

/// Reads a request body of type `ty`; `None` leaves it to serde.
pub fn read(ty: &str, r: &mut BodyReader<'_>) -> Option<Request> {
    let request = match ty {
        "gossip" => read_gossip(r)?,
        "broadcast" => read_broadcast(r)?,
        "read" => {
            r.skip()?;
            Request::Read
        }
        "topology" => {
            r.skip()?;
            Request::Topology
        }
        _ => return None,
    };
    r.end()?;
    Some(request)
}

fn read_broadcast(r: &mut BodyReader<'_>) -> Option<Request> {
    let mut message = None;
    r.object()?;
    while let Some(key) = r.field()? {
        match key {
            "message" if message.is_none() => message = Some(r.u64()?),
            "message" => return None,
            _ => r.skip()?,
        }
    }
    Some(Request::Broadcast { message: message? })
}

fn read_gossip(r: &mut BodyReader<'_>) -> Option<Request> {
    let (mut seq, mut values, mut relay, mut acks) = (None, Vec::new(), Vec::new(), Vec::new());
    let mut seen = FieldSet::default();
    r.object()?;
    while let Some(key) = r.field()? {
        match key {
            "seq" if seen.first(0) => seq = r.opt_u64()?,
            "values" if seen.first(1) => numbers(r, &mut values)?,
            "relay" if seen.first(2) => numbers(r, &mut relay)?,
            "acks" if seen.first(3) => numbers(r, &mut acks)?,
            "seq" | "values" | "relay" | "acks" => return None,
            _ => r.skip()?,
        }
    }
    Some(Request::Gossip {
        seq,
        values,
        relay,
        acks,
    })
}

/// `[1,2,3]`.
fn numbers(r: &mut BodyReader<'_>, out: &mut Vec<u64>) -> Option<()> {
    r.u64s(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use glomers_node::{assert_left_to_serde, assert_reads_as_serde};

    #[test]
    fn plain_bodies_read_as_serde_reads_them() {
        for (ty, body) in [
            (
                "broadcast",
                r#"{"type":"broadcast","message":7,"msg_id":1}"#,
            ),
            ("read", r#"{"type":"read","msg_id":1}"#),
            (
                "topology",
                r#"{"type":"topology","topology":{"n1":["n2"]},"msg_id":1}"#,
            ),
            (
                "gossip",
                r#"{"type":"gossip","seq":3,"values":[1,2],"relay":[5],"acks":[0,1]}"#,
            ),
            ("gossip", r#"{"type":"gossip","acks":[4]}"#),
            ("gossip", r#"{"seq":null,"values":[]}"#),
        ] {
            assert_reads_as_serde(read, ty, body);
        }
    }

    #[test]
    fn bodies_serde_refuses_are_left_to_it() {
        for (ty, body) in [
            ("broadcast", r#"{"type":"broadcast"}"#),
            ("broadcast", r#"{"message":-1}"#),
            ("broadcast", r#"{"message":1.5}"#),
            ("broadcast", r#"{"message":1,"message":2}"#),
            ("gossip", r#"{"values":[1,"x"]}"#),
            ("gossip", r#"{"acks":[1],"acks":[2]}"#),
            ("gossip", r#"{"seq":-1}"#),
            ("nope", r#"{}"#),
        ] {
            assert_eq!(assert_left_to_serde(read, ty, body), None, "{body}");
        }
    }
}
