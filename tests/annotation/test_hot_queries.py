"""The hot path's hand-written reads and lease (annotation.services.hot_queries) give what the ORM gives.

The statements replace ORM queries for CPU's sake (issue 12), so the instances they build must be the ORM's,
value for value (datetimes aware, booleans as booleans, JSON decoded), and their counts and guards must follow
the same rules. Run on SQLite and, under .ci/run, on PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Assignment, JudgingSession, SessionItem
from annotation.services import assignment as assigning
from annotation.services import hot_queries, judging
from tests.annotation.helpers import answer, make_session
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


@pytest.fixture
def judged_session():
    judge = make_user("hq-judge", judge=True)
    session = make_session(n=4, k=1, judges=[judge])
    first = assigning.next_assignment(session, judge)
    judging.submit(first.token, judge, answer(comment="ünïcode 日本語", submission_id="s-1"))
    second = assigning.next_assignment(session, judge)
    return session, judge, first, second


def test_the_page_read_builds_the_instances_the_orm_builds(judged_session):
    session, judge, first, second = judged_session
    for held in (first, second):
        expected = Assignment.objects.select_related("session", "item", "judgment").get(pk=held.pk)
        got = hot_queries.page_assignment(held.token, judge.pk)
        assert _fields(got) == _fields(expected)
        assert _fields(got.session) == _fields(expected.session)
        assert _fields(got.item) == _fields(expected.item)
        assert got.session.accuracy_labels == expected.session.accuracy_labels  # JSON decoded, not text
        assert isinstance(got.session.is_open, bool) and got.assigned_at.tzinfo is not None
        if held is first:
            assert _fields(got.judgment) == _fields(expected.judgment)
            assert got.judgment.assignment is got
        else:
            assert getattr(got, "judgment", None) is None
        assert (got.judge_in_group, got.judged, got.holding) == (True, 1, True)


def test_the_page_read_finds_only_the_judges_own_token(judged_session):
    _session, judge, first, _second = judged_session
    other = make_user("hq-other", judge=True)
    assert hot_queries.page_assignment(first.token, other.pk) is None
    assert hot_queries.page_assignment("no-such-token", judge.pk) is None


def test_the_submit_read_knows_a_stored_submission_id(judged_session):
    _session, judge, first, second = judged_session
    assert hot_queries.submit_target(first.token, judge.pk, "s-1").repeated is True
    assert hot_queries.submit_target(first.token, judge.pk, "s-2").repeated is False
    assert hot_queries.submit_target(first.token, judge.pk, None).repeated is False
    fresh = hot_queries.submit_target(second.token, judge.pk, "s-1")
    assert fresh.repeated is False and getattr(fresh, "judgment", None) is None


def test_membership_counts_what_the_judge_did_and_holds(judged_session):
    session, judge, first, second = judged_session
    member = hot_queries.membership(session.pk, judge.pk)
    assert (member.done, member.last_sequence) == (1, 2)
    assert (member.pending_id, member.pending_token) == (second.pk, second.token)
    assert (member.in_group, member.judging, member.named) == (True, True, True)
    assert _fields(member.session) == _fields(JudgingSession.objects.get(pk=session.pk))
    stranger = make_user("hq-stranger")
    assert hot_queries.membership(session.pk, stranger.pk) is None  # never joined


def test_the_lease_takes_a_free_slot_once_and_never_a_second_one(judged_session):
    session, judge, _first, second = judged_session
    member = hot_queries.membership(session.pk, judge.pk)
    now = timezone.now()
    lease = {"seed": 7, "swapped": False, "now": now, "expires": now + timedelta(minutes=5), "prime": 2_147_483_647}
    # The judge still holds `second`: the statement's own guard refuses a second slot.
    assert not hot_queries.lease_new(member, token="t-guarded", **lease)
    judging.submit(second.token, judge, answer(submission_id="s-2"))
    member = hot_queries.membership(session.pk, judge.pk)
    assert hot_queries.lease_new(member, token="t-third", **lease)
    third = Assignment.objects.get(token="t-third")
    assert (third.judge_id, third.sequence, third.submitted_at) == (judge.pk, 3, None)
    assert third.item_id not in {_first.item_id, second.item_id}
    assert SessionItem.objects.filter(session=session).count() == 4


def test_renewal_restarts_the_clock_only_of_a_lease_that_ran_out(judged_session):
    _session, judge, _first, second = judged_session
    assigned = Assignment.objects.get(pk=second.pk).assigned_at
    later = timezone.now() + timedelta(seconds=5)
    assert hot_queries.renew(second.pk, judge.pk, later, later + timedelta(minutes=10))
    assert Assignment.objects.get(pk=second.pk).assigned_at == assigned  # lease still running: clock kept
    expired = later + timedelta(hours=2)
    assert hot_queries.renew(second.pk, judge.pk, expired, expired + timedelta(minutes=10))
    assert Assignment.objects.get(pk=second.pk).assigned_at == expired
    other = make_user("hq-renew-other", judge=True)
    assert not hot_queries.renew(second.pk, other.pk, expired, expired)  # not theirs


# --- K > 2 systems: the same one-statement lease, with (item, pair) as what a judge must not see twice --------


def _fast_next(session, judge):
    """The hot path's next item: membership, then the one-statement lease (None: it found nothing)."""
    member = assigning.membership(session.pk, judge)
    return assigning.lease_for_member(member, judge)


def _k_session(judge, design, n=3, k=3, **settings):
    from annotation.services.sessions import ItemData, create_session

    items = [ItemData.from_answers(f"Question {i}?", [f"s{s} on {i}" for s in range(k)]) for i in range(n)]
    names = [f"grid-run-{s}" for s in range(k)]
    return create_session(
        name="grid", system_a=names[0], system_b=names[1], more_systems=names[2:], items=items, judges=[judge],
        matchup_design=design, judges_per_item=1, **settings,
    )  # fmt: skip


