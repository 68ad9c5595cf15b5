"""The path of an invited judge: consent, instructions, an optional qualification block of control items, then
judging up to the session's per-judge cap, then the completion code (or the "screened out" one).

Each step is a timestamp or state on ``InvitedJudge``, so ``next_step`` is a pure reading of the row and the
gate (annotation.middleware) can send the judge to the right page from any URL. Qualification items are
copies of real items with one answer replaced (like controls), kept apart from the session's items so they
never take a judging slot and never enter the statistics.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import (
    Assignment,
    ControlKind,
    InvitationKind,
    InvitedJudge,
    JudgingSession,
    Qualification,
    QualificationAnswer,
    QualificationItem,
    Recruitment,
)
from annotation.services import assignment as assigning
from annotation.services.controls import ControlError
from annotation.services.controls import _wrong_answer_for as wrong_answer_for
from annotation.services.invitations import recruitment_for

CONSENT, INSTRUCTIONS, QUALIFICATION, SCREENED_OUT, JUDGING, FINISHED, WITHDRAWN = (
    "consent", "instructions", "qualification", "screened-out", "judging", "finished", "withdrawn",
)  # fmt: skip
TOUCH_EVERY = timedelta(seconds=30)
MAX_QUALIFICATION_ITEMS = 20
DEFAULT_CONSENT = (
    "You are invited to judge answers to questions for a research study. Your judgments are stored with a "
    "pseudonym; no name or e-mail address is asked. You may stop at any time."
)


class QualificationError(ValueError):
    """The qualification block cannot be built or answered as asked; the message says why."""


def next_step(judge: InvitedJudge, recruitment: Recruitment | None, *, has_instructions: bool) -> str:
    if judge.link.kind == InvitationKind.PERSONAL and judge.link.revoked_at is not None:
        return WITHDRAWN
    if judge.qualification == Qualification.FAILED:
        return SCREENED_OUT
    if judge.finished_at is not None:
        return FINISHED
    if judge.consented_at is None:
        return CONSENT
    if has_instructions and judge.instructions_seen_at is None:
        return INSTRUCTIONS
    if recruitment is not None and recruitment.qualification_size and judge.qualification != Qualification.PASSED:
        return QUALIFICATION
    return JUDGING


def step_for(judge: InvitedJudge) -> str:
    session = judge.session
    recruitment = Recruitment.objects.filter(session=session).first()
    return next_step(judge, recruitment, has_instructions=bool(session.instructions.strip()))


def consent_text(session: JudgingSession) -> str:
    recruitment = Recruitment.objects.filter(session=session).first()
    return (recruitment.consent_text if recruitment else "").strip() or DEFAULT_CONSENT


def accept_consent(judge: InvitedJudge, now: datetime | None = None) -> None:
    InvitedJudge.objects.filter(pk=judge.pk, consented_at__isnull=True).update(consented_at=now or timezone.now())


def instructions_read(judge: InvitedJudge, now: datetime | None = None) -> None:
    InvitedJudge.objects.filter(pk=judge.pk, instructions_seen_at__isnull=True).update(
        instructions_seen_at=now or timezone.now()
    )


def touch(judge: InvitedJudge, now: datetime | None = None) -> None:
    """Note the judge is active (at most one write per TOUCH_EVERY): idle judges give their items back."""
    now = now or timezone.now()
    if judge.last_seen_at is None or now - judge.last_seen_at >= TOUCH_EVERY:
        InvitedJudge.objects.filter(pk=judge.pk).update(last_seen_at=now)
        judge.last_seen_at = now


# --- items per judge ---------------------------------------------------------------------------------------


def judged_count(judge: InvitedJudge) -> int:
    judged = Assignment.objects.filter(session_id=judge.session_id, judge_id=judge.user_id, submitted_at__isnull=False)
    return judged.count()


def items_cap_reached(judge: InvitedJudge, recruitment: Recruitment | None) -> bool:
    cap = recruitment.max_items_per_judge if recruitment else 0
    return bool(cap) and judged_count(judge) >= cap


def give_back_unjudged(judge: InvitedJudge) -> int:
    """Return the judge's leased, unjudged items to the pool (cap reached, finished, idle or screened out)."""
    held = Assignment.objects.filter(session_id=judge.session_id, judge_id=judge.user_id, submitted_at__isnull=True)
    count = 0
    for slot in held:
        assigning.release(slot)
        count += 1
    return count


