//! Challenges 5a-5c: a Kafka-style log. See [`glomers_challenges::kafka`].

fn main() {
    glomers_node::run(glomers_challenges::kafka::Kafka::default())
}
