"""Recording judgments: idempotent submits, revisions on change, and the judge's own history.

The page shows the two answers as "left" and "right"; this module is the only place that maps them to
systems A and B (through the assignment's stored placement), so nothing a judge sends or receives names
a system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Exists
from django.utils import timezone

from annotation.models import (
    Assignment,
    FlagReason,
    ItemAnswer,
    ItemFlag,
    JudgingSession,
    Judgment,
    JudgmentRevision,
)
from annotation.services.sessions import render_instructions
from core.permissions import judging_group_rows
from core.services.text import unstorable_reason

SIDES = ("left", "right")
PREFERENCES = ("left", "tie", "right")
MAX_COMMENT_CHARS = 5000
MAX_FLAG_NOTE_CHARS = 1000
MAX_SUBMISSION_ID_CHARS = 64


class JudgingError(ValueError):
    """The submitted form is incomplete or invalid; the message says which field."""


class AssignmentGone(LookupError):
    """The token is unknown, not this judge's, or its lease ran out and the slot went to someone else."""


@dataclass(frozen=True)
class Submission:
    """What the judge chose, in display terms (left/right), as sent by the page or the API."""

    left_label: str
    right_label: str
    preference: str = ""
    comment: str = ""
    submission_id: str = ""


@dataclass
class SubmitResult:
    judgment: Judgment
    created: bool  # first judgment of this assignment
    changed: bool  # a new revision was stored (False for a repeated or unchanged submit)


def _to_system_terms(assignment: Assignment, data: Submission) -> tuple[str, str, str]:
    if assignment.swapped:
        label_a, label_b = data.right_label, data.left_label
        preference = {"left": "b", "right": "a", "tie": "tie", "": ""}[data.preference]
    else:
        label_a, label_b = data.left_label, data.right_label
        preference = {"left": "a", "right": "b", "tie": "tie", "": ""}[data.preference]
    return label_a, label_b, preference


def to_display_terms(assignment: Assignment, judgment: Judgment | None) -> dict[str, str]:
    """The judge's own stored choices, as the page shows them (for going back and editing)."""
    if judgment is None:
        return {"left_label": "", "right_label": "", "preference": "", "comment": ""}
    if assignment.swapped:
        left, right = judgment.label_b, judgment.label_a
        preference = {"a": "right", "b": "left", "tie": "tie", "": ""}[judgment.preference]
    else:
        left, right = judgment.label_a, judgment.label_b
        preference = {"a": "left", "b": "right", "tie": "tie", "": ""}[judgment.preference]
    return {"left_label": left, "right_label": right, "preference": preference, "comment": judgment.comment}


def validate(session: JudgingSession, data: Submission) -> Submission:
    keys = session.label_keys
    problems = []
    for side, value in (("left", data.left_label), ("right", data.right_label)):
        if not value:
            problems.append(f"Choose a label for answer {'A' if side == 'left' else 'B'}.")
        elif value not in keys:
            problems.append(f"Unknown label {value!r} for answer {'A' if side == 'left' else 'B'}.")
    preference = data.preference or ""
    if session.ask_preference:
        if not preference:
            problems.append("Say which answer is better (A, tie or B).")
        elif preference not in PREFERENCES:
            problems.append(f"Unknown preference {preference!r}.")
    else:
        preference = ""
    comment = (data.comment or "").strip() if session.ask_comment else ""
    if len(comment) > MAX_COMMENT_CHARS:
        problems.append(f"The comment is {len(comment)} characters; at most {MAX_COMMENT_CHARS}.")
    if reason := unstorable_reason(comment):
        problems.append(f"The comment contains {reason}; remove it.")
    if len(data.submission_id) > MAX_SUBMISSION_ID_CHARS or unstorable_reason(data.submission_id):
        problems.append("Invalid submission id.")
    if problems:
        raise JudgingError(" ".join(problems))
    return Submission(data.left_label, data.right_label, preference, comment, data.submission_id)


def own_assignment(token: str, judge: User) -> Assignment:
    """The judge's assignment with its session, item and (if any) judgment, in one query."""
    assignment = (
        Assignment.objects.select_related("session", "item", "judgment").filter(token=token, judge=judge).first()
        if token
        else None
    )
    if assignment is None:
        raise AssignmentGone(GONE_MESSAGE)
    return assignment


GONE_MESSAGE = "This item is no longer yours: its reservation ran out and it went to another judge."
LATE_MESSAGE = (
    "Your judgment of this item was not stored: your reservation ran out and the item went to another judge. "
    "Nothing is lost on your side; go on with your next item."
)


class NotAJudge(PermissionError):
    """The user is no longer in the judges group (nor staff)."""


