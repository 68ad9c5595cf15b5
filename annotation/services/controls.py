"""Quality-control items: copies of real items where one answer is replaced by something with a known label.

A "gold" control shows a gold answer in place of one system's answer (expected: the best label); a
"wrong" control shows another question's gold answer (expected: the worst label). The other answer is
the system's own and is not scored. Controls get k slots and a random place in the hand-out order like
any item, so judges cannot tell them apart; statistics leave them out (SessionItem.is_control).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from statistics import median

from django.contrib.auth.models import User
from django.db import transaction

from annotation.models import ControlKind, JudgingSession, Judgment, SessionItem
from annotation.services.sessions import PERMUTATION_PRIME, create_slots


class ControlError(ValueError):
    """Controls cannot be made as asked; the message says why."""


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def controls_needed(real_items: int, rate: float) -> int:
    """How many controls make them `rate` of all items (rate = controls / (real + controls))."""
    if rate <= 0:
        return 0
    return max(1, round(rate * real_items / (1 - rate)))


def add_controls(session: JudgingSession, rate: float, *, seed: int | None = None) -> list[SessionItem]:
    """Add control items so that they make up `rate` of the session's items. Idempotent per rate."""
    if not 0 < rate <= 0.5:
        raise ControlError(f"The control rate must be above 0 and at most 0.5; got {rate}.")
    with transaction.atomic():
        real = list(session.items.filter(is_control=False).order_by("position"))
        existing = session.items.filter(is_control=True).count()
        wanted = controls_needed(len(real), rate) - existing
        with_gold = [item for item in real if any(answer.strip() for answer in item.gold_answers)]
        if wanted <= 0:
            return []
        if len(with_gold) < 2:
            raise ControlError(
                "Control items need gold answers: at least two items must have one "
                f"(this session has {len(with_gold)})."
            )
        rng = random.Random(seed if seed is not None else session.seed + existing + 1)
        blocks = sorted({item.block for item in real}) or [0]
        next_position = (session.items.order_by("-position").values_list("position", flat=True).first() or 0) + 1
        made: list[SessionItem] = []
        # Different sources where possible: the same question three times would give the controls away.
        used = set(session.items.filter(is_control=True).values_list("control_source_id", flat=True))
        fresh = [item for item in with_gold if item.pk not in used]
        sources = rng.sample(fresh, min(wanted, len(fresh)))
        sources += [rng.choice(with_gold) for _ in range(wanted - len(sources))]
        for index, source in enumerate(sources):
            kind = ControlKind.GOLD_AS_ANSWER if (existing + index) % 2 == 0 else ControlKind.WRONG_ANSWER
            if kind == ControlKind.GOLD_AS_ANSWER:
                shown = next(answer for answer in source.gold_answers if answer.strip())
                expected = session.best_label
            else:
                shown = _wrong_answer_for(source, with_gold, rng)
                expected = session.worst_label
            side_a = rng.random() < 0.5
            made.append(
                SessionItem(
                    session=session,
                    position=next_position + index,
                    block=rng.choice(blocks),
                    shuffle_key=rng.randrange(PERMUTATION_PRIME),
                    external_id=f"control-{existing + index + 1}",
                    question=source.question,
                    context=source.context,
                    gold_answers=list(source.gold_answers),
                    answer_a=shown if side_a else source.answer_a,
                    answer_b=source.answer_b if side_a else shown,
                    is_control=True,
                    control_kind=kind,
                    control_source=source,
                    expected_label_a=expected if side_a else "",
                    expected_label_b="" if side_a else expected,
                )
            )
        created = SessionItem.objects.bulk_create(made)
        if any(item.pk is None for item in created):
            created = list(session.items.filter(is_control=True, position__gte=next_position))
        create_slots(session, created)
        session.control_rate = rate
        session.save(update_fields=["control_rate"])
    return created


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