def test_k_systems_lease_every_item_pair_once_and_skip_flagged_items():
    judge = make_user("hq-k-judge", judge=True)
    session = _k_session(judge, "all_pairs", n=3, k=3)
    assigning.next_assignment(session, judge)  # first visit joins the long way; the rest is the hot path
    flagged = Assignment.objects.get(session=session, judge=judge, submitted_at__isnull=True)
    judging.flag(flagged.token, judge, "unanswerable")
    seen = []
    while (token := _fast_next(session, judge)) is not None:
        slot = Assignment.objects.get(token=token)
        seen.append((slot.item_id, slot.system_a, slot.system_b))
        judging.submit(token, judge, answer(submission_id=token))
    assert len(seen) == len(set(seen)) == 2 * 3  # the two unflagged items x 3 pairs, each once
    assert flagged.item_id not in {item for item, _a, _b in seen}
    assert assigning.next_assignment(session, judge) is None  # the long way agrees nothing is left


def test_adaptive_first_lease_decides_the_pair_and_a_second_lease_keeps_it(monkeypatch):
    judge = make_user("hq-adaptive-judge", judge=True)
    session = _k_session(judge, "adaptive", n=4, k=4, pairs_per_item=1)
    assigning.next_assignment(session, judge)
    held = Assignment.objects.get(session=session, judge=judge, submitted_at__isnull=True)
    judging.submit(held.token, judge, answer(submission_id="first"))
    decided = []

    def choose(session, slot_pk, counts, shown):
        scheduled = Assignment.objects.values_list("system_a", "system_b").get(pk=slot_pk)
        decided.append(slot_pk)
        return (1, 3) if scheduled != (1, 3) else (0, 2)

    monkeypatch.setattr(assigning, "_adaptive_pair", choose)
    token = _fast_next(session, judge)
    slot = Assignment.objects.get(token=token)
    assert decided == [slot.pk] and (slot.system_a, slot.system_b) in {(1, 3), (0, 2)}
    # A slot that was leased before (times_released counts a lease that ran out or was given back) keeps its pair.
    judging.submit(token, judge, answer(submission_id="second"))
    again = _fast_next(session, judge)  # a first lease too: decided
    Assignment.objects.filter(token=again).update(times_released=1, system_a=0, system_b=1)
    before = list(decided)
    assigning._first_lease_decides_pair(session, again, judge)
    assert decided == before and len(before) == 2
    assert Assignment.objects.filter(token=again, system_a=0, system_b=1).exists()


def test_adaptive_leases_see_every_judgment_counted_by_pair_as_a_full_count_would(monkeypatch):
    """The adaptive rule's counts are kept in memory and brought up to date by a delta read at each first
    lease (annotation.services.pair_counts); on both paths they equal counting every judgment afresh."""
    from annotation.services import pair_counts

    judge, other = make_user("hq-count-judge", judge=True), make_user("hq-count-other", judge=True)
    session = _k_session(judge, "adaptive", n=5, k=4, pairs_per_item=2)
    session.judges.add(other)
    real = assigning._adaptive_pair
    checked, leasing = [], []

    def compare(session, slot_pk, counts, shown):
        assert (counts == pair_counts.count_all(session)).all()
        slot = Assignment.objects.get(pk=slot_pk)  # and the pairs its judge already has on its item
        others = Assignment.objects.filter(session=session, judge=leasing[0], item=slot.item).exclude(pk=slot_pk)
        assert sorted(shown) == sorted(others.values_list("system_a", "system_b"))
        checked.append(len(shown))
        checked[-1] = (int(counts.sum()) // 2, checked[-1])
        return real(session, slot_pk, counts, shown)

    monkeypatch.setattr(assigning, "_adaptive_pair", compare)
    for i in range(6):
        for who in (judge, other):
            leasing[:] = [who]
            token = _fast_next(session, who) if i % 2 == 1 else None
            slot = Assignment.objects.get(token=token) if token else assigning.next_assignment(session, who)
            if slot is None:
                continue
            judging.submit(slot.token, who, answer(submission_id=f"{who.pk}-{i}"))
    assert len(checked) >= 8 and checked[-1][0] > checked[0][0]  # first leases on both paths, the counts grew
    assert any(n_shown for _, n_shown in checked)  # some slot's item already had another pair for its judge
    pair_counts.forget()
    assert (pair_counts.session_counts(session) == pair_counts.count_all(session)).all()


def test_a_k_system_page_read_brings_the_pairs_two_answers(django_assert_num_queries):
    judge = make_user("hq-k-texts", judge=True)
    session = _k_session(judge, "all_pairs", n=2, k=4)
    assigning.next_assignment(session, judge)
    slot = Assignment.objects.get(session=session, judge=judge, submitted_at__isnull=True)
    Assignment.objects.filter(pk=slot.pk).update(system_a=1, system_b=3)
    page = hot_queries.page_assignment(slot.token, judge.pk)
    question = page.item.question.removeprefix("Question ").removesuffix("?")
    with django_assert_num_queries(0):
        assert judging.shown_answers(page) == (f"s1 on {question}", f"s3 on {question}")
    Assignment.objects.filter(pk=slot.pk).update(system_a=0, system_b=1)
    page = hot_queries.page_assignment(slot.token, judge.pk)
    assert not hasattr(page, "shown_texts")  # systems 0 and 1 are on the item: nothing more is read
    with django_assert_num_queries(0):
        assert judging.shown_answers(page) == (page.item.answer_a, page.item.answer_b)