def submit(token: str, judge: User, data: Submission, *, now: datetime | None = None) -> SubmitResult:
    """Store a judgment. The same submission id twice stores once; a changed resubmit adds a revision.

    The late-submit rule: a submit is accepted while the slot is still this judge's, even after the lease
    ran out, as long as no other judge has leased the slot since (the lease only decides when a slot may
    go to someone else). Once another judge has it, the old token no longer matches and the submit is
    refused with AssignmentGone (LATE_MESSAGE). The check and the write happen under the slot's row lock
    (the same lock a judge taking the slot needs), so a late submit and a new lease cannot both win: an
    item never gets more than its k judgments, and a judge never two judgments of one item (both also
    unique constraints).
    """
    try:
        return _store(token, judge, data, now or timezone.now())
    except IntegrityError:
        # Two identical requests raced past the lock (cannot happen with row locks or IMMEDIATE, but the
        # constraints are the last word): the other one stored it.
        judgment = Judgment.objects.get(assignment__token=token, judge=judge)
        return SubmitResult(judgment, created=False, changed=False)


def _store(token: str, judge: User, data: Submission, now: datetime) -> SubmitResult:
    with transaction.atomic():
        # One locking read brings the session (for validation), the current judgment and the judges-only
        # check along: the hot path reads nothing else before writing.
        assignment = (
            Assignment.objects.select_for_update(of=("self",))
            .select_related("session", "judgment")
            .annotate(judge_in_group=Exists(judging_group_rows(judge.pk)))  # judge_required's rule
            .filter(token=token, judge=judge)
            .first()
            if token
            else None
        )
        if assignment is None:
            raise AssignmentGone(GONE_MESSAGE)
        if not (assignment.judge_in_group or judge.is_staff):
            raise NotAJudge("Judges only.")
        session = assignment.session
        if not session.is_open:
            from annotation.services.assignment import SessionClosed

            raise SessionClosed(f"Session {session.name!r} is closed; judgments are no longer accepted.")
        data = validate(session, data)
        judgment = getattr(assignment, "judgment", None)
        if judgment is not None and data.submission_id:
            repeated = JudgmentRevision.objects.filter(assignment=assignment, submission_id=data.submission_id)
            if repeated.exists():
                return SubmitResult(judgment, created=False, changed=False)
        label_a, label_b, preference = _to_system_terms(assignment, data)
        elapsed_ms = max(0, int((now - (assignment.assigned_at or now)).total_seconds() * 1000))
        created = judgment is None
        if created:
            judgment = Judgment.objects.create(
                assignment=assignment,
                session_id=assignment.session_id,
                item_id=assignment.item_id,
                judge=judge,
                system_a=assignment.system_a,
                system_b=assignment.system_b,
                label_a=label_a,
                label_b=label_b,
                preference=preference,
                comment=data.comment,
                time_on_item_ms=elapsed_ms,
                revisions_count=1,
                created_at=now,
                updated_at=now,
            )
            Assignment.objects.filter(pk=assignment.pk).update(submitted_at=now, lease_expires_at=None)
            assignment.submitted_at, assignment.lease_expires_at = now, None
            number = 1
        else:
            unchanged = (judgment.label_a, judgment.label_b, judgment.preference, judgment.comment) == (
                label_a,
                label_b,
                preference,
                data.comment,
            )
            if unchanged:
                return SubmitResult(judgment, created=False, changed=False)
            number = judgment.revisions_count + 1
            judgment.label_a, judgment.label_b = label_a, label_b
            judgment.preference, judgment.comment = preference, data.comment
            judgment.revisions_count = number
            judgment.updated_at = now
            judgment.save(
                update_fields=["label_a", "label_b", "preference", "comment", "revisions_count", "updated_at"]
            )
        JudgmentRevision.objects.create(
            judgment=judgment,
            assignment=assignment,
            number=number,
            submission_id=data.submission_id or f"auto-{number}",
            label_a=label_a,
            label_b=label_b,
            preference=preference,
            comment=data.comment,
            swapped=assignment.swapped,
            ms_since_assigned=elapsed_ms,
            submitted_at=now,
        )
        return SubmitResult(judgment, created=created, changed=True)


# --- flagging and skipping ----------------------------------------------------------------------------


@dataclass
class FlagResult:
    flag: ItemFlag
    created: bool


