//! Challenge #4: grow-only counter on seq-kv. See [`glomers_challenges::counter`].
//!
//! `g-counter` runs the grow-only counter; `g-counter pn` runs the pn-counter mode (negative
//! deltas allowed), the same as the `pn-counter` binary.

use glomers_challenges::counter::Counter;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match Counter::from_args(&args) {
        Ok(node) => glomers_node::run(node),
        Err(e) => {
            eprintln!("g-counter: {e}");
            std::process::exit(2);
        }
    }
}
