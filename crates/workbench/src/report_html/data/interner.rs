//! Numbers for the names of the page's data (participants, message types).

use std::collections::HashMap;
use std::sync::Arc;

use super::Fast;

/// Numbers for names, in first-seen order.
pub(super) struct Interner<'a> {
    index: HashMap<&'a str, u32, Fast>,
    /// A name's number by the address of its shared text: the journal's messages share one
    /// `Arc` per name, so most are found without hashing their text.
    by_address: HashMap<usize, u32, Fast>,
    /// Addresses looked up last and their numbers, by a few of their bits (0: none).
    recent: [(usize, u32); RECENT_ADDRESSES],
    pub(super) names: Vec<&'a str>,
}

/// Slots of [`Interner::recent`].
const RECENT_ADDRESSES: usize = 64;

impl Default for Interner<'_> {
    fn default() -> Self {
        Interner {
            index: HashMap::default(),
            by_address: HashMap::default(),
            recent: [(0, 0); RECENT_ADDRESSES],
            names: Vec::new(),
        }
    }
}

impl<'a> Interner<'a> {
    /// [`Interner::get`] of a shared name: by its address, first in a few slots of the
    /// addresses seen last (a run has a few dozen names, each in thousands of messages).
    pub(super) fn get_shared(&mut self, name: &'a Arc<str>) -> u32 {
        let address = Arc::as_ptr(name).cast::<u8>() as usize;
        // The address's bits above an allocation's alignment pick the slot.
        let slot = (address >> 4) % RECENT_ADDRESSES;
        if self.recent[slot].0 == address {
            return self.recent[slot].1;
        }
        let i = match self.by_address.get(&address) {
            Some(&i) => i,
            None => {
                let i = self.get(name);
                self.by_address.insert(address, i);
                i
            }
        };
        self.recent[slot] = (address, i);
        i
    }

    fn get(&mut self, name: &'a str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name);
        self.index.insert(name, i);
        i
    }
}
