#!/usr/bin/env bash
# Run the Django-free engine tests (tests/engine) under the oldest supported transformers, if its venv exists
# (scripts/make_oldtf_venv.sh creates it). Exit 0 with a note when it does not exist.
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${QASYNTH_OLDTF_VENV:-.venv-oldtf}
if [ ! -x "$venv/bin/python" ]; then
  echo "engine tests under the oldest transformers: skipped ($venv missing; scripts/make_oldtf_venv.sh creates it)"
  exit 0
fi
version=$("$venv/bin/python" -c "import transformers; print(transformers.__version__)")
echo "== engine tests under transformers $version ($venv) =="
"$venv/bin/python" -m pytest tests/engine -q --noconftest -p no:cacheprovider -W "ignore::pytest.PytestConfigWarning" "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit $rc
