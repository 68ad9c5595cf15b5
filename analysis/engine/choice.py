"""Judging by constrained choice ("choice" verdict mode): instead of generating free text and parsing it, the
model's log-likelihood of each allowed continuation of the verdict object is compared and the most likely one
taken, field by field, in the order the template's JSON states them:

    {"answer_1": "<label key>", "answer_2": "<label key>", "preference": "<1|2|tie>"}

Why: small local models (SmolLM2-135M) do not follow the output format, so free-text judging gives them no
verdicts at all; they can still rank a handful of options. The price is honesty about confidence: a choice
always yields a verdict, however flat the model's preference, so each vote's raw output is the normalised
probabilities of every option (JSON) with the margin between the top two, and ``margin_summary`` reports
how many verdicts were near coin flips. Both orders are still judged, so position bias is measured as for
generated verdicts. Choice is deterministic: one vote per order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from analysis.engine.parsing import ParsedVerdict
from analysis.engine.templates import JudgeLabel

FIRST_LEAD = '{"answer_1": "'
PREFERENCE_OPTIONS = ("1", "2", "tie")
FIELDS = ("answer_1", "answer_2", "preference")
LOW_MARGIN = 0.1
"""A field whose top option beats the runner-up by less than this probability is reported as a near tie."""


class ChainResultLike(Protocol):
    choices: tuple[int, ...]
    prompt_tokens: int

    def probabilities(self, step: int) -> tuple[float, ...]: ...


class Chooser(Protocol):
    """What the engine needs from a scoring backend (``decoding.scoring.ChoiceScorer``)."""

    def choose_text(
        self,
        prompts: Sequence[str],
        steps: Sequence[tuple[str, Sequence[str]]],
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Sequence[ChainResultLike]: ...


def choice_steps(labels: Sequence[JudgeLabel]) -> list[tuple[str, list[str]]]:
    """(lead, options) per field: each option ends with the closing quote so that a label's likelihood
    includes where it stops ("correct" is not rewarded for being the start of "correctly")."""
    keys = [label.key + '"' for label in labels]
    return [
        (FIRST_LEAD, keys),
        (', "answer_2": "', keys),
        (', "preference": "', [p + '"' for p in PREFERENCE_OPTIONS]),
    ]


def _margin(probabilities: Sequence[float]) -> float:
    top = sorted(probabilities, reverse=True)
    return top[0] - top[1]


def choice_vote(result: ChainResultLike, labels: Sequence[JudgeLabel]) -> tuple[str, ParsedVerdict]:
    """The raw output stored for one choice (option probabilities, margins, the verdict as text) and the
    verdict it gives (always complete)."""
    keys = [label.key for label in labels]
    options = (keys, keys, list(PREFERENCE_OPTIONS))
    probabilities = {
        field: dict(zip(names, (round(p, 4) for p in result.probabilities(k)), strict=True))
        for k, (field, names) in enumerate(zip(FIELDS, options, strict=True))
    }
    chosen = [options[k][c] for k, c in enumerate(result.choices)]
    text = json.dumps(dict(zip(FIELDS, chosen, strict=True)), ensure_ascii=False)
    raw = {
        "verdict_mode": "choice",
        "verdict": text,
        "probabilities": probabilities,
        "margin": {f: round(_margin(result.probabilities(k)), 4) for k, f in enumerate(FIELDS)},
    }
    parsed = ParsedVerdict(label_1=chosen[0], label_2=chosen[1], preference=chosen[2], method="choice")  # type: ignore[arg-type]
    return json.dumps(raw, ensure_ascii=False), parsed


def read_choice(raw: str) -> dict[str, Any] | None:
    """A stored choice output as a dict, or None for a generated one."""
    try:
        data = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("verdict_mode") == "choice" else None


def margin_summary(raws: Iterable[str], low: float = LOW_MARGIN) -> dict[str, Any] | None:
    """How decided the choices were: per field, the mean and median margin (top minus runner-up probability)
    and how many were below ``low`` (near ties the argmax still turned into a verdict). None without choices."""
    margins: dict[str, list[float]] = {f: [] for f in FIELDS}
    for raw in raws:
        data = read_choice(raw)
        if data is None:
            continue
        for field in FIELDS:
            margins[field].append(float(data["margin"][field]))
    n = len(margins["preference"])
    if not n:
        return None
    out: dict[str, Any] = {"n_votes": n, "low_margin": low}
    for field, values in margins.items():
        ordered = sorted(values)
        out[field] = {
            "mean_margin": round(sum(values) / n, 4),
            "median_margin": round(ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2, 4),
            "n_below_low": sum(v < low for v in values),
        }
    return out
