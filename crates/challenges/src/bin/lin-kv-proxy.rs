//! lin-kv by relaying every request to Maelstrom's lin-kv service. See
//! [`glomers_challenges::lin_kv::proxy`].

fn main() {
    glomers_node::run(glomers_challenges::lin_kv::proxy::LinKvProxy)
}
