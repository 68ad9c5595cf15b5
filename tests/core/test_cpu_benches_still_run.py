"""The CPU benches that issue figures are read from (bench/generation.py, bench/training.py) still run against
the code they measure: a refactor once left bench/generation.py calling a method that had moved, and nothing
noticed until a before/after measurement. Tiny random model with the real tokenizer, a few tokens each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.tiny_models import tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]


def _run(script: str, *args: str) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, f"bench/{script}", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done.stdout


def test_the_generation_bench_runs_batched_and_one_at_a_time():
    out = _run("generation.py", "--model-dir", str(tiny_model_dir("llama")), "--passages", "2", "--batch-size", "2",
               "--max-new-tokens", "4", "--threads", "1")  # fmt: skip
    assert "batched / sequential:" in out and "identical outputs: 2 / 2" in out


def test_the_training_bench_runs_training_and_evaluation():
    out = _run("training.py", "--model-dir", str(tiny_model_dir("llama")), "--steps", "1", "--batch-size", "2",
               "--seq-len", "64", "--eval-items", "2", "--eval-batch-size", "2", "--max-new-tokens", "4",
               "--threads", "1", "--skip", "bertscore")  # fmt: skip
    assert "load average at the end" in out
