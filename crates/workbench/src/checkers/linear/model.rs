//! The model: a compare-and-set register that starts as null. Values are interned per key so
//! that a state is a small integer the search can hash and compare cheaply.

use serde_json::Value;

/// A register value, interned in its key's [`Values`]; [`NULL`] is the initial state.
pub type State = u32;

/// The register before anything was written.
pub const NULL: State = 0;

/// What an operation does to the register, with its values interned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// An ok read that returned this value.
    Read(State),
    Write(State),
    Cas {
        from: State,
        to: State,
    },
}

impl Action {
    /// The state after the action takes effect in `state`, or `None` if it cannot take effect
    /// there (a read of another value, a cas whose `from` does not match).
    #[inline]
    pub fn step(self, state: State) -> Option<State> {
        match self {
            Action::Read(v) => (v == state).then_some(state),
            Action::Write(v) => Some(v),
            Action::Cas { from, to } => (from == state).then_some(to),
        }
    }
}

/// The values one key's register has seen, each given a [`State`] number (null is 0).
#[derive(Clone, Debug)]
pub struct Values {
    table: Vec<Value>,
}

impl Default for Values {
    fn default() -> Values {
        Values {
            table: vec![Value::Null],
        }
    }
}

impl Values {
    /// The state number of `value`, interning it if new. Values compare as JSON does
    /// (structurally; `1` and `1.0` differ), as the lin-kv service compares them.
    pub fn intern(&mut self, value: &Value) -> State {
        if let Some(i) = self.table.iter().position(|v| v == value) {
            return i as State;
        }
        self.table.push(value.clone());
        (self.table.len() - 1) as State
    }

    pub fn value(&self, state: State) -> &Value {
        &self.table[state as usize]
    }

    /// How a person reads an action: `read 3`, `write 4`, `cas 3->4`.
    pub fn describe(&self, action: Action) -> String {
        match action {
            Action::Read(v) => format!("read {}", self.value(v)),
            Action::Write(v) => format!("write {}", self.value(v)),
            Action::Cas { from, to } => {
                format!("cas {}->{}", self.value(from), self.value(to))
            }
        }
    }
}
