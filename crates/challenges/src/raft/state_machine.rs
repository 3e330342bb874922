//! The replicated state machine: the key-value store of registers that committed log entries
//! are applied to, in log order, on every node alike.

use std::collections::BTreeMap;

use glomers_node::ErrorCode;
use serde_json::Value;

use crate::lin_kv::{KvOp, KvReply};

/// What applying an op answers: the success reply, or an error code and text.
pub type Outcome = Result<KvReply, (ErrorCode, String)>;

#[derive(Default)]
pub struct Store {
    /// Keys by their JSON text (keys are arbitrary JSON; the text is a total order).
    registers: BTreeMap<String, Value>,
}

impl Store {
    pub fn apply(&mut self, op: &KvOp) -> Outcome {
        match op {
            KvOp::Read { key } => match self.registers.get(&key.to_string()) {
                Some(value) => Ok(KvReply::ReadOk {
                    value: value.clone(),
                }),
                None => Err(missing(key)),
            },
            KvOp::Write { key, value } => {
                self.registers.insert(key.to_string(), value.clone());
                Ok(KvReply::WriteOk)
            }
            KvOp::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            } => match self.registers.get_mut(&key.to_string()) {
                Some(current) if current == from => {
                    *current = to.clone();
                    Ok(KvReply::CasOk)
                }
                Some(current) => Err((
                    ErrorCode::PreconditionFailed,
                    format!("current value {current} is not {from}"),
                )),
                None if *create_if_not_exists => {
                    self.registers.insert(key.to_string(), to.clone());
                    Ok(KvReply::CasOk)
                }
                None => Err(missing(key)),
            },
        }
    }
}

fn missing(key: &Value) -> (ErrorCode, String) {
    (
        ErrorCode::KeyDoesNotExist,
        format!("key {key} does not exist"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registers_read_write_and_cas() {
        let mut s = Store::default();
        let read = KvOp::Read { key: json!(1) };
        assert_eq!(s.apply(&read).unwrap_err().0, ErrorCode::KeyDoesNotExist);
        let cas = |from, to| KvOp::Cas {
            key: json!(1),
            from: json!(from),
            to: json!(to),
            create_if_not_exists: false,
        };
        assert_eq!(
            s.apply(&cas(0, 1)).unwrap_err().0,
            ErrorCode::KeyDoesNotExist
        );
        let write = KvOp::Write {
            key: json!(1),
            value: json!(3),
        };
        assert_eq!(s.apply(&write), Ok(KvReply::WriteOk));
        assert_eq!(
            s.apply(&cas(2, 4)).unwrap_err().0,
            ErrorCode::PreconditionFailed
        );
        assert_eq!(s.apply(&cas(3, 4)), Ok(KvReply::CasOk));
        assert_eq!(s.apply(&read), Ok(KvReply::ReadOk { value: json!(4) }));
        let create = KvOp::Cas {
            key: json!("k"),
            from: json!(0),
            to: json!(7),
            create_if_not_exists: true,
        };
        assert_eq!(s.apply(&create), Ok(KvReply::CasOk));
    }
}
