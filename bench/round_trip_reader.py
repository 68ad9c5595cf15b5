"""Benchmark: a trained reader for the round-trip check, against the generator reading its own questions.

The round trip asks a QA model the generated question and keeps the pair when its answer matches. By
default the reader is the generator itself (Gemma 3 270M, a base model, with the QA prompt): on JSQuAD's
own human pairs it supports few of them (README, "Round trip"). A run may instead choose a reader, such as
the LoRA adapter of a training run (training: "Use as round-trip reader"). This script measures one:

    # 1. train a LoRA reader on human pairs of JSQuAD train-split articles, leaving out every passage the
    #    yield bench samples (--seeds), so the reader never saw the passages it is measured on
    .venv/bin/python bench/round_trip_reader.py train --steps 120 --batch-size 4 --out var/readers/gemma-jsquad
    # 2. both readers on the sampled passages' human pairs: gold pairs supported (recall) and mismatched
    #    pairs (a question with another question's answer) supported (false support)
    .venv/bin/python bench/round_trip_reader.py calibrate --adapter var/readers/gemma-jsquad/adapter --seed 1
    # 3. the adapter reader on the accepted pairs a yield-bench run stored (with the generator's verdicts)
    .venv/bin/python bench/round_trip_reader.py rejudge --results var/bench/answerg-s1.json \
        --adapter var/readers/gemma-jsquad/adapter
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")

from bench.synthesis_yield import JSQUAD, jsquad_corpus, model_dir  # noqa: E402


def training_pairs(path: Path, seeds: list[int], n: int) -> tuple[list[dict[str, str]], int]:
    """Human pairs of train-split passages that none of the bench's samples (seeds x n passages) draws."""
    corpus = jsquad_corpus(path, n, seeds[0])
    held = {p["id"] for seed in seeds for p in jsquad_corpus(path, n, seed).targets}
    examples = [
        {"context": p["text"], "question": q, "answer": a}
        for p in corpus.passages
        if p["split"] == "train" and p["id"] not in held
        for q, a in p["pairs"]
    ]
    return examples, len(held)


def train(args: argparse.Namespace) -> None:
    from training.engine.trainer import TrainConfig
    from training.engine.trainer import train as run_training

    base = model_dir("ja")
    examples, held = training_pairs(args.jsquad, args.seeds, args.passages)
    print(f"{len(examples)} human pairs from train-split passages ({held} sampled passages left out)", flush=True)
    config = TrainConfig(
        base_model=str(base),
        output_dir=str(args.out),
        language="ja",
        max_steps=args.steps,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        max_seq_length=384,
        checkpoint_every=25,
        seed=13,
    )
    began = time.perf_counter()

    def progress(p: Any) -> None:
        print(f"  step {p.step}/{p.total_steps} loss {p.loss:.3f} ({time.perf_counter() - began:.0f} s)", flush=True)

    result = run_training(config, examples, progress=progress, log=lambda m: print(f"  {m}", flush=True))
    print(json.dumps({"status": result.status, "seconds": round(time.perf_counter() - began, 1)}), flush=True)


def calibrate(args: argparse.Namespace) -> None:
    """Each reader on the human pairs of the sampled passages (the yield bench's --seed sample)."""
    from decoding.loading import load_causal_lm
    from generation import round_trip as rt
    from generation.answer_extraction import candidates
    from generation.engine.local import LocalGenerator
    from generation.prompts import default_template, render_qa_prompt
    from training.engine.predict import training_template

    base = model_dir("ja")
    corpus = jsquad_corpus(args.jsquad, args.passages, args.seed)
    template = default_template("ja", 1)
    readers = [("generator", None)] + [("adapter", str(a)) for a in args.adapter]
    out: dict[str, Any] = {"seed": args.seed, "passages": len(corpus.targets)}
    for name, adapter in readers:
        model, tokenizer = load_causal_lm(str(base), adapter_dir=adapter, merge=True)
        generator = LocalGenerator(model, tokenizer, batch_size=8)
        fmt = None
        if adapter is not None:
            trained = training_template(adapter)
            assert trained is not None, f"{adapter} was not trained by this project's engine"
            fmt = rt.ReaderPrompt(trained.prompt, trained.answer_prefix, tokenizer.eos_token or "\n")
        gold, wrong = [], []
        for p in corpus.targets:
            answers = [a for _, a in p["pairs"]]
            spans = [c.text for c in sorted(candidates(p["text"], "ja"), key=lambda c: -c.score)][:30]
            for q, a in p["pairs"][: args.pairs_per_passage]:
                prompt = (
                    fmt.render(p["text"], q)
                    if fmt
                    else render_qa_prompt(template, p["text"], q, tokenizer=tokenizer, mode="plain")
                )
                gold.append(rt.ExtractiveItem(prompt, a, spans + answers))
                other = next((x for x in answers if rt.match_score(x, a, character_level=True) < 0.5), None)
                if other is not None:
                    wrong.append(rt.ExtractiveItem(prompt, other, spans + answers))
        began = time.perf_counter()
        for kind, items in (("gold", gold), ("mismatched", wrong)):
            verdicts = rt.check_extractive(
                items, generator.score, character_level=True, end=tokenizer.eos_token or "\n", reader=fmt
            )
            out[f"{name}_{kind}"] = f"{sum(v.supported for v in verdicts)} of {len(items)}"
        out[f"{name}_s"] = round(time.perf_counter() - began, 1)
        print(json.dumps(out, ensure_ascii=False), flush=True)


