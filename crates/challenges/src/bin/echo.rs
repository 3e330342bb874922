//! Challenge #1: echo. See [`glomers_challenges::echo`].

fn main() {
    glomers_node::run(glomers_challenges::echo::Echo::default())
}
