"""Recording judgments: idempotent submits, revisions on change, and the judge's own history.

The page shows the two answers as "left" and "right"; this module is the only place that maps them to
systems A and B (through the assignment's stored placement), so nothing a judge sends or receives names
a system.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.models import (
    Assignment,
    FlagReason,
    ItemAnswer,
    ItemFlag,
    JudgingSession,
    Judgment,
)
from annotation.services import hot_queries
from annotation.services.sessions import render_instructions
from core.services.text import unstorable_reason
from core.sql_rows import db_datetime, fetch_all

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


def page_assignment(token: str, judge: User) -> Assignment:
    """own_assignment() for the judging page, with what the page and its checks need in the same query: the
    judges-only rule (judge_in_group), the judge's judged count in this session (judged) and whether they
    hold an unjudged item there (holding), for the progress line."""
    assignment = hot_queries.page_assignment(token, judge.pk) if token else None
    if assignment is None:
        raise AssignmentGone(GONE_MESSAGE)
    if not (assignment.judge_in_group or judge.is_staff):
        raise NotAJudge("Judges only.")
    return assignment


GONE_MESSAGE = "This item is no longer yours: its reservation ran out and it went to another judge."
LATE_MESSAGE = (
    "Your judgment of this item was not stored: your reservation ran out and the item went to another judge. "
    "Nothing is lost on your side; go on with your next item."
)
SUBMIT_ATTEMPTS = 5


class NotAJudge(PermissionError):
    """The user is no longer in the judges group (nor staff)."""


class SubmitConflict(JudgingError):
    """The item changed under every attempt to store the judgment (only a storm of same-item requests)."""


def submit(token: str, judge: User, data: Submission, *, now: datetime | None = None) -> SubmitResult:
    """Store a judgment. The same submission id twice stores once; a changed resubmit adds a revision.

    The late-submit rule: a submit is accepted while the slot is still this judge's, even after the lease
    ran out, as long as no other judge has leased the slot since (the lease only decides when a slot may
    go to someone else). Once another judge has it, the old token no longer matches and the submit is
    refused with AssignmentGone (LATE_MESSAGE).

    Optimistic, to keep the write short: one plain read brings everything the checks and the validation
    need, then ONE atomic write (a single statement on both databases: a data-modifying CTE on PostgreSQL,
    an INSERT into a view whose trigger does the writes on SQLite) whose own conditions repeat the ownership
    check (token and judge, session open) and, for a revision, the revision number read. A new lease of the
    slot changes its token, so a late submit and a new lease cannot both win; when the write finds the row
    changed (or a unique constraint catches a twin request), it is read again and decided anew. An item never
    gets more than its k judgments and a judge never two judgments of one item (both also unique constraints).
    """
    now = now or timezone.now()
    for _attempt in range(SUBMIT_ATTEMPTS):
        assignment = _submit_target(token, judge, data.submission_id)
        if assignment is None:
            raise AssignmentGone(GONE_MESSAGE)
        if not (assignment.judge_in_group or judge.is_staff):
            raise NotAJudge("Judges only.")
        session = assignment.session
        if not session.is_open:
            from annotation.services.assignment import SessionClosed

            raise SessionClosed(f"Session {session.name!r} is closed; judgments are no longer accepted.")
        valid = validate(session, data)
        judgment = getattr(assignment, "judgment", None)
        if judgment is not None and assignment.repeated:
            return SubmitResult(judgment, created=False, changed=False)
        label_a, label_b, preference = _to_system_terms(assignment, valid)
        if judgment is not None and (judgment.label_a, judgment.label_b, judgment.preference, judgment.comment) == (
            label_a, label_b, preference, valid.comment,
        ):  # fmt: skip
            return SubmitResult(judgment, created=False, changed=False)
        elapsed_ms = max(0, int((now - (assignment.assigned_at or now)).total_seconds() * 1000))
        change = _Change(assignment, judge, label_a, label_b, preference, valid, elapsed_ms, now)
        try:
            stored = _write_first(change) if judgment is None else _write_revision(change, judgment)
        except IntegrityError:
            continue  # a twin request stored it first: the next read sees what it stored
        if stored is not None:
            return stored
        # the row changed since the read (the slot went to another judge, or another revision came first)
    raise SubmitConflict("This item changed while your judgment was being stored; send it again.")


def _submit_target(token: str, judge: User, submission_id: str) -> Assignment | None:
    """The one read of a submit: the assignment with its session, its judgment, the judges-only rule and
    whether this submission id was stored already."""
    if not token:
        return None
    storable = len(submission_id) <= MAX_SUBMISSION_ID_CHARS and not unstorable_reason(submission_id)
    # an id the database cannot hold is refused by validate(), after the ownership check
    return hot_queries.submit_target(token, judge.pk, submission_id if submission_id and storable else None)


@dataclass(frozen=True)
class _Change:
    """A validated submit, in system terms, ready to be written."""

    assignment: Assignment
    judge: User
    label_a: str
    label_b: str
    preference: str
    data: Submission
    elapsed_ms: int
    now: datetime

    def params(self, number: int) -> dict:
        return {
            "slot": self.assignment.pk, "token": self.assignment.token, "judge": self.judge.pk,
            "now": db_datetime(self.now),
            "label_a": self.label_a, "label_b": self.label_b, "preference": self.preference,
            "comment": self.data.comment, "elapsed": self.elapsed_ms, "swapped": self.assignment.swapped,
            "number": number, "submission_id": self.data.submission_id or f"auto-{number}",
        }  # fmt: skip


def _single_statement(sql: str, params: dict) -> list[tuple]:
    """Run one statement. Alone it is its own transaction (no BEGIN/COMMIT round trips); inside a caller's
    transaction a savepoint keeps a failed statement from breaking it."""
    guard = transaction.atomic() if connection.in_atomic_block else nullcontext()
    with guard:
        return fetch_all(sql, params)


def _tables() -> dict[str, str]:
    """Quoted table names ({a} assignment, {j} judgment, {r} revision, {s} session), one cache with the reads'."""
    return hot_queries.names()