def may_finish(judge: InvitedJudge, recruitment: Recruitment | None) -> bool:
    """Finished when the per-judge cap is reached, the session closed, or nothing is left for this judge."""
    session = judge.session
    if items_cap_reached(judge, recruitment) or not session.is_open:
        return True
    progress = assigning.judge_progress(session, judge.user)
    return not (progress.pending or progress.available)


def finish(judge: InvitedJudge, now: datetime | None = None) -> None:
    with transaction.atomic():
        give_back_unjudged(judge)
        InvitedJudge.objects.filter(pk=judge.pk, finished_at__isnull=True).update(finished_at=now or timezone.now())


def release_idle(now: datetime | None = None, *, session: JudgingSession | None = None) -> int:
    """Give back the leased items of invited judges silent longer than their session's idle timeout."""
    now = now or timezone.now()
    judges = InvitedJudge.objects.filter(finished_at__isnull=True, last_seen_at__isnull=False).select_related(
        "session__recruitment"
    )
    if session is not None:
        judges = judges.filter(session=session)
    released = 0
    holding = Assignment.objects.filter(submitted_at__isnull=True, judge__isnull=False).values("judge_id")
    for judge in judges.filter(user_id__in=holding):
        recruitment = getattr(judge.session, "recruitment", None)
        timeout = timedelta(seconds=recruitment.idle_timeout_seconds if recruitment else 900)
        if judge.last_seen_at < now - timeout:
            released += give_back_unjudged(judge)
    return released


# --- qualification -----------------------------------------------------------------------------------------


def build_qualification(session: JudgingSession, size: int, *, seed: int | None = None) -> list[QualificationItem]:
    """(Re)build the block: ``size`` copies of items with gold answers, half showing a gold answer (expected:
    the best label), half another question's answer (expected: the worst label). Refused once a judge has
    answered it, so every judge is measured on the same block."""
    if not 0 <= size <= MAX_QUALIFICATION_ITEMS:
        raise QualificationError(f"The qualification block has 0 to {MAX_QUALIFICATION_ITEMS} items; got {size}.")
    with transaction.atomic():
        existing = list(session.qualification_items.all())
        if len(existing) == size:
            return existing
        if QualificationAnswer.objects.filter(item__session=session).exists():
            raise QualificationError("Judges have already answered the qualification block; it can no longer change.")
        session.qualification_items.all().delete()
        if size == 0:
            return []
        pool = [item for item in session.items.filter(is_control=False).order_by("position")
                if any(answer.strip() for answer in item.gold_answers)]  # fmt: skip
        if len(pool) < 2:
            raise QualificationError(
                "Qualification items need gold answers: at least two items must have one "
                f"(this session has {len(pool)})."
            )
        rng = random.Random(seed if seed is not None else session.seed + 7)
        sources = rng.sample(pool, min(size, len(pool))) + [rng.choice(pool) for _ in range(size - len(pool))]
        made = []
        for index, source in enumerate(sources):
            kind = ControlKind.GOLD_AS_ANSWER if index % 2 == 0 else ControlKind.WRONG_ANSWER
            try:
                shown = (next(a for a in source.gold_answers if a.strip()) if kind == ControlKind.GOLD_AS_ANSWER
                         else wrong_answer_for(source, pool, rng))  # fmt: skip
            except ControlError as exc:
                raise QualificationError(str(exc)) from exc
            expected = session.best_label if kind == ControlKind.GOLD_AS_ANSWER else session.worst_label
            side_a = rng.random() < 0.5
            made.append(
                QualificationItem(
                    session=session,
                    position=index,
                    source=source,
                    question=source.question,
                    context=source.context,
                    answer_a=shown if side_a else source.answer_a,
                    answer_b=source.answer_b if side_a else shown,
                    expected_label_a=expected if side_a else "",
                    expected_label_b="" if side_a else expected,
                )  # fmt: skip
            )
        return QualificationItem.objects.bulk_create(made)


