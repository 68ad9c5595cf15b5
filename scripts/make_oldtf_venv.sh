#!/usr/bin/env bash
# Create a second virtualenv with the OLDEST transformers the decoding engine supports (decoding.engine.
# MIN_TRANSFORMERS), so the engine tests can run under it as well as under the pinned version:
#   scripts/make_oldtf_venv.sh [path]      (default .venv-oldtf; ./test then runs tests/engine under it)
# Only torch (the pinned CPU build), that transformers, numpy and pytest; no Django.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-${QASYNTH_OLDTF_VENV:-.venv-oldtf}}
python=${PYTHON:-python3}
"$python" -m venv "$target"
"$target/bin/pip" install -q "torch==2.13.0" "transformers==5.10.4" "numpy==2.4.6" "pytest==9.2.0"
"$target/bin/python" -c "import transformers, torch; print('oldest-supported venv:', '$target', 'transformers', transformers.__version__, 'torch', torch.__version__)"
