"""Builders for statistics tests: judges who judge a session through the real services with chosen labels."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.models import Group, User

from annotation.models import JudgingSession, Judgment, SessionItem
from annotation.services import assignment as assigning
from annotation.services import judging
from core.permissions import JUDGES_GROUP

Decision = tuple[str, str, str] | tuple[str, str, str, str]
"""(label of A's answer, label of B's answer, preference "a"/"tie"/"b"[, comment]) in system terms."""

TO_DISPLAY = {
    False: {"a": "left", "b": "right", "tie": "tie", "": ""},
    True: {"a": "right", "b": "left", "tie": "tie", "": ""},
}


def make_judges(n: int, prefix: str = "judge") -> list[User]:
    group, _ = Group.objects.get_or_create(name=JUDGES_GROUP)
    judges = [User.objects.create_user(f"{prefix}-{i}", password="pw-for-tests-1") for i in range(n)]
    for judge in judges:
        judge.groups.add(group)
    return judges


def judge_session(
    session: JudgingSession, judges: list[User], decide: Callable[[SessionItem, User], Decision | None]
) -> int:
    """Every judge takes items until none is left and submits ``decide(item, judge)`` (None: skip for good,
    by submitting nothing and leaving the item leased). Returns the number of judgments stored."""
    stored = 0
    for judge in judges:
        while (a := assigning.next_assignment(session, judge)) is not None:
            decision = decide(a.item, judge)
            if decision is None:
                break
            label_a, label_b, preference, *rest = decision
            left, right = (label_b, label_a) if a.swapped else (label_a, label_b)
            submission = judging.Submission(
                left_label=left,
                right_label=right,
                preference=TO_DISPLAY[a.swapped][preference],
                comment=rest[0] if rest else "",
            )
            judging.submit(a.token, judge, submission)
            stored += 1
    return stored


def rejudge(judgment: Judgment, label_a: str, label_b: str, preference: str, submission_id: str = "again") -> None:
    """Change an existing judgment through the judging service (adds a revision; the latest counts)."""
    a = judgment.assignment
    left, right = (label_b, label_a) if a.swapped else (label_a, label_b)
    submission = judging.Submission(left, right, TO_DISPLAY[a.swapped][preference], "", submission_id)
    judging.submit(a.token, judgment.judge, submission)
