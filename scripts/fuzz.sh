#!/usr/bin/env bash
# Fuzz every target for a time budget on stable Rust: replay the committed
# corpus (fuzz/corpus), then mutate it. CTXVAULT_FUZZ_SECS is the budget per
# target (default 20 here, five targets); CTXVAULT_FUZZ_SEED the seed (fixed by
# default, `random` to explore). A failing input is saved under fuzz/crashes/
# and printed; see fuzz/src/lib.rs for replaying it.
#
# CI runs the dev profile, whose build `cargo test --workspace` has just made:
# a release build would cost more than the whole fuzz budget. For longer runs
# locally, CTXVAULT_FUZZ_PROFILE=release is about ten times faster per input.
set -euo pipefail
cd "$(dirname "$0")/.."

export CTXVAULT_FUZZ_SECS="${CTXVAULT_FUZZ_SECS:-20}"
profile=()
if [ "${CTXVAULT_FUZZ_PROFILE:-dev}" = "release" ]; then
    profile=(--release)
fi
cargo run "${profile[@]}" -q -p ctxvault-fuzz --bin ctxvault-fuzz -- run "$@"
