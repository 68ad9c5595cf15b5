"""Benchmark: yield of QA synthesis per setting, on real offline models, with the paper's method first.

For each setting it reports passages with >= 1 accepted pair, accepted pairs per passage, the share of
outputs that copy the one-shot example, the rejection reasons, the share of accepted pairs whose answer a
round-trip check supports (the model answers the generated question from the passage; measured for every
setting, enforced only where the setting filters on it) and wall time per accepted pair.

- Japanese: Gemma 3 270M (base model, plain completion prompts) on JSQuAD validation passages
  (/work/shared/data/jsquad-valid-v1.3.json, or --jsquad PATH) from articles in the *train* split of the
  project's documented split (seed 13, half the articles held out for evaluation). Exemplars come from
  the human pairs of other train-split articles, never from the held-out articles.
- English: SmolLM2-135M-Instruct (chat template) on the demo corpus's train passages; exemplars from the
  demo corpus's other train passages.

Models are converted once from their GGUF packages by the model registry (QASYNTH_DATA_DIR/models).
Results are written to --out after every chunk of passages, and a rerun continues where it stopped
(same settings and sample); --fresh starts over.

    .venv/bin/python bench/synthesis_yield.py [--language ja|en|both] [--passages 16] [--chunk 8]
        [--settings paper,rotate,...] [--out var/bench/synthesis_yield.json] [--threads 2]
        [--reader extractive|generative]     # the round-trip reader (local runs use extractive)
        [--precision auto|fast|float32|bfloat16]   # as a run's precision; results keyed apart unless auto
    .venv/bin/python bench/synthesis_yield.py --calibrate --language ja --passages 8
        # the readers on human pairs: how many gold pairs each supports, and how many mismatched ones
    .venv/bin/python bench/synthesis_yield.py --table [--rejudge] --language ja --passages 60
        # the table of what --out holds (runs still going included); --rejudge re-applies today's copy check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")

JSQUAD = Path("/work/shared/data/jsquad-valid-v1.3.json")
JSQUAD_SPLIT_SEED, JSQUAD_TEST_FRACTION = 13, 0.5  # README: import_passages ... --split-seed 13 --test-fraction 0.5


@dataclass(frozen=True)
class Setting:
    key: str
    label: str
    options: dict[str, Any]
    temperature: float = 0.0
    top_p: float = 1.0
    # A row computed from another setting's outputs: with greedy decoding, enforcing the round-trip filter
    # changes nothing before the filter, so "X + round trip" is X's pairs with the measured round-trip
    # verdicts enforced, and X's generation time plus its round-trip time. Saves a second model run.
    derived_from: str = ""
    shots: int = 1  # 0: the zero-shot template (no example passage, so nothing to copy)
    excerpt: bool = False  # rotated exemplars show only their answers' sentences (exemplars.answer_sentences)
    exemplar_pairs: int = 0  # pairs a rotated exemplar shows (0: N, as runs do)


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("paper", "paper: one-shot, fixed example, N pairs per prompt, greedy", {}),
        Setting("paper+rt", "paper + round trip", {"round_trip": True}, derived_from="paper"),
        Setting("rotate", "+ exemplar rotation", {"rotate_exemplars": True}),
        Setting(
            "rotate+rt",
            "+ exemplar rotation + round trip",
            {"rotate_exemplars": True, "round_trip": True},
            derived_from="rotate",
        ),  # fmt: skip
        Setting("answer", "answer-aware + rotation", {"rotate_exemplars": True, "answer_aware": True}),
        Setting("answer0", "answer-aware, zero-shot (no example)", {"answer_aware": True}, shots=0),
        Setting(
            "answerg",
            "answer-aware + rotation + copy guard",
            {"rotate_exemplars": True, "answer_aware": True, "copy_guard": True},
        ),
        Setting(
            "answerg-k2",
            "answer-aware (2N answers) + rotation + copy guard, first N accepted",
            {"rotate_exemplars": True, "answer_aware": True, "copy_guard": True, "samples": 2},
        ),
        Setting(
            "answerx",
            "answer-aware + rotation, exemplars cut to their answers' sentences",
            {"rotate_exemplars": True, "answer_aware": True},
            excerpt=True,
        ),
        Setting(
            "answer1",
            "answer-aware + rotation, exemplars with one pair",
            {"rotate_exemplars": True, "answer_aware": True},
            exemplar_pairs=1,
        ),
        Setting(
            "answer5",
            "answer-aware + rotation, exemplars with up to five pairs",
            {"rotate_exemplars": True, "answer_aware": True},
            exemplar_pairs=5,
        ),
        Setting(
            "answer+rt",
            "answer-aware + rotation + round trip",
            {"rotate_exemplars": True, "answer_aware": True, "round_trip": True},
            derived_from="answer",
        ),
        Setting(
            "answer-k2-rt",
            "answer-aware (2N answers) + rotation + round trip, best N",
            {"rotate_exemplars": True, "answer_aware": True, "samples": 2, "round_trip": True},
        ),
        Setting(
            "rotate-k3-rt",
            "rotation, k=3 samples (T=0.7, top-p 0.9) + round trip, best N",
            {"rotate_exemplars": True, "samples": 3, "round_trip": True},
            0.7,
            0.9,
        ),
    )
}


@dataclass
class Corpus:
    language: str
    passages: list[dict[str, Any]]  # {id, text, title, split, pairs}
    targets: list[dict[str, Any]] = field(default_factory=list)


def jsquad_corpus(path: Path, n: int, seed: int) -> Corpus:
    from generation.importers.readers import read_squad
    from generation.importers.splits import SplitSpec, group_key, split_groups

    records = list(read_squad(path))
    sizes = Counter(group_key(r) for r in records)
    spec = SplitSpec(train=1 - JSQUAD_TEST_FRACTION, validation=0.0, test=JSQUAD_TEST_FRACTION, seed=JSQUAD_SPLIT_SEED)
    assignment = split_groups(sizes, spec)
    passages = [
        {
            "id": i + 1,
            "text": r.text,
            "title": r.title,
            "split": assignment[group_key(r)],
            "pairs": [(q.question, q.answers[0]) for q in r.qas if q.answers],
        }
        for i, r in enumerate(records)
    ]
    train = [p for p in passages if p["split"] == "train"]
    targets = random.Random(seed).sample(train, min(n, len(train)))
    return Corpus("ja", passages, sorted(targets, key=lambda p: p["id"]))


def demo_corpus(language: str, n: int) -> Corpus:
    data = json.loads((ROOT / "generation" / "fixtures" / "demo_corpus.json").read_text(encoding="utf-8"))
    corpus = next(c for c in data["corpora"] if c["language"] == language)
    passages = [
        {
            "id": i + 1,
            "text": p["text"],
            "title": p.get("title", ""),
            "split": p.get("split", ""),
            "pairs": [(q["question"], q["answers"][0]) for q in p.get("qas", []) if q.get("answers")],
        }
        for i, p in enumerate(corpus["passages"])
    ]
    train = [p for p in passages if p["split"] == "train"]
    return Corpus(language, passages, train[:n])


def model_dir(language: str) -> Path:
    import django

    from qasynth_lib.secret_key import ensure_for_this_process

    ensure_for_this_process(Path(__file__).resolve().parent.parent)

    django.setup()
    from core.services import model_registry as registry

    if language == "en":
        return registry.converted_smollm2_dir(progress=lambda m: print(f"  convert: {m}", flush=True))
    out = registry.models_dir() / "converted" / registry.GEMMA_NAME
    if not (out / "config.json").exists():
        gguf = registry.gemma_gguf_target()
        if not gguf.exists():
            gguf = registry.assemble_gemma(gguf)
        registry.convert_gguf(gguf, out, progress=lambda m: print(f"  convert: {m}", flush=True))
    return out


# Generation settings per language: the experiment presets' (ja-gemma: repetition penalty 1.3, 56 new
# tokens per pair; small-en: 48 per pair), so the paper row is what a preset run does today.
LANGUAGE_SETTINGS = {
    "ja": {"prompt_mode": "plain", "repetition_penalty": 1.3, "per_pair": 56},
    "en": {"prompt_mode": "auto", "repetition_penalty": 1.0, "per_pair": 48},
}


def run_setting(
    setting: Setting,
    corpus: Corpus,
    generator: Any,
    tokenizer: Any,
    *,
    n_pairs: int,
    chunk: int,
    state: dict[str, Any],
    save: Any,
    extractive: bool = True,
    measure_round_trip: bool = True,
) -> dict[str, Any]:
    from generation import synthesis
    from generation.engine.base import SamplingParams
    from generation.exemplars import Exemplar, build_pool
    from generation.prompts import default_template, render_prompt
    from generation.validation import ValidationConfig

    lang = LANGUAGE_SETTINGS[corpus.language]
    template = default_template(corpus.language, setting.shots)
    template = type(template).from_dict({**template.to_dict(), "pairs_per_passage": n_pairs})
    options = synthesis.SynthesisOptions.from_dict(setting.options)
    config = ValidationConfig.for_language(corpus.language)
    pool = build_pool(
        Exemplar(template.example_passage, template.example_pairs),
        [
            {"passage_id": p["id"], "passage": p["text"], "title": p["title"], "split": p["split"], "pairs": p["pairs"]}
            for p in corpus.passages
        ],
        pairs_per_exemplar=setting.exemplar_pairs or n_pairs,
        excerpt=setting.excerpt,
    )
    mode = lang["prompt_mode"]
    renderer = synthesis.Renderer(
        lambda t, p: render_prompt(t, p.text, title=p.title, tokenizer=tokenizer, mode=mode),
        tokenizer=tokenizer,
        mode=mode,
    )
    tokens_per_prompt = 16 + lang["per_pair"] * n_pairs if not options.answer_aware else 48

    def generate(prompts, params):
        return generator.generate([p.text for p in prompts], params, guards=[p.guard for p in prompts])

    done: list[dict[str, Any]] = state.setdefault("passages", [])
    state.setdefault("generation_s", 0.0)
    state.setdefault("round_trip_s", 0.0)
    seen = {row["id"] for row in done}
    todo = [p for p in corpus.targets if p["id"] not in seen]
    for start in range(0, len(todo), chunk):
        batch = todo[start : start + chunk]
        inputs = []
        for p in batch:
            exemplar = pool.draw(p["id"], p["text"], p["title"]) if options.rotate_exemplars else None
            inputs.append(synthesis.PassageInput(p["id"], p["text"], p["title"], exemplar))
        params = SamplingParams(
            max_new_tokens=tokens_per_prompt,
            temperature=setting.temperature,
            top_p=setting.top_p,
            seed=batch[0]["id"],
            repetition_penalty=lang["repetition_penalty"],
        )
        began = time.perf_counter()
        score = generator.score if extractive else None
        results = synthesis.synthesize(inputs, template, options, config, renderer, generate, params, score=score)
        state["generation_s"] += time.perf_counter() - began
        if not options.round_trip and measure_round_trip:  # measured, not enforced: not this setting's time
            began = time.perf_counter()
            synthesis.check_round_trip(
                results, renderer, generate, config, threshold=options.round_trip_threshold, enforce=False, score=score
            )
            state["round_trip_s"] += time.perf_counter() - began
        for r in results:
            done.append(
                {
                    "id": r.passage.key,
                    "exemplar": (r.exemplar.source if r.passage.exemplar else "template") if r.exemplar else "",
                    "outputs": len(r.samples),
                    "copies_exemplar": r.copies_exemplar,
                    "samples": [s.output.text if s.output else "" for s in r.samples],
                    "pairs": [
                        {
                            "question": p.question,
                            "answer": p.answer,
                            "reasons": [str(x) for x in p.reasons],
                            "round_trip": (p.round_trip.model_answer, p.round_trip.score, p.round_trip.supported)
                            if p.round_trip
                            else None,
                        }
                        for p in r.pairs
                    ],
                }
            )
        save()
        print(
            f"  {setting.key}: {len(done)}/{len(corpus.targets)} passages ({state['generation_s']:.0f} s)", flush=True
        )
    return summarise(state)


def calibrate(
    corpus: Corpus, generator: Any, tokenizer: Any, *, pairs_per_passage: int = 2, progress: Any = None
) -> dict[str, Any]:
    """How well the round-trip reader itself does, on human pairs of the sampled passages: the share of gold
    pairs it supports (its recall: a perfect reader supports all), and the share of mismatched pairs (a
    question with the answer of another question about the same passage) it supports (false support). Both
    readers are measured: extractive (the span the model scores highest) and generative (its own line)."""
    from generation import round_trip as rt
    from generation.answer_extraction import candidates
    from generation.prompts import default_template, render_qa_prompt

    template = default_template(corpus.language, 1)
    level = corpus.language == "ja"
    mode = LANGUAGE_SETTINGS[corpus.language]["prompt_mode"]
    gold, wrong = [], []
    for p in corpus.targets:
        answers = [a for _, a in p["pairs"]]
        spans = [c.text for c in sorted(candidates(p["text"], corpus.language), key=lambda c: -c.score)][:30]
        for q, a in p["pairs"][:pairs_per_passage]:
            prompt = render_qa_prompt(template, p["text"], q, tokenizer=tokenizer, mode=mode)
            gold.append(rt.ExtractiveItem(prompt, a, spans + answers))
            other = next((x for x in answers if rt.match_score(x, a, character_level=level) < 0.5), None)
            if other is not None:
                wrong.append(rt.ExtractiveItem(prompt, other, spans + answers))
    out: dict[str, Any] = {"gold_pairs": len(gold), "mismatched_pairs": len(wrong)}

    def generate(prompts, params):
        return generator.generate([x.text for x in prompts], params)

    for name, items in (("gold", gold), ("mismatched", wrong)):  # the written answers first: they are cheap
        began = time.perf_counter()
        verdicts = rt.check([(i.prompt, i.answer) for i in items], generate, character_level=level)
        out[f"generative_{name}_supported"] = sum(v.supported for v in verdicts)
        out["generative_s"] = out.get("generative_s", 0) + time.perf_counter() - began
        for item, v in zip(items, verdicts, strict=True):
            print(f"  generative {name}: {item.answer!r} <- {v.model_answer!r} ({v.score})", flush=True)
    for name in ("gold", "mismatched"):
        out[f"extractive_{name}_checked"] = out[f"extractive_{name}_supported"] = 0
    # extractive, one item at a time and gold/mismatched interleaved, so a stopped run still says something
    for k in range(max(len(gold), len(wrong))):
        for name, items in (("gold", gold), ("mismatched", wrong)):
            if k >= len(items):
                continue
            began = time.perf_counter()
            [v] = rt.check_extractive([items[k]], generator.score, character_level=level)
            out["extractive_s"] = out.get("extractive_s", 0) + time.perf_counter() - began
            out[f"extractive_{name}_checked"] += 1
            out[f"extractive_{name}_supported"] += v.supported
            print(f"  extractive {name}: {items[k].answer!r} <- {v.model_answer!r} ({v.score})", flush=True)
        if progress is not None:
            progress(out)
    return out


def _enforced(pair: dict[str, Any]) -> list[str]:
    """A measured pair's reasons with the round-trip verdict enforced (for derived rows)."""
    verdict = pair["round_trip"]
    if not pair["reasons"] and verdict is not None and not verdict[2]:
        return ["round_trip"]
    return pair["reasons"]


