#!/usr/bin/env bash
# The whole GPU check in one script, for a lent GPU machine with its own Python/torch/transformers/peft image
# (no Django needed). Run from the repo root:  OUT=/some/dir bash bench/gpu_device_check.sh
# Writes everything under $OUT within about 8 minutes: nvidia-smi.txt, versions.txt, gpu-bench.{json,md,log}
# (bench/gpu.py, full sizes) and engine-tests.txt (tests/engine, whose CUDA tests run here).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-${1:-/tmp/qasynth-gpu-check}}
mkdir -p "$OUT"
py=${PYTHON:-python3}
began=$(date +%s)
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
"$py" -c "import sys, torch, transformers; import peft; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available()); print('transformers', transformers.__version__, 'peft', peft.__version__)" >"$OUT/versions.txt" 2>&1
cat "$OUT/versions.txt"

echo "== bench/gpu.py (full sizes; partial results are kept if the time limit hits)"
timeout -k 10 330 "$py" bench/gpu.py --out "$OUT" >"$OUT/gpu-bench.log" 2>&1
echo "bench exit: $?" | tee -a "$OUT/gpu-bench.log"
[ -f "$OUT/gpu-bench.md" ] && cat "$OUT/gpu-bench.md"

echo "== engine tests (CUDA tests included)"
timeout -k 10 110 "$py" -m pytest tests/engine -q -rs --noconftest -p no:cacheprovider \
  -W "ignore::pytest.PytestConfigWarning" >"$OUT/engine-tests.txt" 2>&1
echo "engine tests exit: $?" | tee -a "$OUT/engine-tests.txt"
tail -5 "$OUT/engine-tests.txt"
echo "total seconds: $(( $(date +%s) - began ))" | tee "$OUT/elapsed.txt"
