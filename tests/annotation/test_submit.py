"""Submitting judgments: idempotent, revisions on change, system-terms storage, time on item."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Judgment, JudgmentRevision
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer, make_session

pytestmark = [pytest.mark.django_db, pytest.mark.sqlite_smoke]  # the SQLite write path too


def test_the_same_submission_twice_stores_one_judgment_and_one_revision(bob):
    session = make_session(n=2, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    first = judging.submit(a.token, bob, answer(submission_id="abc"))
    second = judging.submit(a.token, bob, answer(submission_id="abc"))
    assert first.created and first.changed
    assert not second.created and not second.changed
    assert Judgment.objects.count() == 1
    assert JudgmentRevision.objects.count() == 1


def test_changing_a_judgment_keeps_every_revision_and_the_latest_wins(bob):
    session = make_session(n=2, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    t0 = timezone.now()
    judging.submit(a.token, bob, answer("correct", "incorrect", "left", submission_id="s1"), now=t0)
    judging.submit(a.token, bob, answer("partial", "incorrect", "tie", submission_id="s2"), now=t0 + timedelta(1))
    judgment = Judgment.objects.get()
    revisions = list(JudgmentRevision.objects.order_by("number"))
    assert [r.number for r in revisions] == [1, 2]
    assert revisions[0].submitted_at < revisions[1].submitted_at
    assert judgment.revisions_count == 2 and judgment.preference == "tie"
    assert judgment.updated_at == revisions[1].submitted_at and judgment.created_at == revisions[0].submitted_at


def test_resubmitting_unchanged_values_adds_no_revision(bob):
    session = make_session(n=1, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    judging.submit(a.token, bob, answer(submission_id="s1"))
    result = judging.submit(a.token, bob, answer(submission_id="s2"))
    assert not result.changed
    assert JudgmentRevision.objects.count() == 1


def test_labels_are_stored_for_the_system_whatever_side_it_was_shown_on(bob):
    session = make_session(n=30, k=1, judges=[bob])
    seen_swapped = set()
    while (a := assigning.next_assignment(session, bob)) is not None:
        judging.submit(a.token, bob, answer("correct", "incorrect", "left"))
        judgment = Judgment.objects.get(assignment=a)
        # The left answer is system B's when swapped.
        left_system = "b" if a.swapped else "a"
        assert judgment.preference == left_system
        assert (judgment.label_a, judgment.label_b) == (
            ("incorrect", "correct") if a.swapped else ("correct", "incorrect")
        )
        shown = judging.display(a)["answers"]["left"]
        assert shown == (a.item.answer_b if a.swapped else a.item.answer_a)
        seen_swapped.add(a.swapped)
    assert seen_swapped == {True, False}


def test_time_on_item_is_measured_by_the_server_from_assignment_to_submit(bob):
    session = make_session(n=1, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    judging.submit(a.token, bob, answer(), now=a.assigned_at + timedelta(seconds=12.5))
    assert Judgment.objects.get().time_on_item_ms == 12500


@pytest.mark.parametrize(
    ("submission", "message"),
    [
        (answer(left=""), "Choose a label for answer A"),
        (answer(right="excellent"), "Unknown label 'excellent' for answer B"),
        (answer(preference=""), "Say which answer is better"),
        (answer(preference="both"), "Unknown preference"),
    ],
)
def test_an_incomplete_or_invalid_submission_is_refused_with_a_clear_message(bob, submission, message):
    session = make_session(n=1, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    with pytest.raises(judging.JudgingError, match=message):
        judging.submit(a.token, bob, submission)
    assert Judgment.objects.count() == 0


def test_preference_and_comment_are_dropped_when_the_session_does_not_ask_for_them(bob):
    session = make_session(n=1, k=1, judges=[bob], ask_preference=False, ask_comment=False)
    a = assigning.next_assignment(session, bob)
    judging.submit(a.token, bob, answer(preference="", comment="sneaky"))
    judgment = Judgment.objects.get()
    assert judgment.preference == "" and judgment.comment == ""


def test_another_judges_token_is_not_accepted(bob, carol):
    session = make_session(n=1, k=2, judges=[bob, carol])
    a = assigning.next_assignment(session, bob)
    with pytest.raises(judging.AssignmentGone):
        judging.submit(a.token, carol, answer())
    assert Judgment.objects.count() == 0
