"""Quality-control items: items reserved as controls, where one answer is replaced by something with a known label.

A "gold" control shows a gold answer in place of one system's answer (expected: the best label); a
"wrong" control shows another question's gold answer (expected: the worst label). The other answer is
the system's own and is not scored.

Controls come from a reserved pool: the item itself becomes the control (it is no longer a regular item
for anyone), so no judge ever sees a control whose question they also see as a regular item, which would
give the control away (and let a judge copy their earlier labels). Only items nobody has been handed yet,
with a question no other item asks, are reserved. Controls keep their k slots and random place in the
hand-out order, so judges cannot tell them apart; statistics leave them out (SessionItem.is_control).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from statistics import median

from django.contrib.auth.models import User
from django.db import transaction

from annotation.models import Assignment, ControlKind, ItemAnswer, JudgingSession, Judgment, SessionItem


class ControlError(ValueError):
    """Controls cannot be made as asked; the message says why."""


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def controls_needed(items: int, rate: float) -> int:
    """How many of a session's `items` become controls at `rate` (controls / all items)."""
    if rate <= 0:
        return 0
    return max(1, round(rate * items))


def add_controls(session: JudgingSession, rate: float, *, seed: int | None = None) -> list[SessionItem]:
    """Reserve items as controls so that they make up `rate` of the session's items. Idempotent per rate."""
    if not 0 < rate <= 0.5:
        raise ControlError(f"The control rate must be above 0 and at most 0.5; got {rate}.")
    if session.n_systems > 2:
        raise ControlError(
            f"Control items are available for two-system sessions only; this one has {session.n_systems}."
        )
    with transaction.atomic():
        every = list(session.items.select_for_update().order_by("position", "id"))
        existing = sum(item.is_control for item in every)
        wanted = controls_needed(len(every), rate) - existing
        if wanted <= 0:
            return []
        with_gold = [item for item in every if any(answer.strip() for answer in item.gold_answers)]
        if len(with_gold) < 2:
            raise ControlError(
                "Control items need gold answers: at least two items must have one "
                f"(this session has {len(with_gold)})."
            )
        handed_out = set(
            Assignment.objects.filter(session=session, judge__isnull=False).values_list("item_id", flat=True)
        )
        asked = Counter(_norm(item.question) for item in every)
        eligible = [
            item
            for item in with_gold
            if not item.is_control and item.pk not in handed_out and asked[_norm(item.question)] == 1
        ]
        if len(eligible) < wanted:
            raise ControlError(
                f"{wanted} more control item(s) are needed at rate {rate:g}, but only {len(eligible)} item(s) "
                "qualify (a gold answer, a question no other item asks, not yet handed to any judge). "
                "Add controls before judging starts, or choose a lower rate."
            )
        rng = random.Random(seed if seed is not None else session.seed + existing + 1)
        chosen = sorted(rng.sample(eligible, wanted), key=lambda item: item.pk)
        for index, item in enumerate(chosen):
            kind = ControlKind.GOLD_AS_ANSWER if (existing + index) % 2 == 0 else ControlKind.WRONG_ANSWER
            if kind == ControlKind.GOLD_AS_ANSWER:
                shown = next(answer for answer in item.gold_answers if answer.strip())
                expected = session.best_label
            else:
                shown = _wrong_answer_for(item, with_gold, rng)
                expected = session.worst_label
            side_a = rng.random() < 0.5
            if side_a:
                item.answer_a, item.expected_label_a, item.expected_label_b = shown, expected, ""
            else:
                item.answer_b, item.expected_label_a, item.expected_label_b = shown, "", expected
            item.is_control, item.control_kind = True, kind
        SessionItem.objects.bulk_update(
            chosen, ["answer_a", "answer_b", "is_control", "control_kind", "expected_label_a", "expected_label_b"]
        )
        for item in chosen:  # the per-system answers show what the item shows
            ItemAnswer.objects.filter(item=item, system=0).update(text=item.answer_a)
            ItemAnswer.objects.filter(item=item, system=1).update(text=item.answer_b)
        session.control_rate = rate
        session.save(update_fields=["control_rate"])
    return chosen


def _wrong_answer_for(source: SessionItem, pool: list[SessionItem], rng: random.Random) -> str:
    """Another question's gold answer that is not also an accepted answer here: clearly wrong."""
    accepted = {_norm(answer) for answer in source.gold_answers}
    candidates = [
        answer
        for item in pool
        if item.pk != source.pk and _norm(item.question) != _norm(source.question)
        for answer in item.gold_answers[:1]
        if answer.strip() and _norm(answer) not in accepted
    ]
    if not candidates:
        raise ControlError("No clearly wrong answer is available: every other gold answer is also accepted here.")
    return rng.choice(candidates)


# --- judge quality ----------------------------------------------------------------------------------------


@dataclass
class ControlScore:
    judge: User
    checks: int
    correct: int
    threshold: float

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.checks if self.checks else None

    @property
    def flagged(self) -> bool:
        return self.checks > 0 and self.correct / self.checks < self.threshold


def control_scores(session: JudgingSession) -> dict[int, ControlScore]:
    """Per judge: how many control answers they labelled as expected (latest judgments)."""
    scores: dict[int, ControlScore] = {}
    judgments = Judgment.objects.filter(session=session, item__is_control=True).select_related("item", "judge")
    for judgment in judgments:
        score = scores.setdefault(judgment.judge_id, ControlScore(judgment.judge, 0, 0, session.control_threshold))
        for expected, given in (
            (judgment.item.expected_label_a, judgment.label_a),
            (judgment.item.expected_label_b, judgment.label_b),
        ):
            if expected:
                score.checks += 1
                score.correct += int(expected == given)
    return scores


def median_or_none(values: list[float]) -> float | None:
    return median(values) if values else None
