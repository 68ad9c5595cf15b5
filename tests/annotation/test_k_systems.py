"""Sessions over K >= 2 systems: the slots each matchup design creates, leasing and submitting a pair, blindness,
and the K = 2 session being exactly the two-system one."""

from __future__ import annotations

from collections import Counter

import pytest

from annotation.models import Assignment, ItemAnswer, Judgment, MatchupDesign, SessionSystem
from annotation.services.assignment import judge_progress, next_assignment
from annotation.services.judging import Submission, display, submit
from annotation.services.sessions import ItemData, SessionError, create_session

pytestmark = pytest.mark.django_db

SYSTEMS = ["recipe-zero-shot-run-11", "recipe-one-shot-run-12", "human-data-run-13", "base-model-run-14"]


def k_items(n: int, k: int) -> list[ItemData]:
    return [
        ItemData.from_answers(
            f"Question {i}?", [f"answer of system {s} to item {i}" for s in range(k)], context=f"Passage {i}."
        )
        for i in range(n)
    ]


def k_session(alice, *, n: int = 4, k: int = 4, design: str = MatchupDesign.ALL_PAIRS, **settings):
    return create_session(
        name="grid",
        system_a=SYSTEMS[0],
        system_b=SYSTEMS[1],
        more_systems=SYSTEMS[2:k],
        items=k_items(n, k),
        judges=[alice],
        matchup_design=design,
        **settings,
    )


def test_a_two_system_session_is_the_k2_case(alice):
    session = create_session(
        name="pair", system_a="a-run", system_b="b-run", items=k_items(3, 2), judges_per_item=2, judges=[alice]
    )
    assert session.n_systems == 2
    assert list(session.systems.values_list("position", "name")) == [(0, "a-run"), (1, "b-run")]
    assert set(Assignment.objects.filter(session=session).values_list("system_a", "system_b")) == {(0, 1)}
    assert Assignment.objects.filter(session=session).count() == 6
    assert ItemAnswer.objects.filter(item__session=session).count() == 6


def test_all_pairs_gives_every_item_every_pair_k_times(alice):
    session = k_session(alice, n=3, k=4, judges_per_item=2)
    assert session.pairs_per_item == 6
    per_item_pair = Counter(Assignment.objects.filter(session=session).values_list("item_id", "system_a", "system_b"))
    assert len(per_item_pair) == 3 * 6 and set(per_item_pair.values()) == {2}
    assert SessionSystem.objects.filter(session=session).count() == 4


def test_balanced_shows_every_pair_equally_often(alice):
    session = k_session(alice, n=12, k=4, design=MatchupDesign.BALANCED, pairs_per_item=2, judges_per_item=1)
    per_pair = Counter(Assignment.objects.filter(session=session).values_list("system_a", "system_b"))
    assert len(per_pair) == 6 and set(per_pair.values()) == {4}  # 24 slots over 6 pairs


def test_one_judge_judges_every_pair_of_an_item_blind(alice):
    session = k_session(alice, n=2, k=3, judges_per_item=1)
    seen = []
    while (assignment := next_assignment(session, alice)) is not None:
        shown = display(assignment)
        page = str(shown)
        assert not any(name in page for name in SYSTEMS)
        a, b = assignment.system_a, assignment.system_b
        texts = {f"answer of system {a} to item", f"answer of system {b} to item"}
        assert {answer.rsplit(" ", 1)[0] for answer in shown["answers"].values()} == texts
        submit(assignment.token, alice, Submission(left_label="correct", right_label="incorrect", preference="left"))
        seen.append((assignment.item_id, a, b))
    assert len(seen) == len(set(seen)) == 2 * 3
    stored = Judgment.objects.filter(session=session)
    assert sorted(stored.values_list("item_id", "system_a", "system_b")) == sorted(seen)


