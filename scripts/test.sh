#!/usr/bin/env bash
# Run every test on a fresh machine: install what the tests use beyond Rust
# (Debian's `age`, `gnome-keyring`, `libsecret-tools` and `nodejs`, the
# official MCP Python SDK in a virtual environment under target/,
# Anthropic's `mcpb` from npm under target/), then
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
# The passphrase-prompt test drives a pseudo-terminal with python3; the MCP
# tests drive `ctxvault mcp` with the official MCP Python SDK, installed into
# a virtual environment this script creates (never into the system Python).
command -v python3 >/dev/null 2>&1 || { echo "python3 is needed by the tests"; exit 1; }
VENV="${CTXVAULT_TEST_VENV:-target/test-venv}"
if [ ! -x "$VENV/bin/python" ]; then
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        # Debian ships venv support as its own package.
        SUDO=""
        if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
fi
if ! "$VENV/bin/python" -c "import mcp" >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "mcp==2.3.0"
fi
export CTXVAULT_TEST_PYTHON="$PWD/$VENV/bin/python"

# The keyring test runs a real Secret Service: GNOME Keyring on a D-Bus
# session bus of its own, read back with secret-tool.
if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v secret-tool >/dev/null 2>&1 \
    || ! command -v dbus-daemon >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnome-keyring libsecret-tools dbus-daemon
fi

# The Claude Desktop extension test validates the bundle with Anthropic's
# own `mcpb` tool, installed from npm under target/ (Node 18 or newer).
if ! command -v npm >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
fi
NODE_DIR="${CTXVAULT_TEST_NODE:-target/test-node}"
if [ ! -x "$NODE_DIR/node_modules/.bin/mcpb" ]; then
    npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" "@anthropic-ai/mcpb@2.1.2" >/dev/null
fi
export CTXVAULT_TEST_MCPB="$PWD/$NODE_DIR/node_modules/.bin/mcpb"

cargo test --workspace "$@"