def summarise(state: dict[str, Any], *, enforce_round_trip: bool = False) -> dict[str, Any]:
    rows = state.get("passages", [])
    if enforce_round_trip:
        rows = [{**r, "pairs": [{**p, "reasons": _enforced(p)} for p in r["pairs"]]} for r in rows]
    accepted = [p for r in rows for p in r["pairs"] if not p["reasons"]]
    reasons = Counter(p["reasons"][0] for r in rows for p in r["pairs"] if p["reasons"])
    checked = [p for p in accepted if p["round_trip"] is not None]
    supported = sum(1 for p in checked if p["round_trip"][2])
    outputs = sum(1 for r in rows if r["outputs"])
    generation_s = state.get("generation_s", 0.0)
    if enforce_round_trip:
        generation_s += state.get("round_trip_s", 0.0)
    return {
        "passages": len(rows),
        "passages_with_pair": sum(1 for r in rows if any(not p["reasons"] for p in r["pairs"])),
        "accepted": len(accepted),
        "candidates": sum(len(r["pairs"]) for r in rows),
        "outputs_copying_exemplar": sum(1 for r in rows if r["copies_exemplar"]),
        "outputs": outputs,
        "round_trip_checked": len(checked),
        "round_trip_supported": supported,
        "reasons": dict(reasons.most_common()),
        "generation_s": round(generation_s, 1),
        "round_trip_measure_s": round(state.get("round_trip_s", 0.0), 1),
        "s_per_accepted_pair": round(generation_s / len(accepted), 2) if accepted else None,
    }


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


