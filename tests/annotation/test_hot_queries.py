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


def _pairs_on_item(slot):
    others = Assignment.objects.filter(session=slot.session, judge=slot.judge, item=slot.item).exclude(pk=slot.pk)
    return {frozenset(pair) for pair in others.values_list("system_a", "system_b")}


def test_adaptive_first_lease_takes_the_first_ranked_pair_its_judge_lacks_and_a_second_lease_keeps_it(monkeypatch):
    judge = make_user("hq-adaptive-judge", judge=True)
    session = _k_session(judge, "adaptive", n=1, k=4, pairs_per_item=2)  # one item: two slots
    assigning.next_assignment(session, judge)  # the first visit joins the long way
    first = Assignment.objects.get(session=session, judge=judge, submitted_at__isnull=True)
    judging.submit(first.token, judge, answer(submission_id="first"))
    had = (first.system_a, first.system_b)
    other = next(p for p in [(0, 1), (0, 2), (1, 2), (2, 3)] if set(p) != set(had))
    order = [had, other, *[p for p in [(0, 1), (0, 3), (1, 3)] if set(p) not in (set(had), set(other))]]
    asked = []

    def ranked(session, lease_seed, counts):
        asked.append(lease_seed)
        return order

    monkeypatch.setattr(assigning, "_ranked_pairs", ranked)
    token = _fast_next(session, judge)
    slot = Assignment.objects.get(token=token)
    assert asked == [slot.seed]  # ranked with the lease's own seed, so a replay ranks alike
    assert (slot.system_a, slot.system_b) == other  # the judge already has the first ranked pair on this item
    # Given back (times_released counts it) with another pair: leased again, it keeps that pair.
    assigning.release(slot)
    Assignment.objects.filter(pk=slot.pk).update(system_a=1, system_b=3)
    order[:] = [(0, 2), (2, 3)]
    again = Assignment.objects.get(token=_fast_next(session, judge))
    assert again.pk == slot.pk and (again.system_a, again.system_b) == (1, 3)


def test_adaptive_lease_keeps_the_scheduled_pair_when_the_judge_has_every_other_on_the_item(monkeypatch):
    judge = make_user("hq-adaptive-full", judge=True)
    session = _k_session(judge, "adaptive", n=1, k=3, pairs_per_item=3)  # every pair of three systems
    slots = list(Assignment.objects.filter(session=session).order_by("slot"))
    Assignment.objects.filter(pk=slots[0].pk).update(system_a=0, system_b=1, judge=judge, submitted_at=timezone.now())
    Assignment.objects.filter(pk=slots[1].pk).update(system_a=0, system_b=2, judge=judge, submitted_at=timezone.now())
    Assignment.objects.filter(pk=slots[2].pk).update(system_a=1, system_b=2)
    assigning.next_assignment(session, judge)  # joins; no other slot is left, so that took slots[2]
    held = Assignment.objects.get(session=session, judge=judge, submitted_at__isnull=True)
    assert held.pk == slots[2].pk
    assigning.release(held)
    Assignment.objects.filter(pk=held.pk).update(times_released=0)  # as if never leased
    monkeypatch.setattr(assigning, "_ranked_pairs", lambda session, lease_seed, counts: [(0, 1), (0, 2)])
    token = _fast_next(session, judge)
    assert Assignment.objects.filter(token=token, pk=held.pk, system_a=1, system_b=2).exists()