def rejudge(args: argparse.Namespace) -> None:
    """The adapter reader on the accepted pairs a yield-bench run stored (its generator-reader verdicts are
    stored beside them): the same pairs, two readers."""
    from decoding.loading import load_causal_lm
    from generation import round_trip as rt
    from generation.engine.local import LocalGenerator
    from generation.synthesis import passage_spans
    from training.engine.predict import training_template

    stored = json.loads(args.results.read_text())
    key = args.key or next(k for k in stored if k.startswith("ja:") and "state" in stored[k])
    state = stored[key]["state"]
    seed = int(key.rsplit("seed", 1)[1].split(":")[0])
    texts = {p["id"]: p["text"] for p in jsquad_corpus(args.jsquad, args.passages, seed).targets}
    model, tokenizer = load_causal_lm(str(model_dir("ja")), adapter_dir=str(args.adapter), merge=True)
    scorer = LocalGenerator(model, tokenizer, batch_size=8)
    trained = training_template(args.adapter)
    assert trained is not None, f"{args.adapter} was not trained by this project's engine"
    fmt = rt.ReaderPrompt(trained.prompt, trained.answer_prefix, tokenizer.eos_token or "\n")
    items, before = [], []
    for row in state["passages"]:
        accepted = [p for p in row["pairs"] if not p["reasons"] or p["reasons"] == ["round_trip"]]
        text = texts[row["id"]]
        spans = passage_spans(text, "ja", [p["answer"] for p in accepted])
        for pair in accepted:
            items.append(rt.ExtractiveItem(fmt.render(text, pair["question"]), pair["answer"], spans))
            before.append(pair)
    began = time.perf_counter()
    verdicts = rt.check_extractive(items, scorer.score, character_level=True, end=fmt.end, reader=fmt)
    took = time.perf_counter() - began
    both = sum(1 for p, v in zip(before, verdicts, strict=True) if v.supported and p["round_trip"][2])
    for pair, v in zip(before, verdicts, strict=True):
        generator = "+" if pair["round_trip"] and pair["round_trip"][2] else "-"
        print(f"  {generator}{'+' if v.supported else '-'} {pair['question']} -> {pair['answer']} <- {v.model_answer}")
    summary = {
        "key": key,
        "accepted_pairs": len(items),
        "generator_supported": sum(1 for p in before if p["round_trip"] and p["round_trip"][2]),
        "adapter_supported": sum(v.supported for v in verdicts),
        "both": both,
        "adapter_s": round(took, 1),
    }
    print(json.dumps(summary, ensure_ascii=False), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("train", "calibrate", "rejudge"):
        p = sub.add_parser(command)
        p.add_argument("--jsquad", type=Path, default=JSQUAD)
        p.add_argument("--passages", type=int, default=60, help="passages per yield-bench sample")
        p.add_argument("--threads", type=int, default=2)
    t = sub.choices["train"]
    t.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 3])
    t.add_argument("--steps", type=int, default=120)
    t.add_argument("--batch-size", type=int, default=4)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument(
        "--out", type=Path, default=ROOT / "var" / "readers" / "gemma-jsquad", help="the adapter lands in OUT/adapter"
    )
    c = sub.choices["calibrate"]
    c.add_argument("--adapter", type=Path, action="append", default=[])
    c.add_argument("--seed", type=int, default=1)
    c.add_argument("--pairs-per-passage", type=int, default=2)
    r = sub.choices["rejudge"]
    r.add_argument("--results", type=Path, required=True, help="a bench/synthesis_yield.py --out file")
    r.add_argument("--key", default="", help="which run in it (default: the first Japanese one)")
    r.add_argument("--adapter", type=Path, required=True)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    {"train": train, "calibrate": calibrate, "rejudge": rejudge}[args.command](args)


if __name__ == "__main__":
    main()