def entry_summary(key: str, entry: dict[str, Any], results: dict[str, Any]) -> dict[str, Any] | None:
    """The summary of a (possibly still running) setting from its stored state; derived rows from their
    source's state with the round trip enforced."""
    setting = SETTINGS.get(entry.get("setting", ""))
    if entry.get("state"):
        return summarise(entry["state"])
    if setting and setting.derived_from:
        source = results.get(key.replace(f":{setting.key}:", f":{setting.derived_from}:", 1))
        if source and source.get("state"):
            return summarise(source["state"], enforce_round_trip=True)
    return entry.get("summary")


def rejudge_copies(results: dict[str, Any], corpus: Corpus, n_pairs: int) -> int:
    """Re-apply the current exemplar-copy check to stored pairs (outputs generated under an older check):
    the exemplar each passage was shown is drawn again (the draw is seeded). Returns the pairs changed.
    A pair no longer counted a copy is accepted if it had no other reason (its round trip was not run)."""
    from generation.exemplars import Exemplar, build_pool
    from generation.prompts import default_template
    from generation.validation import ValidationConfig, exemplar_copy

    template = default_template(corpus.language, 1)
    config = ValidationConfig.for_language(corpus.language)
    pool = build_pool(
        Exemplar(template.example_passage, template.example_pairs),
        [
            {"passage_id": p["id"], "passage": p["text"], "title": p["title"], "split": p["split"], "pairs": p["pairs"]}
            for p in corpus.passages
        ],
        pairs_per_exemplar=n_pairs,
    )
    by_id = {p["id"]: p for p in corpus.passages}
    changed = 0
    for key, entry in results.items():
        if not key.startswith(f"{corpus.language}:") or not entry.get("state"):
            continue
        for row in entry["state"]["passages"]:
            passage = by_id[row["id"]]
            if row["exemplar"] == "template" or not row["exemplar"]:
                shown = Exemplar(template.example_passage, template.example_pairs)
            else:
                shown = pool.draw(passage["id"], passage["text"], passage["title"])
                assert shown is not None and shown.source == row["exemplar"], "the exemplar draw changed"
            for pair in row["pairs"]:
                copy = exemplar_copy(
                    pair["question"], pair["answer"], passage["text"], shown.passage, shown.pairs, config
                )
                had = "exemplar_copy" in pair["reasons"]
                if copy != had:
                    changed += 1
                    pair["reasons"] = (
                        (["exemplar_copy"] + pair["reasons"])
                        if copy
                        else [r for r in pair["reasons"] if r != "exemplar_copy"]
                    )
            row["copies_exemplar"] = any("exemplar_copy" in p["reasons"] for p in row["pairs"])
    return changed


