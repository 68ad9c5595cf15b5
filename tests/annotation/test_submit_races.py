"""A submit reads without locking and then writes once, with the write's own conditions repeating the checks
(issue 12: fewer round trips). These tests put the other judge's (or tab's) move exactly between the read and
the write, and check that the write notices: a slot that went to another judge is refused with nothing
stored, a revision that came first is kept and the late one stored after it, a twin request stores once."""

from __future__ import annotations

import pytest

from annotation.models import Assignment, Judgment, JudgmentRevision
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer, make_session

pytestmark = pytest.mark.sqlite_smoke  # the budgets / write path hold on the SQLite default too


def between_read_and_write(monkeypatch, move) -> None:
    """Run `move` once, right after submit()'s first read: the state changes under the read's feet."""
    real = judging._submit_target
    calls = []

    def read_then_move(*args, **kwargs):
        found = real(*args, **kwargs)
        if not calls:
            calls.append(1)
            move()
        return found

    monkeypatch.setattr(judging, "_submit_target", read_then_move)


@pytest.mark.django_db
def test_a_slot_leased_to_another_judge_after_the_read_is_refused_and_nothing_is_stored(monkeypatch, bob, carol):
    session = make_session(n=1, k=1, judges=[bob, carol])
    held = assigning.next_assignment(session, bob)
    # carol takes the slot once bob's lease has run out, between bob's read and his write
    between_read_and_write(monkeypatch, lambda: Assignment.objects.filter(pk=held.pk).update(
        judge=carol, token="carols-token", lease_expires_at=None,
    ))  # fmt: skip
    with pytest.raises(judging.AssignmentGone):
        judging.submit(held.token, bob, answer(submission_id="late"))
    assert not Judgment.objects.exists() and not JudgmentRevision.objects.exists()
    slot = Assignment.objects.get(pk=held.pk)
    assert (slot.judge_id, slot.token, slot.submitted_at) == (carol.pk, "carols-token", None)


@pytest.mark.django_db
def test_a_revision_stored_after_the_read_is_kept_and_the_late_one_comes_after_it(monkeypatch, bob):
    session = make_session(n=1, k=1, judges=[bob])
    held = assigning.next_assignment(session, bob)
    judging.submit(held.token, bob, answer(submission_id="one"))
    between_read_and_write(
        monkeypatch, lambda: judging.submit(held.token, bob, answer(preference="tie", submission_id="other-tab"))
    )
    result = judging.submit(held.token, bob, answer(preference="right", submission_id="this-tab"))
    assert result.changed and result.judgment.revisions_count == 3
    judgment = Judgment.objects.get()
    assert (judgment.preference, judgment.revisions_count) == ("a" if held.swapped else "b", 3)
    numbers = list(judgment.revisions.order_by("number").values_list("number", "submission_id"))
    assert numbers == [(1, "one"), (2, "other-tab"), (3, "this-tab")]


@pytest.mark.django_db
def test_a_twin_first_submit_after_the_read_stores_once(monkeypatch, bob):
    session = make_session(n=1, k=1, judges=[bob])
    held = assigning.next_assignment(session, bob)
    between_read_and_write(monkeypatch, lambda: judging.submit(held.token, bob, answer(submission_id="same")))
    result = judging.submit(held.token, bob, answer(submission_id="same"))
    assert (result.created, result.changed) == (False, False)
    assert Judgment.objects.count() == 1 and JudgmentRevision.objects.count() == 1


@pytest.mark.django_db
def test_a_session_closed_after_the_read_accepts_nothing(monkeypatch, bob):
    session = make_session(n=1, k=1, judges=[bob])
    held = assigning.next_assignment(session, bob)
    between_read_and_write(monkeypatch, lambda: type(session).objects.filter(pk=session.pk).update(is_open=False))
    with pytest.raises(assigning.SessionClosed):
        judging.submit(held.token, bob, answer())
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=held.pk).submitted_at is None
