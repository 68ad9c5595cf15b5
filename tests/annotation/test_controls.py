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


def test_each_control_copies_a_different_item_while_there_are_enough(bob):
    session = make_session(n=10, k=1, judges=[bob], control_rate=0.3)
    sources = list(session.items.filter(is_control=True).values_list("control_source_id", flat=True))
    assert len(sources) == 4 and len(set(sources)) == 4
