"""Benchmark: LLM judging throughput, concurrent vs sequential (endpoint) and batched vs one-at-a-time (local).

1. Endpoint: the fake OpenAI-compatible judge (tests/support/fake_judge_endpoint.py, real HTTP on 127.0.0.1)
   answering every request after a fixed latency (50 ms), judged through the engine with concurrency 16 and
   with concurrency 1; target >= 10x.
2. Local: SmolLM2-135M-Instruct (converted once by the model registry, or --model-dir) through the local
   generator, batched (--batch-size) vs one prompt at a time, on the same pair-assignments; target >= 5x.
   Both modes run chunk by chunk, alternating, so both see the same background load on a shared machine.
   Greedy decoding: the verdicts of both modes should be identical, and the bench says how many are.

A pair-assignment is one pair judged in one order (each pair is judged in both orders). Pairs come from
the demo corpus: the gold answer beside the answer of another question on the same passage, the correct one
on alternating sides. Prints verdicts/s for each mode, the ratios, and the parse / flip figures.

    .venv/bin/python bench/llm_judge.py [--endpoint-pairs 100] [--latency 0.05] [--local-pairs 16]
        [--batch-size 16] [--max-new-tokens 48] [--threads 1] [--model-dir DIR] [--skip-local] [--skip-endpoint]
        [--verdict-mode choice] [--systems 3]   # every pair of 3 answers per question, as on a K-system session
        [--dtype fast|auto|float32|bfloat16]    # a run's precision (decoding.precision)
        [--compare-precisions --local-pairs 200]   # choice verdicts batched in float32 vs bf16: speed, changes
        [--device cuda --random-weights --sequential-pairs 32 --no-shared-prefix]   # on a GPU machine
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)  # a bench script named like a module must not shadow it
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")

from analysis.engine.runner import LLMJudge  # noqa: E402
from analysis.engine.templates import JudgePair, default_template, judge_labels  # noqa: E402
from analysis.engine.verdicts import Vote, aggregate, run_summary  # noqa: E402
from generation.engine.base import SamplingParams  # noqa: E402

LABELS = judge_labels(["correct", "partial", "incorrect"])
ENDPOINT_TARGET = 10.0
LOCAL_TARGET = 5.0


def demo_pairs(n: int, systems: int = 2) -> list[JudgePair]:
    """n pairs from the English demo corpus. Two systems: the gold answer vs another question's answer, sides
    alternating. K systems: each question gets K answers (the gold one, at a rotating position, and the answers
    of the next K - 1 questions) and every pair of them is judged, as a run on a K-system session does: the
    K(K-1)/2 pairs of a question share its passage, question and reference answer."""
    data = json.loads((ROOT / "generation" / "fixtures" / "demo_corpus.json").read_text(encoding="utf-8"))
    pairs: list[JudgePair] = []
    passages = [p for c in data["corpora"] if c["language"] == "en" for p in c["passages"]]
    every = [
        qa["answers"][0]
        for p in passages
        for qa in (p["qas"] if isinstance(p["qas"], list) else ast.literal_eval(p["qas"]))
    ]

    def others(gold: str, k: int) -> list[str]:
        """The k answers after ``gold`` in corpus order (the passage's other question first, then the next
        passages'): wrong answers of the same kind."""
        start = every.index(gold)
        return [every[(start + j) % len(every)] for j in range(1, k + 1)]

    while len(pairs) < n:
        for passage in passages:
            qas = passage["qas"] if isinstance(passage["qas"], list) else ast.literal_eval(passage["qas"])
            for i, qa in enumerate(qas):
                if len(pairs) >= n or len(qas) < 2:
                    break
                gold = qa["answers"][0]
                if systems == 2:
                    other = qas[(i + 1) % len(qas)]["answers"][0]
                    a, b = (gold, other) if len(pairs) % 2 == 0 else (other, gold)
                    pairs.append(JudgePair(len(pairs), qa["question"], a, b, passage["text"], (gold,)))
                    continue
                answers = others(gold, systems - 1)
                answers.insert(i % systems, gold)
                for x in range(systems):
                    for y in range(x + 1, systems):
                        if len(pairs) < n:
                            pairs.append(
                                JudgePair(len(pairs), qa["question"], answers[x], answers[y], passage["text"], (gold,))
                            )
    return pairs


def figures(votes: list[Vote], seconds: float) -> dict[str, object]:
    if not votes:
        return {"assignments": 0, "seconds": 0.0, "verdicts_per_s": None}
    summary = run_summary(aggregate(votes).values())
    return {
        "assignments": len(votes),
        "seconds": round(seconds, 2),
        "verdicts_per_s": round(len(votes) / seconds, 2),
        "unparseable": summary["n_unparseable"],
        "position_flip_rate": summary["position_flip_rate"],
    }


def truth_figures(votes: list[Vote], pairs: list[JudgePair]) -> dict[str, object]:
    """Verdicts against the pairs' constructed truth (``demo_pairs``: the gold answer is correct, the other
    question's answer incorrect, and the gold side should be preferred). Final, order-consistent verdicts."""
    verdicts = aggregate(votes, [p.key for p in pairs])
    truth = {
        p.key: "a" if p.answer_a == p.gold_answers[0] else "b" if p.answer_b == p.gold_answers[0] else "tie"
        for p in pairs
    }
    labels_right = labels_given = prefs_right = prefs_consistent = 0
    for key, v in verdicts.items():
        gold = truth[key]
        for side, label in (("a", v.label_a), ("b", v.label_b)):
            if label is not None:
                labels_given += 1
                labels_right += label == ("correct" if side == gold else "incorrect")
        if v.status == "consistent":
            prefs_consistent += 1
            prefs_right += v.preference == gold
    n = len(pairs)
    return {
        "pairs": n,
        "order_consistent_labels": f"{labels_given}/{2 * n}",
        "label_accuracy_vs_truth": round(labels_right / labels_given, 3) if labels_given else None,
        "consistent_preferences": f"{prefs_consistent}/{n}",
        "preference_right_among_consistent": f"{prefs_right}/{prefs_consistent}",
        "preference_right_of_all_pairs": round(prefs_right / n, 3),
        "first_position_win_share": run_summary(verdicts.values())["first_position_win_share"],
    }


def bench_endpoint(n_pairs: int, latency: float, concurrency: int) -> dict[str, object]:
    """The fake judge runs in a child process, like a real endpoint (client and server must not share a GIL)."""
    import subprocess
    import tempfile

    from generation.engine.openai_client import EndpointConfig, OpenAIEndpointGenerator

    pairs = demo_pairs(n_pairs)
    truth: dict[str, str] = {}
    for pair in pairs:
        other = pair.answer_b if pair.answer_a == pair.gold_answers[0] else pair.answer_a
        truth.setdefault(other, "incorrect")
    truth.update({pair.gold_answers[0]: "correct" for pair in pairs})
    results: dict[str, object] = {}
    with tempfile.NamedTemporaryFile("w", suffix=".json", encoding="utf-8") as truth_file:
        json.dump(truth, truth_file)
        truth_file.flush()
        server = subprocess.Popen(
            [sys.executable, "-m", "tests.support.fake_judge_endpoint", truth_file.name, str(latency)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            base_url = server.stdout.readline().strip()  # type: ignore[union-attr]
            if not base_url.startswith("http://127.0.0.1:"):
                raise SystemExit(f"the fake endpoint did not start (said {base_url!r})")
            for name, workers in (("concurrent", concurrency), ("sequential", 1)):
                config = EndpointConfig(base_url=base_url, model="fake-judge", concurrency=workers, timeout_s=30)
                with OpenAIEndpointGenerator(config) as generator:
                    judge = LLMJudge(generator, default_template("en"), LABELS, chunk_size=256)
                    start, cpu = time.perf_counter(), time.process_time()
                    votes = judge.run(pairs)
                    results[name] = {
                        **figures(votes, time.perf_counter() - start),
                        "client_cpu_s": round(time.process_time() - cpu, 2),
                    }
                print(f"  endpoint {name:10} (concurrency {workers:2}): {results[name]}", flush=True)
            stats, _ = server.communicate("", timeout=30)
            results["server"] = stats.strip()
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()
    results["ratio"] = round(results["concurrent"]["verdicts_per_s"] / results["sequential"]["verdicts_per_s"], 2)  # type: ignore[index]
    return results


def smollm2_dir() -> Path:
    import django

    from qasynth_lib.secret_key import ensure_for_this_process

    ensure_for_this_process(Path(__file__).resolve().parent.parent)

    django.setup()
    from core.services.model_registry import converted_smollm2_dir

    return converted_smollm2_dir(progress=lambda msg: print(f"  convert: {msg}", flush=True))


def load_local(
    model_dir: Path | None, batch_size: int, device: str, random_weights: bool, share_prefix: bool, dtype: str = "auto"
):
    """The local generator: SmolLM2 as converted, or (``random_weights``, for a GPU machine that cannot receive
    the 538 MB of weights) the same architecture built from its config.json with random weights, which gives
    true throughput but unparseable verdicts."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from generation.engine.local import LocalGenerator

    path = model_dir or smollm2_dir()
    start = time.perf_counter()
    if random_weights:
        from decoding.device import resolve_inference_dtype

        weights, _ = resolve_inference_dtype(dtype, torch.device(device))
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(str(path)), dtype=weights).to(device)
        generator = LocalGenerator(model, tokenizer, batch_size=batch_size, share_prefix=share_prefix)
    else:
        generator = LocalGenerator.load(
            path, batch_size=batch_size, device=device, share_prefix=share_prefix, dtype=dtype
        )
    print(f"  loaded {path} in {time.perf_counter() - start:.1f} s ({'random' if random_weights else 'real'} weights)")
    return generator


def bench_local(args: argparse.Namespace) -> dict[str, object]:
    """Batched over all pairs; one at a time over the first ``--sequential-pairs`` (all by default),
    interleaved chunk by chunk so both modes see the same background load. Rates are compared."""
    from analysis.engine.templates import chat_renderer

    generator = load_local(
        args.model_dir, args.batch_size, args.device, args.random_weights, not args.no_shared_prefix, args.dtype
    )
    render = chat_renderer(generator.tokenizer)
    if args.verdict_mode == "choice":
        return bench_choice(args, generator, render)
    params = SamplingParams(max_new_tokens=args.max_new_tokens)
    pairs = demo_pairs(args.local_pairs, args.systems)
    n_sequential = args.local_pairs if args.sequential_pairs is None else args.sequential_pairs
    modes: dict[str, dict] = {"batched": {"votes": [], "seconds": 0.0}, "sequential": {"votes": [], "seconds": 0.0}}
    per_chunk = max(1, args.batch_size // 2)  # pairs per chunk: two orders each, one full batch
    for first in range(0, len(pairs), per_chunk):
        chunk = pairs[first : first + per_chunk]
        for name, size in (("batched", args.batch_size), ("sequential", 1)):
            todo = chunk if name == "batched" else chunk[: max(0, n_sequential - first)]
            if not todo:
                continue
            generator.batch_size = size
            judge = LLMJudge(
                generator, default_template("en"), LABELS, params=params, render=render, chunk_size=4096,
                response_prefix=args.response_prefix,
            )  # fmt: skip
            began = time.perf_counter()
            modes[name]["votes"] += judge.run(todo)
            modes[name]["seconds"] += time.perf_counter() - began
            done = modes[name]["seconds"]
            print(f"  local {name:10} pairs {first + 1}-{first + len(todo)}: {done:.1f} s", flush=True)
    results: dict[str, object] = {name: figures(m["votes"], m["seconds"]) for name, m in modes.items()}
    compared = list(zip(modes["batched"]["votes"], modes["sequential"]["votes"], strict=False))
    same = sum(a.raw == b.raw for a, b in compared)
    results["identical_outputs"] = f"{same}/{len(compared)}"
    sequential_rate = results["sequential"]["verdicts_per_s"]  # type: ignore[index]
    results["ratio"] = round(results["batched"]["verdicts_per_s"] / sequential_rate, 2) if sequential_rate else None  # type: ignore[index]
    results["parsed"] = f"{sum(v.parsed.complete for v in modes['batched']['votes'])}/{len(modes['batched']['votes'])}"
    results["example_outputs"] = [v.raw[:120] for v in modes["batched"]["votes"][:6]]
    results["example_output"] = modes["batched"]["votes"][0].raw[:200]
    results["_votes"] = modes["batched"]["votes"]
    return results


def fields_differing(a, b) -> list[str]:
    """The verdict fields (choice-mode names) on which two parsed verdicts differ."""
    names = {"label_1": "answer_1", "label_2": "answer_2", "preference": "preference"}
    return [field for attr, field in names.items() if getattr(a, attr) != getattr(b, attr)]


def bench_choice(args: argparse.Namespace, generator, render) -> dict[str, object]:
    """Choice mode (likelihood of each option, analysis/engine/choice.py): batched with the shared prefix vs
    one prompt at a time without it, interleaved chunk by chunk; verdicts should be identical."""
    from analysis.engine.choice import margin_summary, read_choice
    from decoding.scoring import ChoiceScorer

    scorers = {
        "batched": ChoiceScorer(generator.model, generator.tokenizer, batch_size=args.batch_size),
        "sequential": ChoiceScorer(generator.model, generator.tokenizer, batch_size=1, share_prefix=False),
    }
    pairs = demo_pairs(args.local_pairs, args.systems)
    n_sequential = args.local_pairs if args.sequential_pairs is None else args.sequential_pairs
    modes: dict[str, dict] = {name: {"votes": [], "seconds": 0.0} for name in scorers}
    per_chunk = max(1, args.batch_size // 2)
    for first in range(0, len(pairs), per_chunk):
        chunk = pairs[first : first + per_chunk]
        for name, scorer in scorers.items():
            todo = chunk if name == "batched" else chunk[: max(0, n_sequential - first)]
            if not todo:
                continue
            judge = LLMJudge(None, default_template("en"), LABELS, render=render, chunk_size=4096, chooser=scorer)
            began = time.perf_counter()
            modes[name]["votes"] += judge.run(todo)
            modes[name]["seconds"] += time.perf_counter() - began
            done = modes[name]["seconds"]
            print(f"  choice {name:10} pairs {first + 1}-{first + len(todo)}: {done:.1f} s", flush=True)
    results: dict[str, object] = {name: figures(m["votes"], m["seconds"]) for name, m in modes.items()}
    compared = list(zip(modes["batched"]["votes"], modes["sequential"]["votes"], strict=False))
    results["identical_verdicts"] = f"{sum(a.parsed == b.parsed for a, b in compared)}/{len(compared)}"
    # Where the two differ (bf16 rounds a batched row and a prompt alone differently): how close the choice was
    # alone, as the smallest margin of the fields that differ. A near tie (< 0.1) is what rounding can flip.
    results["differing_verdicts_margins"] = sorted(
        round(min(read_choice(b.raw)["margin"][f] for f in fields_differing(a.parsed, b.parsed)), 4)
        for a, b in compared
        if a.parsed != b.parsed
    )
    sequential_rate = results["sequential"]["verdicts_per_s"]  # type: ignore[index]
    results["ratio"] = round(results["batched"]["verdicts_per_s"] / sequential_rate, 2) if sequential_rate else None  # type: ignore[index]
    batched = modes["batched"]["votes"]
    results["verdicts"] = f"{sum(v.parsed.complete for v in batched)}/{len(batched)}"
    results["vs_constructed_truth"] = truth_figures(batched, pairs)
    results["margins"] = margin_summary(v.raw for v in batched)
    results["example_outputs"] = [v.raw for v in batched[:2]]
    return results


def bench_precisions(args: argparse.Namespace) -> dict[str, object]:
    """Choice mode batched in float32 and in bf16 on the same pairs: the speed of each and how many verdicts bf16
    changes, with how close each changed choice was in float32 (the smallest margin of the fields that differ)."""
    from analysis.engine.choice import read_choice
    from analysis.engine.templates import chat_renderer
    from decoding.scoring import ChoiceScorer

    pairs = demo_pairs(args.local_pairs, args.systems)
    votes: dict[str, list[Vote]] = {}
    results: dict[str, object] = {}
    for dtype in ("float32", "bfloat16"):
        generator = load_local(args.model_dir, args.batch_size, args.device, args.random_weights, True, dtype)
        scorer = ChoiceScorer(generator.model, generator.tokenizer, batch_size=args.batch_size)
        render = chat_renderer(generator.tokenizer)
        template = default_template("en")
        judge = LLMJudge(None, template, LABELS, render=render, chunk_size=args.batch_size, chooser=scorer)
        began = time.perf_counter()
        votes[dtype] = judge.run(pairs)
        results[dtype] = figures(votes[dtype], time.perf_counter() - began)
        results[dtype]["vs_constructed_truth"] = truth_figures(votes[dtype], pairs)  # type: ignore[index]
    compared = list(zip(votes["float32"], votes["bfloat16"], strict=True))
    results["same_verdicts"] = f"{sum(a.parsed == b.parsed for a, b in compared)}/{len(compared)}"
    results["changed_verdicts_float32_margins"] = sorted(
        round(min(read_choice(a.raw)["margin"][f] for f in fields_differing(a.parsed, b.parsed)), 4)
        for a, b in compared
        if a.parsed != b.parsed
    )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--endpoint-pairs", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--local-pairs", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (the machine is shared)")
    parser.add_argument("--model-dir", type=Path, default=None)
    parser.add_argument("--skip-local", action="store_true")
    parser.add_argument("--skip-endpoint", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="auto", help="fast, auto, float32 or bfloat16 (decoding.precision)")
    parser.add_argument("--random-weights", action="store_true", help="SmolLM2's architecture, random weights")
    parser.add_argument(
        "--compare-precisions", action="store_true", help="choice mode batched in float32 vs bf16 (then exit)"
    )
    parser.add_argument("--sequential-pairs", type=int, default=None, help="one-at-a-time on the first N pairs")
    parser.add_argument("--no-shared-prefix", action="store_true")
    parser.add_argument(
        "--response-prefix", default="", help='prefill the reply, e.g. \'{"answer_1": "\' (what local runs use)'
    )
    parser.add_argument("--verdict-mode", choices=("generate", "choice"), default="generate")
    parser.add_argument(
        "--systems", type=int, default=2, help="K answers per question, every pair judged (choice mode)"
    )
    args = parser.parse_args()
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request would be measured too

    if not args.skip_endpoint:
        print(f"endpoint: {args.endpoint_pairs} pairs x 2 orders, {args.latency * 1000:.0f} ms latency", flush=True)
        endpoint = bench_endpoint(args.endpoint_pairs, args.latency, args.concurrency)
        verdict = "OK" if endpoint["ratio"] >= ENDPOINT_TARGET else "BELOW TARGET"  # type: ignore[operator]
        print(f"endpoint concurrent/sequential: {endpoint['ratio']}x (target >= {ENDPOINT_TARGET:g}x) {verdict}")
    if args.skip_local:
        return
    import torch

    torch.set_num_threads(args.threads)
    if args.compare_precisions:
        print(f"choice batched, float32 vs bfloat16: {args.local_pairs} pairs x 2 orders ({args.systems} systems)")
        print(json.dumps(bench_precisions(args), indent=1, ensure_ascii=False))
        return
    print(
        f"local ({args.verdict_mode}): {args.local_pairs} pairs x 2 orders ({args.systems} systems), "
        f"batch {args.batch_size}, "
        f"{args.max_new_tokens} new tokens (generate only), "
        f"{args.threads} thread(s), {args.device}, dtype {args.dtype}",
        flush=True,
    )
    local = bench_local(args)
    if args.verdict_mode == "generate":
        local["vs_constructed_truth"] = truth_figures(local.pop("_votes"), demo_pairs(args.local_pairs))  # type: ignore[arg-type]
    print(json.dumps(local, indent=1, ensure_ascii=False))
    if local["ratio"] is None:
        return
    verdict = "OK" if local["ratio"] >= LOCAL_TARGET else "BELOW TARGET"  # type: ignore[operator]
    print(f"local batched/one-at-a-time: {local['ratio']}x (target >= {LOCAL_TARGET:g}x) {verdict}")


if __name__ == "__main__":
    main()