def test_adaptive_leases_rank_with_counts_equal_to_a_full_count(monkeypatch):
    """The adaptive rule's counts are kept in memory per process and brought up to date by a delta read
    (annotation.services.pair_counts); when they must be fresh, on both paths they equal counting every
    judgment afresh."""
    from annotation.services import pair_counts

    monkeypatch.setattr(pair_counts, "FRESH_SECONDS", 0.0)  # every lease brings them up to date first
    judge, other = make_user("hq-count-judge", judge=True), make_user("hq-count-other", judge=True)
    # Nine slots on three items: the two judges take them all, so one of them gets an item twice.
    session = _k_session(judge, "adaptive", n=3, k=4, pairs_per_item=3)
    session.judges.add(other)
    real_pair, real_ranked = assigning._adaptive_pair, assigning._ranked_pairs
    counted, shown_on_item = [], []  # judgments the rule saw at each lease; pairs the judge had on its item

    def checked(counts):
        assert (counts == pair_counts.count_all(session)).all()
        counted.append(int(counts.sum()) // 2)

    def long_way(session, lease_seed, counts, shown):
        checked(counts)
        shown = list(shown)
        shown_on_item.append(len(shown))
        return real_pair(session, lease_seed, counts, shown)

    def hot_path(session, lease_seed, counts):
        checked(counts)
        return real_ranked(session, lease_seed, counts)

    monkeypatch.setattr(assigning, "_adaptive_pair", long_way)
    monkeypatch.setattr(assigning, "_ranked_pairs", hot_path)
    for i in range(6):
        for who in (judge, other):
            token = _fast_next(session, who) if i % 2 == 1 else None
            slot = Assignment.objects.get(token=token) if token else assigning.next_assignment(session, who)
            if slot is None:
                continue
            if token:  # the pair the statement chose is the rule's: the first ranked pair not on the item
                had = _pairs_on_item(slot)
                shown_on_item.append(len(had))
                lacking = [p for p in real_ranked(session, slot.seed, pair_counts.count_all(session))
                           if frozenset(p) not in had]  # fmt: skip
                assert slot.times_released or not lacking or (slot.system_a, slot.system_b) == lacking[0]
            judging.submit(slot.token, who, answer(submission_id=f"{who.pk}-{i}"))
    assert len(counted) >= 8 and counted[-1] > counted[0]  # leases on both paths, the counts grew
    assert any(shown_on_item)  # some slot's item already had another pair for its judge
    pair_counts.forget()
    assert (pair_counts.session_counts(session) == pair_counts.count_all(session)).all()


def test_adaptive_lease_with_recent_counts_is_one_statement_that_brings_them_up_to_date(
    monkeypatch, django_assert_num_queries
):
    """With counts brought up to date less than FRESH_SECONDS ago the lease reads nothing first; on PostgreSQL
    its one statement also reads the judgments newer than the counts, so the next lease's are current."""
    from django.db import connection

    from annotation.services import pair_counts

    monkeypatch.setattr(pair_counts, "FRESH_SECONDS", 3600.0)
    judge = make_user("hq-fresh-judge", judge=True)
    session = _k_session(judge, "adaptive", n=6, k=4, pairs_per_item=1)
    assigning.next_assignment(session, judge)
    for i in range(4):
        held = Assignment.objects.get(session=session, judge=judge, submitted_at__isnull=True)
        judging.submit(held.token, judge, answer(submission_id=f"f{i}"))
        member = assigning.membership(session.pk, judge)
        counted_before = pair_counts.recent(session)
        reads = 0 if counted_before is not None and connection.vendor == "postgresql" else 1
        with django_assert_num_queries(1 + reads):
            assert assigning.lease_for_member(member, judge) is not None
        if connection.vendor == "postgresql":
            assert (pair_counts.recent(session)[1] == pair_counts.count_all(session)).all()


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


@pytest.mark.parametrize("systems", [2, 4])
def test_open_comparisons_count_what_the_orm_query_of_free_unseen_slots_counts(systems):
    """judge_progress counts in SQL (hot_queries.open_comparisons) what not_seen_by(free_slots(...)) selects:
    distinct items, or (item, pair)s with K > 2, free (never leased or lease run out), not had by the judge,
    and with K > 2 not on an item the judge flagged."""
    judge, other = make_user(f"hq-open-{systems}", judge=True), make_user(f"hq-open-o-{systems}", judge=True)
    if systems == 2:
        session = make_session(n=6, k=2, judges=[judge, other])
    else:
        session = _k_session(judge, "all_pairs", n=4, k=systems)
        session.judges.add(other)
    assigning.next_assignment(session, judge)
    held = Assignment.objects.get(session=session, judge=judge, submitted_at__isnull=True)
    judging.submit(held.token, judge, answer(submission_id="o1"))
    if systems > 2:
        flagged = assigning.next_assignment(session, judge)
        judging.flag(flagged.token, judge, "unanswerable")
    taken = assigning.next_assignment(session, other)
    expired = assigning.next_assignment(session, judge)
    Assignment.objects.filter(pk=expired.pk).update(lease_expires_at=timezone.now() - timedelta(minutes=1))
    now = timezone.now()
    fields = ("item_id",) if systems == 2 else ("item_id", "system_a", "system_b")
    for who in (judge, other):
        expected = assigning.not_seen_by(assigning.free_slots(session, now), session, who)
        expected_count = expected.values(*fields).order_by().distinct().count()
        for limit in (1, 3, 1000):
            got = hot_queries.open_comparisons(session.pk, who.pk, now, pairs=systems > 2, limit=limit)
            assert got == min(limit, expected_count)
    assert taken is not None and expected_count > 0
