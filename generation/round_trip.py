"""Round-trip consistency filter (after Alberti et al. 2019, "Synthetic QA Corpora Generation with
Roundtrip Consistency"): a QA model answers each generated question from the passage, and the pair is
kept only if that answer matches the generated one.

A span check only shows that the answer occurs in the passage; it accepted "What is the capital of
France?" -> "Paris" for the passage "Paris is in France.". Asking a model the question from the passage
tests whether the passage supports the answer *to this question*. Match = exact match or token F1 >=
threshold, SQuAD-normalised, on characters for Japanese (no spaces). This module imports no Django.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generation.engine.base import GenerationOutput, SamplingParams
from generation.parsing import parse_line
from generation.prompts import RenderedPrompt
from generation.validation import normalise, tokens

DEFAULT_THRESHOLD = 0.5
ANSWER_TOKENS = 32  # the QA prompt asks for a short phrase on one line


@dataclass(frozen=True)
class RoundTripVerdict:
    model_answer: str
    score: float  # max(EM, token F1) between the model's answer and the generated answer
    supported: bool


def match_score(predicted: str, answer: str, *, character_level: bool) -> float:
    """1.0 for an exact (normalised) match, else SQuAD token F1 (characters for ja/zh)."""
    if normalise(predicted) == normalise(answer) and normalise(answer):
        return 1.0
    pred = tokens(predicted, character_level=character_level)
    gold = tokens(answer, character_level=character_level)
    if not pred or not gold:
        return 0.0
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def verdict(model_output: str, answer: str, *, character_level: bool, threshold: float) -> RoundTripVerdict:
    predicted = parse_line(model_output)
    score = match_score(predicted, answer, character_level=character_level)
    return RoundTripVerdict(predicted, round(score, 4), score >= threshold)


Generate = Callable[[list[RenderedPrompt], SamplingParams], list[GenerationOutput]]


def check(
    items: Sequence[tuple[RenderedPrompt, str]],
    generate: Generate,
    *,
    character_level: bool,
    threshold: float = DEFAULT_THRESHOLD,
    max_new_tokens: int = ANSWER_TOKENS,
) -> list[RoundTripVerdict]:
    """One verdict per (QA prompt, generated answer), greedy decoding, in order (one generate call, batched)."""
    if not items:
        return []
    if not 0 < threshold <= 1:
        raise ValueError("the round-trip threshold must be in (0, 1]")
    stop = items[0][0].stop or ("\n",)
    outputs = generate([p for p, _ in items], SamplingParams(max_new_tokens=max_new_tokens, stop=stop))
    return [
        verdict(out.text, answer, character_level=character_level, threshold=threshold)
        for out, (_, answer) in zip(outputs, items, strict=True)
    ]
