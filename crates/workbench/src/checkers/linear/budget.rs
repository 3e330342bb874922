//! The checker's budget: a deadline and a memory allowance shared by every key's search, so
//! that a history too hard to check ends as `unknown` instead of a hang or an out-of-memory.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Why a search gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exhausted {
    Time,
    Memory,
}

impl Exhausted {
    pub fn describe(self) -> &'static str {
        match self {
            Exhausted::Time => "the checker's time budget (--checker-timeout) ran out",
            Exhausted::Memory => "the checker's memory budget ran out",
        }
    }
}

pub struct Budget {
    deadline: Instant,
    memory_limit: usize,
    memory_used: AtomicUsize,
    /// Set once anything ran out, so every other search stops at its next check.
    spent: AtomicBool,
    out_of_memory: AtomicBool,
}

/// Searches look at the clock once per this many steps.
pub const STEPS_PER_CLOCK_CHECK: u32 = 4096;

impl Budget {
    pub fn new(timeout: Duration, memory_limit: usize) -> Budget {
        Budget {
            deadline: Instant::now() + timeout,
            memory_limit,
            memory_used: AtomicUsize::new(0),
            spent: AtomicBool::new(false),
            out_of_memory: AtomicBool::new(false),
        }
    }

    /// Whether time has run out (or memory, for any search). Cheap enough for every few
    /// thousand steps.
    pub fn check(&self) -> Result<(), Exhausted> {
        if self.spent.load(Ordering::Relaxed) {
            return Err(self.reason());
        }
        if Instant::now() >= self.deadline {
            self.spent.store(true, Ordering::Relaxed);
            return Err(Exhausted::Time);
        }
        Ok(())
    }

    /// Takes `bytes` from the memory allowance.
    pub fn charge(&self, bytes: usize) -> Result<(), Exhausted> {
        let used = self.memory_used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if used > self.memory_limit {
            self.out_of_memory.store(true, Ordering::Relaxed);
            self.spent.store(true, Ordering::Relaxed);
            return Err(Exhausted::Memory);
        }
        Ok(())
    }

    /// Gives back what a finished search charged.
    pub fn refund(&self, bytes: usize) {
        self.memory_used.fetch_sub(bytes, Ordering::Relaxed);
    }

    fn reason(&self) -> Exhausted {
        if self.out_of_memory.load(Ordering::Relaxed) {
            Exhausted::Memory
        } else {
            Exhausted::Time
        }
    }
}

/// Counts steps and consults the budget's clock every [`STEPS_PER_CLOCK_CHECK`] of them.
pub struct Meter<'a> {
    budget: &'a Budget,
    steps: u32,
    charged: usize,
}

impl<'a> Meter<'a> {
    pub fn new(budget: &'a Budget) -> Meter<'a> {
        Meter {
            budget,
            steps: 0,
            charged: 0,
        }
    }

    #[inline]
    pub fn step(&mut self) -> Result<(), Exhausted> {
        self.steps += 1;
        if self.steps >= STEPS_PER_CLOCK_CHECK {
            self.steps = 0;
            self.budget.check()?;
        }
        Ok(())
    }

    pub fn charge(&mut self, bytes: usize) -> Result<(), Exhausted> {
        self.charged += bytes;
        self.budget.charge(bytes)
    }
}

impl Drop for Meter<'_> {
    fn drop(&mut self) {
        self.budget.refund(self.charged);
    }
}