# The first judgment of a slot: close the slot, insert the judgment and its first revision, all only if
# the slot still carries this judge's token and the session is open. One statement: the UPDATE takes the
# slot's row lock (a concurrent lease or twin submit waits for it and then re-checks its own conditions).
_FIRST_PG = """
WITH slot AS (
    UPDATE {a} SET submitted_at = %(now)s, lease_expires_at = NULL
    WHERE id = %(slot)s AND token = %(token)s AND judge_id = %(judge)s
      AND EXISTS (SELECT 1 FROM {s} WHERE {s}.id = {a}.session_id AND {s}.is_open)
    RETURNING id, session_id, item_id, system_a, system_b
), judgment AS (
    INSERT INTO {j} (assignment_id, session_id, item_id, judge_id, system_a, system_b, label_a, label_b,
                     preference, comment, time_on_item_ms, revisions_count, created_at, updated_at)
    SELECT id, session_id, item_id, %(judge)s, system_a, system_b, %(label_a)s, %(label_b)s,
           %(preference)s, %(comment)s, %(elapsed)s, 1, %(now)s, %(now)s FROM slot
    RETURNING id, assignment_id
)
INSERT INTO {r} (judgment_id, assignment_id, number, submission_id, label_a, label_b, preference, comment,
                 swapped, ms_since_assigned, submitted_at)
SELECT id, assignment_id, 1, %(submission_id)s, %(label_a)s, %(label_b)s, %(preference)s, %(comment)s,
       %(swapped)s, %(elapsed)s, %(now)s FROM judgment
RETURNING judgment_id
"""

# A revision: only if the judgment still has the revision count that was read (else another revision came
# first and the submit is decided again) and the session is open.
_REVISION_PG = """
WITH judgment AS (
    UPDATE {j} SET label_a = %(label_a)s, label_b = %(label_b)s, preference = %(preference)s,
                   comment = %(comment)s, revisions_count = %(number)s, updated_at = %(now)s
    WHERE id = %(judgment)s AND revisions_count = %(previous)s
      AND EXISTS (SELECT 1 FROM {s} WHERE {s}.id = {j}.session_id AND {s}.is_open)
    RETURNING id
)
INSERT INTO {r} (judgment_id, assignment_id, number, submission_id, label_a, label_b, preference, comment,
                 swapped, ms_since_assigned, submitted_at)
SELECT id, %(slot)s, %(number)s, %(submission_id)s, %(label_a)s, %(label_b)s, %(preference)s, %(comment)s,
       %(swapped)s, %(elapsed)s, %(now)s FROM judgment
RETURNING judgment_id
"""


