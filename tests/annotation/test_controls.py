"""Control items: mixed in at a rate, indistinguishable, scored per judge, low scorers flagged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Assignment, ControlKind, SessionItem
from annotation.services import assignment as assigning
from annotation.services import controls, judging
from tests.annotation.helpers import answer, make_session

pytestmark = pytest.mark.django_db


def test_controls_are_added_at_the_rate_with_known_labels_and_k_slots(bob):
    session = make_session(n=18, k=2, judges=[bob], control_rate=0.1)
    made = list(session.items.filter(is_control=True))
    assert len(made) == controls.controls_needed(18, 0.1) == 2
    assert session.items.count() == 18  # reserved from the items, not copies of them
    kinds = {item.control_kind for item in made}
    assert kinds == {ControlKind.GOLD_AS_ANSWER, ControlKind.WRONG_ANSWER}
    for item in made:
        expected = item.expected_label_a or item.expected_label_b
        assert bool(item.expected_label_a) != bool(item.expected_label_b)
        shown = item.answer_a if item.expected_label_a else item.answer_b
        if item.control_kind == ControlKind.GOLD_AS_ANSWER:
            assert shown in item.gold_answers and expected == "correct"
        else:
            assert shown not in item.gold_answers and expected == "incorrect"
        assert Assignment.objects.filter(item=item).count() == 2
    # Adding again at the same rate adds nothing.
    assert controls.add_controls(session, 0.1) == []


def test_controls_need_gold_answers(bob):
    session = make_session(n=4, k=1, judges=[bob])
    SessionItem.objects.filter(session=session).update(gold_answers=[])
    with pytest.raises(controls.ControlError, match="need gold answers"):
        controls.add_controls(session, 0.2)
    assert not session.items.filter(is_control=True).exists()


def test_control_items_look_like_any_other_item_to_the_judge(bob_client, bob):
    session = make_session(n=4, k=1, judges=[bob], control_rate=0.5)
    while (a := assigning.next_assignment(session, bob)) is not None:
        html = bob_client.get(reverse("annotation:judge-item", args=[a.token])).content.decode()
        assert "control" not in html.lower()
        judging.submit(a.token, bob, answer())


def judge_all(session, judge, *, right: bool) -> None:
    """Label controls as expected (right=True) or the opposite way; everything else 'partial'."""
    while (a := assigning.next_assignment(session, judge)) is not None:
        item = a.item
        if item.is_control:
            expected_a = item.expected_label_a or "partial"
            expected_b = item.expected_label_b or "partial"
            flip = {"correct": "incorrect", "incorrect": "correct", "partial": "partial"}
            label_a, label_b = (expected_a, expected_b) if right else (flip[expected_a], flip[expected_b])
        else:
            label_a = label_b = "partial"
        left, right_label = (label_b, label_a) if a.swapped else (label_a, label_b)
        judging.submit(a.token, judge, answer(left, right_label, "tie"))


def test_the_session_page_shows_control_accuracy_and_flags_judges_below_the_threshold(alice_client, bob, carol):
    session = make_session(n=6, k=2, judges=[bob, carol], control_rate=0.25, control_threshold=0.8)
    judge_all(session, bob, right=True)
    judge_all(session, carol, right=False)
    scores = controls.control_scores(session)
    assert scores[bob.pk].accuracy == 1.0 and not scores[bob.pk].flagged
    assert scores[carol.pk].accuracy == 0.0 and scores[carol.pk].flagged
    html = alice_client.get(session.get_absolute_url()).content.decode()
    assert 'id="flagged-judges"' in html and "carol" in html.split('id="flagged-judges"')[1].split("</p>")[0]
    assert "bob" not in html.split('id="flagged-judges"')[1].split("</p>")[0]


def test_no_judge_sees_a_control_built_from_a_question_they_see_as_a_regular_item(bob, carol):
    from tests.conftest import make_user

    dave = make_user("dave", judge=True)
    session = make_session(n=12, k=2, judges=[bob, carol, dave], control_rate=0.25)
    assert session.items.filter(is_control=True).count() == 3
    handed = True
    while handed:  # the three judges take turns, as they would judging side by side
        handed = False
        for judge in (bob, carol, dave):
            if (a := assigning.next_assignment(session, judge)) is not None:
                judging.submit(a.token, judge, answer())
                handed = True
    judges_with_controls = 0
    for judge in (bob, carol, dave):
        seen = SessionItem.objects.filter(assignments__judge=judge)
        controls_seen = {
            " ".join(q.lower().split()) for q in seen.filter(is_control=True).values_list("question", flat=True)
        }
        regular_seen = {
            " ".join(q.lower().split()) for q in seen.filter(is_control=False).values_list("question", flat=True)
        }
        judges_with_controls += bool(controls_seen)
        assert not controls_seen & regular_seen, f"{judge} saw a control's question as a regular item too"
    assert judges_with_controls >= 2  # 3 controls x 2 slots, at most one each per judge
    # And no control anywhere repeats a regular item's question (the pool is reserved, not copied).
    questions = [" ".join(q.lower().split()) for q in session.items.values_list("question", flat=True)]
    assert len(questions) == len(set(questions)) == 12


def test_a_question_asked_by_two_items_is_never_reserved_as_a_control(bob):
    session = make_session(n=4, k=1, judges=[bob])
    twins = list(session.items.order_by("position")[:2])
    SessionItem.objects.filter(pk__in=[item.pk for item in twins]).update(question="The same question?")
    made = controls.add_controls(session, 0.5)
    assert len(made) == 2 and {item.pk for item in made}.isdisjoint({item.pk for item in twins})


def test_controls_are_only_reserved_from_items_no_judge_has_been_handed(bob):
    session = make_session(n=4, k=1, judges=[bob])
    for _ in range(3):
        a = assigning.next_assignment(session, bob)
        judging.submit(a.token, bob, answer())
    with pytest.raises(controls.ControlError, match="only 1 item.*not yet handed to any judge"):
        controls.add_controls(session, 0.5)
    assert not session.items.filter(is_control=True).exists()
    made = controls.add_controls(session, 0.25)
    assert [item.pk for item in made] == [a.item_id for a in Assignment.objects.filter(session=session, judge=None)]
