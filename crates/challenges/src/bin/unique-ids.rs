//! Challenge #2: unique ID generation. See [`glomers_challenges::unique_ids`].

fn main() {
    glomers_node::run(glomers_challenges::unique_ids::UniqueIds::default())
}
