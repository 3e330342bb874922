//! Challenge #3, broadcast (3a-3e). See [`glomers_challenges::broadcast`].
//!
//! `broadcast` runs the default mode (3d); `broadcast frugal` the frugal one (3e).

use glomers_challenges::broadcast::Broadcast;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    glomers_node::run(Broadcast::from_args(&args))
}
