//! Challenge #6, transactions (6a-6c). See [`glomers_challenges::txn`].
//!
//! `txn` runs the totally available read-committed mode; `txn serializable` the
//! strict-serializable one (per-key locks over lin-kv).

use glomers_challenges::txn::Txn;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match Txn::from_args(&args) {
        Ok(node) => glomers_node::run(node),
        Err(e) => {
            eprintln!("txn: {e}");
            std::process::exit(2);
        }
    }
}
