"""Handing items to judges: k different judges per item, leases, resuming, fairness, closed sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer, make_session
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def drain(session, judge, now=None):
    """Judge everything this judge can get; return the items in the order they came."""
    seen = []
    while (a := assigning.next_assignment(session, judge, now=now)) is not None:
        seen.append(a.item_id)
        judging.submit(a.token, judge, answer())
    return seen


def test_each_item_gets_exactly_k_judgments_from_k_different_judges(bob, carol):
    dave = make_user("dave", judge=True)
    session = make_session(n=5, k=2, judges=[bob, carol, dave])
    for judge in (bob, carol, dave):
        drain(session, judge)
    for item in session.items.all():
        judges = list(item.judgments.values_list("judge_id", flat=True))
        assert len(judges) == 2
        assert len(set(judges)) == 2
    assert Assignment.objects.filter(session=session, submitted_at__isnull=True).count() == 0


def test_a_judge_never_gets_the_same_item_twice(bob):
    session = make_session(n=4, k=3, judges=[bob])
    seen = drain(session, bob)
    assert sorted(seen) == sorted(session.items.values_list("pk", flat=True))
    assert assigning.next_assignment(session, bob) is None


def test_asking_again_returns_the_item_already_in_hand(bob):
    session = make_session(n=4, k=1, judges=[bob])
    first = assigning.next_assignment(session, bob)
    again = assigning.next_assignment(session, bob)
    assert again.pk == first.pk and again.token == first.token
    assert Assignment.objects.filter(session=session, judge=bob).count() == 1


def test_an_abandoned_lease_returns_the_item_to_the_pool(bob, carol):
    session = make_session(n=1, k=1, judges=[bob, carol], lease_seconds=60)
    held = assigning.next_assignment(session, bob)
    assert assigning.next_assignment(session, carol) is None  # the only slot is leased
    later = timezone.now() + timedelta(seconds=61)
    taken = assigning.next_assignment(session, carol, now=later)
    assert taken is not None and taken.pk == held.pk
    assert taken.judge == carol and taken.token != held.token and taken.times_released == 1
    with pytest.raises(judging.AssignmentGone):
        judging.submit(held.token, bob, answer())
    judging.submit(taken.token, carol, answer())
    assert session.judgments.get().judge == carol


def test_an_expired_lease_nobody_took_can_still_be_submitted(bob):
    session = make_session(n=2, k=1, judges=[bob], lease_seconds=60)
    held = assigning.next_assignment(session, bob)
    later = timezone.now() + timedelta(minutes=5)
    result = judging.submit(held.token, bob, answer(), now=later)
    assert result.created and result.judgment.time_on_item_ms >= 5 * 60 * 1000 - 1000


def test_items_are_handed_out_block_by_block_in_a_different_order_per_judge():
    judges = [make_user(f"j{i}", judge=True) for i in range(6)]
    session = make_session(n=40, k=6, judges=judges, block_size=10)
    blocks = {item.pk: item.block for item in session.items.all()}
    orders = []
    for judge in judges:
        seen = drain(session, judge)
        assert [blocks[pk] for pk in seen] == sorted(blocks[pk] for pk in seen)  # never a later block first
        orders.append(seen)
    assert len({tuple(order) for order in orders}) > 1  # judges do not all see the same sequence


def test_left_right_placement_is_random_and_stored_with_its_seed(bob):
    session = make_session(n=40, k=1, judges=[bob])
    placements = []
    while (a := assigning.next_assignment(session, bob)) is not None:
        assert a.seed is not None and a.swapped == assigning.placement_for(a.seed)
        placements.append(a.swapped)
        judging.submit(a.token, bob, answer())
    assert 5 < sum(placements) < 35


def test_judges_outside_the_session_get_nothing(bob, carol):
    session = make_session(n=2, k=1, judges=[bob])
    with pytest.raises(assigning.NotAllowed):
        assigning.next_assignment(session, carol)


def test_a_session_open_to_all_judges_takes_any_judge_but_not_other_users(bob):
    session = make_session(n=2, k=1, open_to_all_judges=True)
    assert assigning.next_assignment(session, bob) is not None
    outsider = make_user("outsider")
    with pytest.raises(assigning.NotAllowed):
        assigning.next_assignment(session, outsider)


def test_a_closed_session_hands_out_and_accepts_nothing(bob):
    session = make_session(n=2, k=1, judges=[bob])
    held = assigning.next_assignment(session, bob)
    session.is_open = False
    session.save()
    with pytest.raises(assigning.SessionClosed):
        assigning.next_assignment(session, bob)
    with pytest.raises(assigning.SessionClosed):
        judging.submit(held.token, bob, answer())
    assert session.judgments.count() == 0


def test_progress_counts_what_the_judge_can_still_reach(bob, carol):
    session = make_session(n=5, k=1, judges=[bob, carol])
    assert assigning.judge_progress(session, bob).total == 5
    a = assigning.next_assignment(session, carol)
    judging.submit(a.token, carol, answer())
    progress = assigning.judge_progress(session, bob)
    assert (progress.done, progress.pending, progress.available, progress.total) == (0, 0, 4, 4)
    b = assigning.next_assignment(session, bob)
    judging.submit(b.token, bob, answer())
    assigning.next_assignment(session, bob)
    progress = assigning.judge_progress(session, bob)
    assert (progress.done, progress.pending, progress.position, progress.total) == (1, 1, 2, 4)


def test_progress_counts_items_not_slots_and_caps_the_count_on_large_sessions(bob, monkeypatch):
    session = make_session(n=7, k=3, judges=[bob])
    assert assigning.judge_progress(session, bob).total == 7
    monkeypatch.setattr(assigning, "PROGRESS_COUNT_CAP", 5)
    progress = assigning.judge_progress(session, bob)
    assert progress.capped and progress.total == 5


def test_an_open_slot_is_found_after_the_first_blocks_are_full(bob, carol):
    session = make_session(n=30, k=1, judges=[bob, carol], block_size=5)
    for _ in range(12):  # carol takes most of the first blocks and keeps two in hand
        a = assigning.next_assignment(session, carol)
        judging.submit(a.token, carol, answer())
    seen = drain(session, bob)
    assert len(seen) == 18 and len(set(seen)) == 18