def validate_flag(reason: str, note: str) -> tuple[str, str]:
    note = (note or "").strip()
    if reason not in FlagReason.values:
        choices = ", ".join(f"{value!r}" for value in FlagReason.values)
        raise JudgingError(f"Choose why you skip this item ({choices}); got {reason!r}." if reason else
                           "Choose why you skip this item.")  # fmt: skip
    if reason == FlagReason.OTHER and not note:
        raise JudgingError("Describe the problem in the note (the reason is 'another problem').")
    if len(note) > MAX_FLAG_NOTE_CHARS:
        raise JudgingError(f"The note is {len(note)} characters; at most {MAX_FLAG_NOTE_CHARS}.")
    if problem := unstorable_reason(note):
        raise JudgingError(f"The note contains {problem}; remove it.")
    return reason, note


def flag(token: str, judge: User, reason: str, note: str = "", *, now: datetime | None = None) -> FlagResult:
    """Flag the judge's item and skip it: the assignment counts as done for this judge (it is not handed out
    again, to them or to anyone), with or without labels. Flagging again replaces the reason and note.

    Same rules as a submit: only the judge's own slot (the late-submit rule applies), only while the session
    is open, under the slot's row lock."""
    now = now or timezone.now()
    reason, note = validate_flag(reason, note)
    with transaction.atomic():
        mine = Assignment.objects.select_for_update(of=("self",)).select_related("session")
        assignment = mine.filter(token=token, judge=judge).first() if token else None
        if assignment is None:
            raise AssignmentGone(LATE_MESSAGE)
        if not assignment.session.is_open:
            from annotation.services.assignment import SessionClosed

            raise SessionClosed(f"Session {assignment.session.name!r} is closed; flags are no longer accepted.")
        existing = ItemFlag.objects.filter(assignment=assignment).first()
        if existing is not None:
            existing.reason, existing.note, existing.updated_at = reason, note, now
            existing.save(update_fields=["reason", "note", "updated_at"])
            return FlagResult(existing, created=False)
        made = ItemFlag.objects.create(
            assignment=assignment, session_id=assignment.session_id, item_id=assignment.item_id, judge=judge,
            reason=reason, note=note, created_at=now, updated_at=now,
        )  # fmt: skip
        if assignment.submitted_at is None:
            Assignment.objects.filter(pk=assignment.pk).update(submitted_at=now, lease_expires_at=None)
        return FlagResult(made, created=True)


def own_flag(assignment: Assignment) -> ItemFlag | None:
    return ItemFlag.objects.filter(assignment=assignment).first()


# --- the judge's own history ----------------------------------------------------------------------


def judged_in_order(session: JudgingSession, judge: User):
    return Assignment.objects.filter(session=session, judge=judge, submitted_at__isnull=False).order_by("sequence")


def previous_token(session: JudgingSession, judge: User, current: Assignment | None) -> str | None:
    """The judged item before `current` (or the last judged one when current is new or absent)."""
    history = judged_in_order(session, judge)
    if current is not None and current.submitted_at is not None:
        history = history.filter(sequence__lt=current.sequence)
    last = history.order_by("-sequence").values_list("token", flat=True).first()
    return last


def history_position(session: JudgingSession, judge: User, current: Assignment) -> int:
    """Where a judged item stands in the judge's own history (1-based): the counter while revising it."""
    return judged_in_order(session, judge).filter(sequence__lte=current.sequence).count()


def following_token(session: JudgingSession, judge: User, current: Assignment) -> str | None:
    """The judged item after `current`, when the judge went back and is walking forward again."""
    return judged_in_order(session, judge).filter(sequence__gt=current.sequence).values_list("token", flat=True).first()


# --- what the page shows ----------------------------------------------------------------------------


def shown_answers(assignment: Assignment) -> tuple[str, str]:
    """The texts of the assignment's two systems, in system order. Systems 0 and 1 are copied on the item
    (every two-system slot: no query); another pair reads its two ItemAnswer rows."""
    item = assignment.item
    if (assignment.system_a, assignment.system_b) == (0, 1):
        return item.answer_a, item.answer_b
    texts = dict(
        ItemAnswer.objects.filter(item=item, system__in=(assignment.system_a, assignment.system_b)).values_list(
            "system", "text"
        )
    )
    return texts[assignment.system_a], texts[assignment.system_b]


def display(assignment: Assignment) -> dict:
    """Everything the judge's page (or API) may show for one assignment: no system, run or item id."""
    session, item = assignment.session, assignment.item
    first, second = shown_answers(assignment)
    left, right = (second, first) if assignment.swapped else (first, second)
    return {
        "token": assignment.token,
        "question": item.question,
        "context": item.context,
        "gold_answers": list(item.gold_answers) if session.show_gold else [],
        "answers": {"left": left, "right": right},
        "labels": session.accuracy_labels,
        "ask_preference": session.ask_preference,
        "ask_comment": session.ask_comment,
        "instructions_html": str(render_instructions(session.instructions)),
    }
