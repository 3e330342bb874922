#!/usr/bin/env bash
# Builds the `glomers` workbench with profile-guided optimisation (PGO) for sweeps at scale.
#
#   bash deploy/pgo-build.sh            # the binary ends up in target/pgo/optimized/release-lto/glomers
#
# Three steps: build an instrumented `glomers` (release-lto profile), run it on a training set
# that touches every workload and the report (`glomers all --sim` with its store, plus unstored
# sweeps of 3d, 5c and 6c), then build again with the merged profile. The compiler then lays out
# and inlines the hot paths it saw (the simulator, the JSON readers, the checkers), which makes a
# simulated run 14 to 26% cheaper than `--profile release-lto` alone (docs/sweeps.md, "Speed").
#
# Needs `llvm-profdata` of the toolchain's own LLVM: `rustup component add llvm-tools`. The
# profile is made afresh on every build, so it always matches the code. Only `glomers` is built
# this way: the node binaries run over pipes, which the training does not exercise. Extra
# RUSTFLAGS from the environment are kept.
set -euo pipefail
cd "$(dirname "$0")/.."

profdata=$(find "$(rustc --print sysroot)" -name llvm-profdata -type f 2>/dev/null | head -n 1)
if [ -z "$profdata" ]; then
  echo "pgo-build: llvm-profdata not found; install it with: rustup component add llvm-tools" >&2
  exit 1
fi

work="$PWD/target/pgo"
rm -rf "$work/data" "$work/train-store" "$work/merged.profdata"
mkdir -p "$work/data"

echo "pgo-build: 1/3 instrumented build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$work/data" \
  cargo build --profile release-lto --locked -p glomers-workbench --bin glomers \
  --target-dir "$work/instrumented"

echo "pgo-build: 2/3 training runs" >&2
glomers="$work/instrumented/release-lto/glomers"
# Every challenge once, stored (history, report page), with a fixed seed so builds repeat.
"$glomers" all --sim --seed 1 --store "$work/train-store" >/dev/null
# Sweeps: what a cluster runs most.
"$glomers" sim -w broadcast --node broadcast --node-count 25 --time-limit 20 --rate 100 \
  --latency 100 --latency-dist exponential --nemesis partition --seed 0 --seeds 8 --jobs 1 >/dev/null
"$glomers" sim -w kafka --node kafka --node-count 2 --concurrency 2n --time-limit 20 \
  --rate 1000 --seed 0 --seeds 2 --jobs 1 >/dev/null
"$glomers" sim -w txn-rw-register --node txn --node-count 2 --concurrency 2n --time-limit 20 \
  --rate 1000 --consistency-models read-committed --availability total --nemesis partition \
  --seed 0 --seeds 2 --jobs 1 >/dev/null
"$profdata" merge -o "$work/merged.profdata" "$work/data"

echo "pgo-build: 3/3 optimised build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$work/merged.profdata" \
  cargo build --profile release-lto --locked -p glomers-workbench --bin glomers \
  --target-dir "$work/optimized"
echo "pgo-build: built $work/optimized/release-lto/glomers" >&2