def _swapped(judge: InvitedJudge, item: QualificationItem) -> bool:
    digest = hashlib.sha256(f"{judge.pk}:{item.pk}:{judge.session.seed}".encode()).digest()
    return digest[0] & 1 == 1


@dataclass
class QualificationPage:
    answer: QualificationAnswer
    number: int
    total: int

    @property
    def answers(self) -> dict[str, str]:
        item = self.answer.item
        left, right = (item.answer_b, item.answer_a) if self.answer.swapped else (item.answer_a, item.answer_b)
        return {"left": left, "right": right}


def current_qualification(judge: InvitedJudge, now: datetime | None = None) -> QualificationPage | None:
    """The qualification item the judge is on (its server-side clock starts when first shown); None when
    every item is answered."""
    items = list(judge.session.qualification_items.order_by("position"))
    answered = dict(QualificationAnswer.objects.filter(judge=judge).values_list("item_id", "answered_at"))
    for number, item in enumerate(items, start=1):
        if answered.get(item.pk) is not None:
            continue
        answer, _ = QualificationAnswer.objects.select_related("item").get_or_create(
            judge=judge, item=item, defaults={"swapped": _swapped(judge, item), "shown_at": now or timezone.now()}
        )
        return QualificationPage(answer, number, len(items))
    return None


def answer_qualification(
    judge: InvitedJudge, answer_id: int, left: str, right: str, now: datetime | None = None
) -> str | None:
    """Store the labels of one qualification item; after the last, score the block. Returns the verdict
    (passed/failed) once decided, else None."""
    session = judge.session
    keys = session.label_keys
    if left not in keys or right not in keys:
        raise QualificationError("Choose a label for both answers.")
    now = now or timezone.now()
    with transaction.atomic():
        answer = QualificationAnswer.objects.select_for_update().filter(pk=answer_id, judge=judge).first()
        if answer is None:
            raise QualificationError("This qualification item is not yours.")
        if answer.answered_at is None:
            answer.label_a, answer.label_b = (right, left) if answer.swapped else (left, right)
            answer.answered_at = now
            answer.save(update_fields=["label_a", "label_b", "answered_at"])
        total = session.qualification_items.count()
        done = QualificationAnswer.objects.filter(judge=judge, answered_at__isnull=False).count()
        if done < total:
            return None
        correct, checks = qualification_score(judge)
        threshold = recruitment_for(session).qualification_threshold
        verdict = Qualification.PASSED if checks and correct / checks >= threshold else Qualification.FAILED
        InvitedJudge.objects.filter(pk=judge.pk).update(qualification=verdict, qualified_at=now)
        judge.qualification = verdict
    return verdict


def qualification_score(judge: InvitedJudge) -> tuple[int, int]:
    """(right, checks) over the judge's answered qualification items."""
    correct = checks = 0
    answers = QualificationAnswer.objects.filter(judge=judge, answered_at__isnull=False).select_related("item")
    for answer in answers:
        item = answer.item
        for expected, given in ((item.expected_label_a, answer.label_a), (item.expected_label_b, answer.label_b)):
            if expected:
                checks += 1
                correct += int(expected == given)
    return correct, checks


def qualification_times_ms(session: JudgingSession) -> dict[int, int]:
    """Per invited judge (user id): server-side time spent on answered qualification items."""
    out: dict[int, int] = {}
    rows = QualificationAnswer.objects.filter(judge__session=session, answered_at__isnull=False).values_list(
        "judge__user_id", "shown_at", "answered_at"
    )
    for user_id, shown, answered in rows:
        out[user_id] = out.get(user_id, 0) + max(0, int((answered - shown).total_seconds() * 1000))
    return out


def session_counts(session: JudgingSession) -> dict[str, int]:
    """Invited judges of a session by where they stand (for the staff page)."""
    return InvitedJudge.objects.filter(session=session).aggregate(
        total=Count("pk"),
        finished=Count("pk", filter=Q(finished_at__isnull=False)),
        screened_out=Count("pk", filter=Q(qualification=Qualification.FAILED)),
    )
