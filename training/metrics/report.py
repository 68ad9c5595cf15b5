"""Score a run's answers against gold answers: per-item scores, aggregates with CIs, and run-vs-run tests.

Per-item results keep BLEU's n-gram statistics, so a paired test between two stored runs can re-aggregate
corpus BLEU on resamples without the predictions being re-tokenised.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from training.metrics.bertscore import BertScorer
from training.metrics.bleu import corpus_bleu, score_from_stats
from training.metrics.bootstrap import (
    Aggregate,
    PairedBootstrapResult,
    bootstrap_ci,
    mean_aggregate,
    paired_bootstrap,
    percent_mean_aggregate,
)
from training.metrics.squad import best_exact_match, best_token_f1

# name -> scale of the aggregate. EM/F1 are reported in percent as the SQuAD script does, BLEU as sacrebleu
# does (0-100), BERTScore as bert-score does (0-1).
METRICS: dict[str, str] = {
    "exact_match": "0-100",
    "f1": "0-100",
    "bleu": "0-100",
    "bertscore_precision": "0-1",
    "bertscore_recall": "0-1",
    "bertscore_f1": "0-1",
}


@dataclass(frozen=True)
class ItemScores:
    exact_match: float  # 0 or 1
    f1: float  # 0-1
    bleu: float  # sentence BLEU (effective order), 0-100
    bleu_stats: list[int]  # sacrebleu sufficient statistics for this item
    bertscore_precision: float | None = None
    bertscore_recall: float | None = None
    bertscore_f1: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MetricSummary:
    value: float
    ci_low: float
    ci_high: float
    scale: str


@dataclass
class EvaluationScores:
    items: list[ItemScores]
    summary: dict[str, MetricSummary]
    info: dict[str, Any] = field(default_factory=dict)


def _aggregate_for(name: str, tokenize: str) -> Aggregate:
    if name in ("exact_match", "f1"):
        return percent_mean_aggregate
    if name == "bleu":
        return lambda sums, _n: score_from_stats(sums, tokenize)
    return mean_aggregate


def _stats_for(name: str, items: Sequence[ItemScores]) -> np.ndarray:
    if name == "bleu":
        return np.asarray([it.bleu_stats for it in items], dtype=np.float64)
    values = [getattr(it, name) for it in items]
    if any(v is None for v in values):
        raise ValueError(f"metric {name} is missing for some items")
    return np.asarray(values, dtype=np.float64)


def score_answers(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    language: str = "en",
    bertscorer: BertScorer | None = None,
    bleu_tokenize: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> EvaluationScores:
    """Score predictions against one or more gold answers per item (BERTScore only if a scorer is given)."""
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    refs = [[g for g in golds if g is not None] for golds in references]
    for i, golds in enumerate(refs):
        if not golds:
            raise ValueError(f"item {i + 1} has no gold answer")
    bleu = corpus_bleu(predictions, refs, language=language, tokenize=bleu_tokenize)
    bert = bertscorer.score(predictions, refs) if bertscorer is not None else None
    items = []
    for i, (pred, golds) in enumerate(zip(predictions, refs, strict=True)):
        items.append(
            ItemScores(
                exact_match=best_exact_match(pred, golds, language),
                f1=best_token_f1(pred, golds, language),
                bleu=bleu.sentence_scores[i],
                bleu_stats=[int(x) for x in bleu.stats[i]],
                bertscore_precision=float(bert.precision[i]) if bert else None,
                bertscore_recall=float(bert.recall[i]) if bert else None,
                bertscore_f1=float(bert.f1[i]) if bert else None,
            )
        )
    names = [n for n in METRICS if bert is not None or not n.startswith("bertscore")]
    summary = {}
    for name in names:
        ci = bootstrap_ci(
            _stats_for(name, items),
            _aggregate_for(name, bleu.tokenize),
            n_resamples=n_resamples,
            seed=seed,
            confidence=confidence,
        )
        value = bleu.score if name == "bleu" else ci.value
        summary[name] = MetricSummary(value=value, ci_low=ci.low, ci_high=ci.high, scale=METRICS[name])
    info: dict[str, Any] = {
        "n_items": len(items),
        "language": language,
        "bleu_tokenize": bleu.tokenize,
        "bleu_signature": bleu.signature,
        "bootstrap": {"n_resamples": n_resamples, "seed": seed, "confidence": confidence},
    }
    if bert is not None and bert.encoder is not None:  # BertScorer always sets its encoder
        info["bertscore"] = asdict(bert.encoder)
    return EvaluationScores(items=items, summary=summary, info=info)


def compare_runs(
    items_a: Sequence[ItemScores],
    items_b: Sequence[ItemScores],
    *,
    metrics: Sequence[str] | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, PairedBootstrapResult]:
    """Paired bootstrap per metric between two runs scored on the same items in the same order."""
    if len(items_a) != len(items_b):
        raise ValueError(f"runs have different item counts ({len(items_a)} vs {len(items_b)})")
    chosen = (
        list(metrics)
        if metrics
        else [n for n in METRICS if not n.startswith("bertscore") or items_a[0].bertscore_f1 is not None]
    )
    out = {}
    for name in chosen:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
        out[name] = paired_bootstrap(
            _stats_for(name, items_a),
            _stats_for(name, items_b),
            _aggregate_for(name, "13a"),
            n_resamples=n_resamples,
            seed=seed,
            confidence=confidence,
        )
    return out
