#!/usr/bin/env bash
# Run every test on a fresh machine: install what the tests use beyond Rust
# (Debian's `age` tool, python3 with the official MCP Python SDK), then
# `cargo test --workspace`, which builds the `ctxvault` binary and runs the
# unit, property and end-to-end tests against it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The bundle-format test decrypts a bundle with the age command-line tool,
# to show the format needs no ctxvault code.
if ! command -v age >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq age
fi
# The passphrase-prompt test drives a pseudo-terminal with python3; an MCP
# test drives `ctxvault mcp` with the official MCP Python SDK.
command -v python3 >/dev/null 2>&1 || { echo "python3 is needed by the tests"; exit 1; }
if ! python3 -c "import mcp" >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check "mcp==2.3.0"
fi

cargo test --workspace "$@"
