#!/usr/bin/env bash
# Build the libFuzzer entry points with nightly and run one target,
# coverage-guided, for SECS seconds (default 60). New inputs go to a scratch
# directory under target/; the committed corpus is only read. Needs a C++
# compiler (libfuzzer-sys builds libFuzzer) and `cargo +nightly`.
#
#   fuzz/libfuzzer/run.sh TARGET [SECS] [libFuzzer flags...]
set -euo pipefail
cd "$(dirname "$0")"
target="${1:?usage: run.sh TARGET [SECS] [libFuzzer flags...]}"
secs="${2:-60}"
shift $(( $# < 2 ? $# : 2 ))
triple="$(rustc +nightly -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo +nightly build --release --target "$triple" --bin "$target" ${CARGO_JOBS:+-j "$CARGO_JOBS"}
scratch="$CARGO_TARGET_DIR/corpus/$target"
mkdir -p "$scratch" "$CARGO_TARGET_DIR/artifacts/$target"
"$CARGO_TARGET_DIR/$triple/release/$target" "$scratch" "../corpus/$target" \
    -max_total_time="$secs" -max_len=16384 -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="$CARGO_TARGET_DIR/artifacts/$target/" "$@"
