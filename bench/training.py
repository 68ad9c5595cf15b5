"""Benchmark of the training engine on the default model (SmolLM2-135M-Instruct, converted to an HF dir).

Prints:
  * training tokens/s (LoRA, answer-only loss) on the English demo corpus,
  * evaluation items/s (batched greedy generation, left padding),
  * the throughput of our BERTScore wrapper over bare `bert_score.score` on the same 1,000 pairs
    (target >= 0.95; both timed cold, i.e. including the encoder load, as a user would call them).

The GGUF -> HF conversion is the model registry's (core.services.model_registry.convert_gguf); it runs once
into the registry's usual place under QASYNTH_DATA_DIR and is reused afterwards.

    .venv/bin/python bench/training.py [--steps 3] [--eval-items 32] [--pairs 1000] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Python puts this script's folder first on sys.path, where bench scripts named like modules (this one is
# `training`, a sibling is `statistics`) would shadow the project package and the standard library.
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


def demo_items(language: str = "en") -> list[dict[str, str]]:
    data = json.loads((ROOT / "generation" / "fixtures" / "demo_corpus.json").read_text(encoding="utf-8"))
    items = []
    for corpus in data["corpora"]:
        if corpus["language"] != language:
            continue
        for passage in corpus["passages"]:
            for qa in passage["qas"]:
                items.append({"context": passage["text"], "question": qa["question"], "answers": qa["answers"]})
    return items


def bench_training(model_dir: Path, items: list[dict], steps: int, batch_size: int, seq_len: int) -> None:
    from training.engine.trainer import TrainConfig, train

    examples = [{"context": i["context"], "question": i["question"], "answer": i["answers"][0]} for i in items]
    with tempfile.TemporaryDirectory() as out:
        config = TrainConfig(
            base_model=str(model_dir),
            output_dir=out,
            max_steps=steps,
            batch_size=batch_size,
            max_seq_length=seq_len,
            checkpoint_every=10_000,
        )
        losses: list[float] = []
        result = train(config, examples, progress=lambda p: losses.append(p.loss))
    print(
        f"training: {result.tokens_per_s:.0f} tokens/s ({steps} steps x batch {batch_size}, max_seq_length {seq_len}, "
        f"{result.elapsed_s:.1f} s, device {result.device}/{result.dtype}); "
        f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"
    )


def bench_evaluation(model_dir: Path, items: list[dict], batch_size: int, max_new_tokens: int) -> None:
    from training.engine.formatting import default_template
    from training.engine.predict import load_for_inference, predict
    from training.metrics import score_answers

    model, tokenizer = load_for_inference(str(model_dir))
    started = time.perf_counter()
    predictions = predict(
        model, tokenizer, items, default_template("en"), batch_size=batch_size, max_new_tokens=max_new_tokens
    )
    took = time.perf_counter() - started
    scores = score_answers([p.prediction for p in predictions], [i["answers"] for i in items], n_resamples=200)
    print(
        f"evaluation: {len(items) / took:.2f} items/s ({len(items)} items, batch {batch_size}, "
        f"max_new_tokens {max_new_tokens}, {took:.1f} s); untuned base model: "
        f"EM {scores.summary['exact_match'].value:.1f}, F1 {scores.summary['f1'].value:.1f}, "
        f"BLEU {scores.summary['bleu'].value:.1f}"
    )


def bertscore_pairs(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """n (candidate, reference) sentence pairs from the demo passages, shuffled deterministically."""
    sentences = []
    for item in demo_items("en"):
        sentences.extend(s.strip() + "." for s in item["context"].split(".") if len(s.split()) > 3)
    sentences = sorted(set(sentences))
    rng = random.Random(seed)
    cands = [rng.choice(sentences) for _ in range(n)]
    refs = [rng.choice(sentences) for _ in range(n)]
    return cands, refs


def _timed(fn) -> tuple[float, float, object]:
    """(wall seconds, CPU seconds of this process, result): CPU time is far less disturbed when other jobs
    share the machine, so both are reported."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def bench_bertscore(n_pairs: int, repeats: int) -> None:
    import bert_score

    from training.metrics import BertScorer, minilm_model_dir

    cands, refs = bertscore_pairs(n_pairs)
    model = str(minilm_model_dir())
    times: dict[str, list[tuple[float, float]]] = {"bare": [], "cold": [], "warm": []}

    def bare():
        return bert_score.score(cands, refs, model_type=model, num_layers=6)[2]

    def ours_cold():
        scorer = BertScorer.for_language("en")
        return scorer, scorer.score(cands, [[r] for r in refs])

    for repeat in range(repeats):
        # alternate the order so neither side always runs on warmer caches
        order = ("bare", "cold") if repeat % 2 == 0 else ("cold", "bare")
        for name in order:
            wall, cpu, result = _timed(bare if name == "bare" else ours_cold)
            times[name].append((wall, cpu))
            if name == "bare":
                bare_f1 = result
            else:
                scorer, ours = result
        wall, cpu, _ = _timed(lambda: scorer.score(cands, [[r] for r in refs]))  # noqa: B023
        times["warm"].append((wall, cpu))
    best = {name: (min(t[0] for t in ts), min(t[1] for t in ts)) for name, ts in times.items()}
    diff = abs(float(bare_f1.mean()) - float(ours.f1.mean()))
    (bare_wall, bare_cpu), (cold_wall, cold_cpu), (warm_wall, warm_cpu) = best["bare"], best["cold"], best["warm"]
    print(
        f"bertscore ({n_pairs} pairs, best of {repeats}): bare bert_score.score {n_pairs / bare_wall:.0f} pairs/s, "
        f"wrapper cold {n_pairs / cold_wall:.0f} pairs/s, wrapper warm (encoder kept) {n_pairs / warm_wall:.0f} "
        f"pairs/s; ratio wrapper/bare: cold {bare_wall / cold_wall:.3f} wall, {bare_cpu / cold_cpu:.3f} CPU time "
        f"(target >= 0.95); warm {bare_wall / warm_wall:.3f} wall, {bare_cpu / warm_cpu:.3f} CPU; "
        f"|mean F1 diff| {diff:.1e}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--eval-items", type=int, default=16)
    parser.add_argument("--eval-batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["training", "evaluation", "bertscore"])
    parser.add_argument("--model-dir", type=Path, default=None, help="a saved HF model directory (default: SmolLM2)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, cuda {torch.cuda.is_available()}, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (figures are only comparable on a quiet box)"
    )
    items = demo_items("en")
    if "training" not in args.skip or "evaluation" not in args.skip:
        model_dir = args.model_dir or smollm2_dir()
        if "training" not in args.skip:
            bench_training(model_dir, items, args.steps, args.batch_size, args.seq_len)
        if "evaluation" not in args.skip:
            bench_evaluation(model_dir, items[: args.eval_items], args.eval_batch_size, args.max_new_tokens)
    if "bertscore" not in args.skip:
        bench_bertscore(args.pairs, args.repeats)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
