//! lin-kv replicated with Raft. See [`glomers_challenges::raft`].

fn main() {
    glomers_node::run(glomers_challenges::raft::Raft::default())
}
