//! Jepsen's `set-full` checker, as Maelstrom's broadcast and g-set workloads use it.
//!
//! Clients add single elements (`broadcast` or `add`) and read the whole set (`read`). For each
//! element the checker finds:
//!
//! - *known*: the completion of its ok add, or of the first ok read that returned it, whichever
//!   comes first in the history;
//! - *last present* / *last absent*: the latest-invoked ok read that returned it / missed it.
//!
//! An element is **stable** when some read returning it was invoked after the last read that
//! missed it, **lost** when it was known and the last read that missed it was invoked after both
//! the last read that returned it and the known point, and **never read** otherwise. Its stable
//! latency is how long after the known point reads could still miss it: the last absent read's
//! invocation time + 1 ns − known time, at least 0, in whole milliseconds. A stable element with
//! a latency above zero is **stale** (allowed: the set is only eventually consistent).
//!
//! As in Jepsen, a read only *counts* for an element when it completes after the element's add
//! was invoked (a read cannot be blamed for missing an element nobody had asked for yet), and
//! values returned by reads that were never added are ignored.
//!
//! Jepsen compares every read with every element it tracks. Here a read only touches the
//! elements it returned: the reads that count for an element are, in invocation order, the few
//! that were in flight when its add was invoked followed by every ok read invoked after it, so
//! numbering them (ranks) lets a gap between two reads that returned the element reveal the
//! reads that missed it. The work is linear in the total size of the reads, plus a small term
//! per add for the reads in flight at the time, and the memory is a few words per element.
//!
//! The parts: [`analysis`] pairs the ops and walks the reads, element by element; [`report`]
//! turns the verdicts into figures and anomalies; [`values`] orders and interns the elements'
//! JSON values.

use crate::checkers::CheckResult;
use crate::history::History;

mod analysis;
mod paint;
mod report;
mod values;

#[cfg(test)]
mod tests;

use analysis::Analysis;
use report::report;

/// How many lost elements get an anomaly of their own; the rest are summed up in one.
const SHOWN_LOST: usize = 20;

/// How many of the stalest elements `worst_stale` lists (as Jepsen: 8).
const WORST_STALE: usize = 8;

/// The read function the checker looks at, whatever the add function is called.
const READ_F: &str = "read";

/// Checks a history of single-element adds (ops whose `f` is `add_f`) and whole-set `read`s.
pub fn check_set_full(history: &History, add_f: &str) -> CheckResult {
    let analysis = Analysis::of(history, add_f);
    let outcomes = analysis.outcomes();
    report(&analysis, &outcomes, add_f)
}
