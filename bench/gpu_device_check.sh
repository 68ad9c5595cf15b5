#!/usr/bin/env bash
# The whole GPU check in one script, for a lent GPU machine with its own Python/torch/transformers/peft image
# (no Django needed). Run from the repo root:  OUT=/some/dir bash bench/gpu_device_check.sh
# Writes everything under $OUT within about 8 minutes (8 files): versions.txt (with nvidia-smi), gpu-bench.{json,md,log}
# (bench/gpu.py, full sizes), engine-tests.txt (tests/engine, whose CUDA tests run here) and
# llm-judge-{choice,generate}.txt (bench/llm_judge.py: the LLM judge's local paths, batched vs one at a time, on
# SmolLM2's architecture with random weights, so verdicts are noise and only the rates count).
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-${1:-/tmp/qasynth-gpu-check}}
mkdir -p "$OUT"
py=${PYTHON:-python3}
began=$(date +%s)
"$py" -c "import sys, torch, transformers; import peft; print(sys.version); print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available()); print('transformers', transformers.__version__, 'peft', peft.__version__)" >"$OUT/versions.txt" 2>&1
cat "$OUT/versions.txt"
nvidia-smi >>"$OUT/versions.txt" 2>&1

echo "== bench/gpu.py (full sizes; partial results are kept if the time limit hits)"
timeout -k 10 330 "$py" bench/gpu.py --out "$OUT" >"$OUT/gpu-bench.log" 2>&1
echo "bench exit: $?" | tee -a "$OUT/gpu-bench.log"
[ -f "$OUT/gpu-bench.md" ] && cat "$OUT/gpu-bench.md"

echo "== engine tests (CUDA tests included)"
timeout -k 10 110 "$py" -m pytest tests/engine -q -rs --noconftest -p no:cacheprovider \
  -W "ignore::pytest.PytestConfigWarning" >"$OUT/engine-tests.txt" 2>&1
echo "engine tests exit: $?" | tee -a "$OUT/engine-tests.txt"
tail -5 "$OUT/engine-tests.txt"
echo "== LLM judge, local model on CUDA (random weights: rates only)"
judge=(--skip-endpoint --device cuda --random-weights --model-dir bench/assets/smollm2-135m --threads 4)
timeout -k 10 120 "$py" bench/llm_judge.py "${judge[@]}" --verdict-mode choice --local-pairs 512 --batch-size 64 \
  --sequential-pairs 32 >"$OUT/llm-judge-choice.txt" 2>&1
echo "choice exit: $?" | tee -a "$OUT/llm-judge-choice.txt"
timeout -k 10 120 "$py" bench/llm_judge.py "${judge[@]}" --verdict-mode generate --local-pairs 256 --batch-size 64 \
  --sequential-pairs 16 --response-prefix '{"answer_1": "' >"$OUT/llm-judge-generate.txt" 2>&1
echo "generate exit: $?" | tee -a "$OUT/llm-judge-generate.txt"
grep -h -i "verdicts_per_s\|ratio" "$OUT"/llm-judge-*.txt | head -20

echo "total seconds: $(( $(date +%s) - began ))" | tee -a "$OUT/versions.txt"
