"""Corpus BLEU with sacrebleu: language-appropriate tokenizer, several gold answers as references.

Gold answers become reference STREAMS (stream k holds every item's k-th answer). Items with fewer answers are
padded with None, because sacrebleu zips the streams and would silently drop items past a short stream.
Per-item sufficient statistics are kept so bootstrap resamples re-aggregate them without re-tokenising.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sacrebleu.metrics.bleu import BLEU

SPACE_TOKENIZED = "13a"
_BY_LANGUAGE = {"ja": "ja-mecab", "ko": "ko-mecab", "zh": "zh"}
_NO_SPACES = frozenset({"th", "lo", "km", "my"})


@functools.cache
def _tokenizer_available(name: str) -> bool:
    try:
        BLEU(tokenize=name).corpus_score(["a"], [["a"]])
    except Exception:  # noqa: BLE001 - any failure (missing MeCab, dictionary) means "not usable here"
        return False
    return True


def bleu_tokenizer_for(language: str) -> str:
    """`13a` for space-delimited languages, `ja-mecab` for Japanese, `char` when no word tokenizer fits or
    the one that would (MeCab) is not installed."""
    lang = (language or "en").lower().split("-")[0]
    if lang in _NO_SPACES:
        return "char"
    name = _BY_LANGUAGE.get(lang, SPACE_TOKENIZED)
    return name if _tokenizer_available(name) else "char"


def reference_streams(references: Sequence[Sequence[str]]) -> list[list[str | None]]:
    """Transpose per-item gold lists into sacrebleu reference streams, padding short items with None."""
    for i, golds in enumerate(references):
        if not golds or all(g is None for g in golds):
            raise ValueError(f"item {i + 1} has no gold answer; BLEU needs at least one reference per item")
    width = max(len(golds) for golds in references)
    return [[golds[k] if k < len(golds) else None for golds in references] for k in range(width)]


@dataclass(frozen=True)
class BleuResult:
    score: float  # corpus BLEU, 0-100, identical to sacrebleu.corpus_bleu on the same inputs
    sentence_scores: list[float]  # per-item BLEU with effective order (sacrebleu's sentence-level setting)
    stats: np.ndarray  # (n_items, 2 + 2 * max_order): hyp_len, ref_len, matches..., totals...
    tokenize: str
    signature: str


def _metric(tokenize: str, *, effective_order: bool = False) -> BLEU:
    return BLEU(tokenize=tokenize, effective_order=effective_order)


def score_from_stats(summed: Sequence[float] | np.ndarray, tokenize: str = SPACE_TOKENIZED) -> float:
    """Corpus BLEU from summed per-item statistics (the tokenizer does not matter at this point)."""
    return float(_metric(tokenize)._compute_score_from_stats([int(round(x)) for x in summed]).score)


def corpus_bleu(
    predictions: Sequence[str],
    references: Sequence[Sequence[str]],
    *,
    language: str = "en",
    tokenize: str | None = None,
) -> BleuResult:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} reference lists")
    if not predictions:
        raise ValueError("no items to score")
    tokenize = tokenize or bleu_tokenizer_for(language)
    metric = _metric(tokenize)
    streams = reference_streams(references)
    # sacrebleu's own per-segment statistics; corpus_score() sums exactly these.
    # None pads short streams on purpose (see the module docstring); sacrebleu's hint says str only.
    stats = metric._extract_corpus_statistics(list(predictions), streams)  # type: ignore[arg-type]
    matrix = np.asarray(stats, dtype=np.int64)
    score = metric._compute_score_from_stats(matrix.sum(axis=0).tolist()).score
    sentence = _metric(tokenize, effective_order=True)
    per_item = [float(sentence._compute_score_from_stats(row).score) for row in stats]
    return BleuResult(
        score=float(score),
        sentence_scores=per_item,
        stats=matrix,
        tokenize=tokenize,
        signature=str(metric.get_signature()),
    )
