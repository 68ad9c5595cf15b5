"""Votes and orders: majority per order, positions turned into systems, the order-consistent final verdict
(inconsistent preferences count as ties), and the run's flip rate."""

from __future__ import annotations

import pytest

from analysis.engine.parsing import ParsedVerdict
from analysis.engine.runner import check_votes, plan
from analysis.engine.templates import JudgePair
from analysis.engine.verdicts import Vote, aggregate, order_verdict, pair_verdict, run_summary, strict_majority
from generation.engine.base import SamplingParams


def v(label_1: str | None, label_2: str | None, pref: str | None) -> ParsedVerdict:
    return ParsedVerdict(label_1, label_2, pref, "json" if pref else None)  # type: ignore[arg-type]


def test_a_strict_majority_needs_more_votes_than_any_other_value():
    assert strict_majority(["a", "b", "a"]) == ("a", 2)
    assert strict_majority(["a", "b"]) == (None, 1)
    assert strict_majority([None, "b", None]) == ("b", 1)
    assert strict_majority([]) == (None, 0)


def test_an_order_takes_the_majority_of_its_complete_votes_and_counts_the_rest():
    ab = order_verdict(
        "ab",
        [v("correct", "incorrect", "1"), v("correct", "partial", "1"), v("correct", None, "2"), v(None, None, None)],
    )
    assert (ab.n_outputs, ab.n_votes, ab.n_unparseable) == (4, 2, 2)
    assert (ab.label_1, ab.label_2, ab.preference, ab.preference_share) == ("correct", None, "1", 1.0)


def test_positions_become_systems_according_to_the_order():
    ab = order_verdict("ab", [v("correct", "incorrect", "1")])
    ba = order_verdict("ba", [v("incorrect", "correct", "2")])
    assert ab.in_systems() == ("correct", "incorrect", "a")
    assert ba.in_systems() == ("correct", "incorrect", "a")
    final = pair_verdict(7, ab, ba)
    assert (final.label_a, final.label_b, final.preference, final.status) == ("correct", "incorrect", "a", "consistent")
    assert final.labels_consistent == (True, True) and not final.first_position_both


def test_a_verdict_that_follows_the_position_is_inconsistent_and_counts_as_a_tie():
    ab = order_verdict("ab", [v("correct", "correct", "1")])
    ba = order_verdict("ba", [v("correct", "correct", "1")])  # answer 1 wins both times: A, then B
    final = pair_verdict("item-3", ab, ba)
    assert (final.preference, final.status, final.first_position_both) == ("tie", "inconsistent", True)
    assert (final.label_a, final.label_b) == ("correct", "correct")


def test_labels_that_change_with_the_order_are_dropped_not_picked():
    ab = order_verdict("ab", [v("correct", "partial", "1")])
    ba = order_verdict("ba", [v("partial", "partial", "tie")])  # A's answer (shown second) now partial
    final = pair_verdict(1, ab, ba)
    assert (final.label_a, final.label_b) == (None, "partial")
    assert final.labels_consistent == (False, True)
    assert (final.preference, final.status) == ("tie", "inconsistent")


def test_a_pair_with_an_unparseable_order_is_incomplete():
    final = pair_verdict(
        1, order_verdict("ab", [v("correct", "partial", "1")]), order_verdict("ba", [v(None, None, None)])
    )
    assert (final.preference, final.status, final.label_a, final.confidence) == (None, "incomplete", None, None)
    assert final.labels_consistent == (None, None)


def test_orders_must_come_as_ab_then_ba():
    ab = order_verdict("ab", [])
    with pytest.raises(ValueError, match="expected orders"):
        pair_verdict(1, ab, ab)


def votes_for(key, ab_votes, ba_votes):
    return [Vote(key, "ab", i, "raw", p) for i, p in enumerate(ab_votes)] + [
        Vote(key, "ba", i, "raw", p) for i, p in enumerate(ba_votes)
    ]


def test_the_run_summary_counts_flips_unparseable_outputs_and_first_position_wins():
    votes = (
        votes_for(1, [v("correct", "incorrect", "1")], [v("incorrect", "correct", "2")])  # consistent, A
        + votes_for(2, [v("correct", "correct", "1")], [v("correct", "correct", "1")])  # flips with position
        + votes_for(3, [v("partial", "correct", "2")], [v("correct", "partial", "1")])  # consistent, B
        + votes_for(4, [v(None, None, None)], [v("correct", "correct", "tie")])  # incomplete
    )
    verdicts = aggregate(votes, pair_keys=[1, 2, 3, 4, 5])
    assert [verdicts[k].status for k in (1, 2, 3, 4, 5)] == [
        "consistent",
        "inconsistent",
        "consistent",
        "incomplete",
        "incomplete",
    ]
    summary = run_summary(verdicts.values())
    assert summary["n_pairs"] == 5 and summary["n_outputs"] == 8 and summary["n_unparseable"] == 1
    assert (summary["n_consistent"], summary["n_inconsistent"], summary["n_incomplete"]) == (2, 1, 2)
    assert summary["position_flip_rate"] == pytest.approx(1 / 3)
    assert summary["n_first_position_both"] == 1
    # decisive order verdicts: 1, 2, 1, 1, 2, 1 -> answer 1 won 4 of 6
    assert summary["first_position_win_share"] == pytest.approx(4 / 6)


def test_majority_of_votes_decides_each_order_before_the_orders_are_compared():
    votes = votes_for(
        9,
        [v("correct", "incorrect", "1"), v("correct", "incorrect", "1"), v("correct", "incorrect", "2")],
        [v("incorrect", "correct", "2"), v("incorrect", "correct", "tie"), v("incorrect", "correct", "2")],
    )
    final = aggregate(votes)[9]
    assert (final.preference, final.status) == ("a", "consistent")
    assert final.confidence == pytest.approx(2 / 3)


def test_a_vote_stored_twice_is_refused():
    vote = Vote(1, "ab", 0, "raw", v("correct", "correct", "tie"))
    with pytest.raises(ValueError, match="appears twice"):
        aggregate([vote, vote])


def test_the_plan_covers_both_orders_of_every_pair_for_every_vote_and_skips_what_is_done():
    pairs = [JudgePair(k, "q", "a", "b") for k in ("x", "y")]
    full = plan(pairs, votes=2)
    assert [r.key for r in full] == [
        ("x", "ab", 0), ("x", "ba", 0), ("y", "ab", 0), ("y", "ba", 0),
        ("x", "ab", 1), ("x", "ba", 1), ("y", "ab", 1), ("y", "ba", 1),
    ]  # fmt: skip
    rest = plan(pairs, votes=2, done={("x", "ab", 0), ("y", "ba", 1)})
    assert len(rest) == 6 and ("x", "ab", 0) not in {r.key for r in rest}
    with pytest.raises(ValueError, match="pair key 'x' appears twice"):
        plan([*pairs, pairs[0]], votes=1)


def test_several_votes_need_sampling():
    check_votes(1, SamplingParams())
    check_votes(5, SamplingParams(temperature=0.7))
    with pytest.raises(ValueError, match="need sampling"):
        check_votes(3, SamplingParams())
    with pytest.raises(ValueError, match="at least 1"):
        check_votes(0, SamplingParams(temperature=1.0))
