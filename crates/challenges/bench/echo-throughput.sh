#!/usr/bin/env bash
# Rough echo throughput over pipes: N echo requests (default 300000) through the release `echo`
# binary, counting the reply lines. Usage: crates/challenges/bench/echo-throughput.sh [N]
set -euo pipefail
n=${1:-300000}
root=$(cd "$(dirname "$0")/../../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -q -p glomers-challenges --manifest-path "$root/Cargo.toml"
input=$(mktemp)
trap 'rm -f "$input"' EXIT
awk -v n="$n" 'BEGIN {
  print "{\"id\":0,\"src\":\"c0\",\"dest\":\"n0\",\"body\":{\"type\":\"init\",\"msg_id\":1,\"node_id\":\"n0\",\"node_ids\":[\"n0\"]}}"
  for (i = 1; i <= n; i++)
    printf "{\"id\":%d,\"src\":\"c%d\",\"dest\":\"n0\",\"body\":{\"type\":\"echo\",\"msg_id\":%d,\"echo\":\"Please echo %d\"}}\n", i, i % 5 + 1, i, i % 128
}' > "$input"
start=$(date +%s.%N)
replies=$(cat "$input" | "$target/release/echo" 2>/dev/null | wc -l)
end=$(date +%s.%N)
if [ "$replies" -ne $((n + 1)) ]; then
  echo "expected $((n + 1)) reply lines, got $replies" >&2
  exit 1
fi
awk -v n="$n" -v s="$start" -v e="$end" 'BEGIN { printf "%d echo requests answered in %.3f s: %.0f req/s\n", n, e - s, n / (e - s) }'