def print_table(results: dict[str, Any]) -> None:
    print(
        "| language / model | setting | passages | with >= 1 pair | pairs/passage | exemplar copies | "
        "round-trip supported | s per accepted pair |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for key, entry in results.items():
        if "language" not in entry:
            continue
        s = entry_summary(key, entry, results)
        if not s or not s["passages"]:
            continue
        print(
            f"| {entry['language']} / {entry['model']} | {entry['label']} | {s['passages']} | "
            f"{pct(s['passages_with_pair'], s['passages'])} | {s['accepted'] / s['passages']:.2f} | "
            f"{pct(s['outputs_copying_exemplar'], s['outputs'])} | "
            f"{pct(s['round_trip_supported'], s['round_trip_checked'])} ({s['round_trip_checked']}) | "
            f"{s['s_per_accepted_pair'] if s['s_per_accepted_pair'] is not None else '-'} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", choices=["ja", "en", "both"], default="both")
    parser.add_argument("--passages", type=int, default=16)
    parser.add_argument("--chunk", type=int, default=8, help="passages per generate call (and per save)")
    parser.add_argument("--batch-size", type=int, default=24, help="prompts per model batch")
    parser.add_argument("--n", type=int, default=3, help="pairs per passage")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--seed", type=int, default=0, help="which train passages are sampled (ja)")
    parser.add_argument("--jsquad", type=Path, default=JSQUAD)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "synthesis_yield.json")
    parser.add_argument("--threads", type=int, default=1, help="1 is faster on a shared machine")
    parser.add_argument(
        "--reader",
        choices=["extractive", "generative"],
        default="extractive",
        help="round-trip reader: the passage span the model scores highest (runs' default for local models), "
        "or the model's own one-line answer",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="measure the round-trip readers on the sampled passages' human pairs instead of generating",
    )
    parser.add_argument(
        "--rejudge", action="store_true", help="with --table: also re-apply today's exemplar-copy check (ja)"
    )
    parser.add_argument(
        "--skip-round-trip-measure",
        action="store_true",
        help="settings without the filter do not measure round-trip support (faster: yield and copies only)",
    )
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument(
        "--precision", default="auto", help="the models' compute precision, as a run's (decoding.precision)"
    )
    parser.add_argument("--table", action="store_true", help="only print the table of what --out holds")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    if args.out.exists() and not args.fresh:
        results = json.loads(args.out.read_text())
    if args.table:
        print_table(results)
        if args.rejudge and args.jsquad.exists():
            corpus = jsquad_corpus(args.jsquad, args.passages, args.seed)
            changed = rejudge_copies(results, corpus, args.n)
            print(f"\nexemplar copies re-judged with the current check: {changed} pairs changed")
            print_table(results)
        return
    import torch

    torch.set_num_threads(args.threads)
    args.out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        tmp = args.out.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, ensure_ascii=False, indent=1))
        tmp.replace(args.out)

    languages = ["ja", "en"] if args.language == "both" else [args.language]
    for language in languages:
        if language == "ja":
            if not args.jsquad.exists():
                print(f"skipping Japanese: {args.jsquad} is not there", flush=True)
                continue
            corpus = jsquad_corpus(args.jsquad, args.passages, args.seed)
            model_name = "Gemma 3 270M"
        else:
            corpus = demo_corpus("en", args.passages)
            model_name = "SmolLM2-135M-Instruct"
        from generation.engine.local import LocalGenerator

        print(f"{language}: loading {model_name}", flush=True)
        generator = LocalGenerator.load(model_dir(language), batch_size=args.batch_size, dtype=args.precision)
        print(f"{language}: computing in {next(generator.model.parameters()).dtype}", flush=True)
        tokenizer = generator.tokenizer
        if args.calibrate:

            def keep(
                found: dict[str, Any], key: str = f"{language}:calibrate:n{args.passages}:seed{args.seed}"
            ) -> None:
                results[key] = dict(found)
                save()

            found = calibrate(corpus, generator, tokenizer, progress=keep)
            keep(found)
            print(json.dumps(found), flush=True)
            continue
        for key in args.settings.split(","):
            setting = SETTINGS[key]
            suffix = "" if args.reader == "extractive" else ":generative"
            suffix += "" if args.precision == "auto" else f":{args.precision}"
            result_key = f"{language}:{key}:n{args.passages}:N{args.n}:seed{args.seed}{suffix}"
            entry = results.setdefault(
                result_key,
                {
                    "language": language,
                    "model": model_name,
                    "setting": key,
                    "label": setting.label + ("" if args.precision == "auto" else f" [{args.precision}]"),
                },
            )
            if setting.derived_from:
                source = results.get(
                    f"{language}:{setting.derived_from}:n{args.passages}:N{args.n}:seed{args.seed}{suffix}"
                )
                if source and source.get("state"):
                    entry["summary"] = summarise(source["state"], enforce_round_trip=True)
                    save()
                continue
            state = entry.setdefault("state", {})
            if entry.get("summary", {}).get("passages") == len(corpus.targets):
                print(f"{result_key}: cached", flush=True)
                continue
            print(f"{result_key}: {setting.label}", flush=True)
            entry["summary"] = run_setting(
                setting,
                corpus,
                generator,
                tokenizer,
                n_pairs=args.n,
                chunk=args.chunk,
                state=state,
                save=save,
                extractive=args.reader == "extractive",
                measure_round_trip=not args.skip_round_trip_measure,
            )
            save()
    print_table(results)


if __name__ == "__main__":
    main()