# SQLite has no data-modifying CTE: the same writes are an INSERT into a view whose INSTEAD OF trigger runs
# them (migration 0013): one statement, atomic on its own, holding the write lock for that statement only.
# The trigger's guard repeats the conditions above; when it fails the statement is abandoned and RETURNING
# gives no row. RETURNING's subquery sees the trigger's writes: it reads the new judgment's id.
_FIRST_SQLITE = """
INSERT INTO annotation_submit_first (slot, token, judge, now, label_a, label_b, preference, comment, elapsed,
                                     swapped, submission_id)
VALUES (%(slot)s, %(token)s, %(judge)s, %(now)s, %(label_a)s, %(label_b)s, %(preference)s, %(comment)s,
        %(elapsed)s, %(swapped)s, %(submission_id)s)
RETURNING (SELECT id FROM {j} WHERE assignment_id = slot)
"""
_REVISION_SQLITE = """
INSERT INTO annotation_submit_revision (judgment, previous, number, slot, now, label_a, label_b, preference,
                                        comment, elapsed, swapped, submission_id)
VALUES (%(judgment)s, %(previous)s, %(number)s, %(slot)s, %(now)s, %(label_a)s, %(label_b)s, %(preference)s,
        %(comment)s, %(elapsed)s, %(swapped)s, %(submission_id)s)
RETURNING judgment
"""


def _write_first(change: _Change) -> SubmitResult | None:
    """Store the slot's first judgment; None when the slot is no longer this judge's (or the session closed)."""
    assignment = change.assignment
    first = _FIRST_PG if connection.vendor == "postgresql" else _FIRST_SQLITE
    rows = _single_statement(first.format(**_tables()), change.params(1))
    if not rows:
        return None
    judgment = _stored_judgment(rows[0][0], change)
    assignment.submitted_at, assignment.lease_expires_at = change.now, None
    return SubmitResult(judgment, created=True, changed=True)


def _write_revision(change: _Change, judgment: Judgment) -> SubmitResult | None:
    """Store a changed resubmit; None when another revision came first (or the session closed)."""
    number = judgment.revisions_count + 1
    revision = _REVISION_PG if connection.vendor == "postgresql" else _REVISION_SQLITE
    params = {**change.params(number), "judgment": judgment.pk, "previous": number - 1}
    if not _single_statement(revision.format(**_tables()), params):
        return None
    judgment.label_a, judgment.label_b = change.label_a, change.label_b
    judgment.preference, judgment.comment = change.preference, change.data.comment
    judgment.revisions_count, judgment.updated_at = number, change.now
    return SubmitResult(judgment, created=False, changed=True)


def _stored_judgment(pk: int, change: _Change) -> Judgment:
    """The Judgment the write just stored, as an instance (no read back)."""
    assignment = change.assignment
    judgment = Judgment(
        pk=pk, assignment=assignment, session_id=assignment.session_id, item_id=assignment.item_id,
        judge=change.judge, system_a=assignment.system_a, system_b=assignment.system_b,
        label_a=change.label_a, label_b=change.label_b, preference=change.preference,
        comment=change.data.comment, time_on_item_ms=change.elapsed_ms, revisions_count=1,
        created_at=change.now, updated_at=change.now,
    )  # fmt: skip
    judgment._state.adding, judgment._state.db = False, connection.alias
    return judgment


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
    (every two-system slot: no query); another pair reads its two ItemAnswer rows, unless the page's read
    brought them (hot_queries.page_assignment)."""
    item = assignment.item
    if (assignment.system_a, assignment.system_b) == (0, 1):
        return item.answer_a, item.answer_b
    shown: tuple[str, str] | None = getattr(assignment, "shown_texts", None)
    if shown is not None:
        return shown
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
