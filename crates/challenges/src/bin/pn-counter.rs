//! Maelstrom's pn-counter workload: the counter of challenge #4 with negative deltas allowed.
//! See [`glomers_challenges::counter`].

fn main() {
    glomers_node::run(glomers_challenges::counter::Counter::pn_counter())
}