def test_adaptive_first_compares_pairs_never_compared(alice, bob):
    session = k_session(alice, n=6, k=4, design=MatchupDesign.ADAPTIVE, pairs_per_item=1, judges_per_item=1)
    session.judges.add(bob)
    pairs = []
    for _ in range(6):
        assignment = next_assignment(session, alice)
        pairs.append((assignment.system_a, assignment.system_b))
        submit(assignment.token, alice, Submission(left_label="correct", right_label="correct", preference="tie"))
    assert sorted(pairs) == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]


def test_bad_k_settings_are_named(alice):
    with pytest.raises(SessionError, match="own non-empty name"):
        create_session(name="x", system_a="a", system_b="b", more_systems=["a"], items=k_items(2, 3))
    with pytest.raises(SessionError, match="Item 1 has 2 answers for 3 systems"):
        create_session(name="x", system_a="a", system_b="b", more_systems=["c"], items=k_items(2, 2))
    with pytest.raises(SessionError, match="Pairs per item must be between 1 and 3"):
        k_session(alice, k=3, design=MatchupDesign.BALANCED, pairs_per_item=4)
    with pytest.raises(SessionError, match="two-system sessions only"):
        k_session(alice, k=3, control_rate=0.2)


def test_the_ranking_page_and_exports_of_a_judged_k_session(alice, client):
    from tests.conftest import make_user

    session = k_session(alice, n=4, k=3, judges_per_item=1)
    while (assignment := next_assignment(session, alice)) is not None:
        choice = ("left", "tie", "right")[assignment.sequence % 3]
        submit(assignment.token, alice, Submission(left_label="correct", right_label="partial", preference=choice))
    client.force_login(make_user("staff-ranking", staff=True))
    page = client.get(f"/analysis/sessions/{session.pk}/ranking/").content.decode()
    assert "ranking-table" in page and "win-rate-heatmap" in page and "forest-plot" in page
    assert all(name in page for name in SYSTEMS[:3])  # staff see the names
    for table in ("ranking", "pairwise"):
        for fmt in ("csv", "jsonl", "parquet"):
            response = client.get(f"/api/sessions/{session.pk}/export/{table}.{fmt}")
            assert response.status_code == 200, (table, fmt)
    csv = b"".join(client.get(f"/api/sessions/{session.pk}/export/pairwise.csv").streaming_content).decode()
    assert len(csv.strip().splitlines()) == 1 + 3


def test_a_judges_progress_counts_the_comparisons_they_will_see(alice, bob):
    """Each judging page is one comparison: with K = 3 and all pairs, 2 items are 6 pages for one judge, and
    "x of y" moves by one per page and ends at "6 of 6" (it used to count judged pairs against open items)."""
    session = k_session(alice, n=2, k=3, judges_per_item=2)
    session.judges.add(bob)
    start = judge_progress(session, alice)
    assert (start.done, start.total) == (0, 6)
    positions = []
    while (assignment := next_assignment(session, alice)) is not None:
        progress = judge_progress(session, alice)
        positions.append((progress.position, progress.total))
        submit(assignment.token, alice, Submission(left_label="correct", right_label="incorrect", preference="left"))
    assert positions == [(i, 6) for i in range(1, 7)]
    end = judge_progress(session, alice)
    assert (end.done, end.pending, end.available, end.percent) == (6, 0, 0, 100)
    assert judge_progress(session, bob).total == 6  # alice's slots leave bob's k-th slot of every pair open


def test_two_system_progress_still_counts_items(alice):
    session = create_session(
        name="pair", system_a="a-run", system_b="b-run", items=k_items(3, 2), judges_per_item=2, judges=[alice]
    )
    assignment = next_assignment(session, alice)
    progress = judge_progress(session, alice)
    assert (progress.position, progress.total) == (1, 3)
    submit(assignment.token, alice, Submission(left_label="correct", right_label="incorrect", preference="left"))
    assert (judge_progress(session, alice).done, judge_progress(session, alice).total) == (1, 3)
