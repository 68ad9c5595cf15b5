"""Matchup rules: the balanced schedule shows every pair equally often; the adaptive rule picks uncertain pairs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.stats.matchups import balanced_schedule, next_pair, ranked_pairs


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.integers(2, 9), st.data())
def test_balanced_schedule_shows_each_pair_equally_often_and_never_twice_on_an_item(n_items, k, data):
    n_pairs = k * (k - 1) // 2
    per_item = data.draw(st.integers(1, n_pairs))
    rows = balanced_schedule(n_items, k, per_item, seed=data.draw(st.integers(0, 100)))
    assert rows.shape == (n_items * per_item, 3)
    assert (rows[:, 1] != rows[:, 2]).all()
    pair = np.sort(rows[:, 1:], axis=1)
    counts = np.bincount(pair[:, 0] * k + pair[:, 1], minlength=k * k)[
        np.triu_indices(k, 1)[0] * k + np.triu_indices(k, 1)[1]
    ]
    assert counts.max() - counts.min() <= 1
    assert np.bincount(rows[:, 0], minlength=n_items).tolist() == [per_item] * n_items
    keyed = rows[:, 0] * k * k + pair[:, 0] * k + pair[:, 1]
    assert len(np.unique(keyed)) == len(keyed)


def test_balanced_schedule_is_seeded_and_lists_each_system_first_about_half_the_time():
    rows = balanced_schedule(300, 5, 4, seed=3)
    assert np.array_equal(rows, balanced_schedule(300, 5, 4, seed=3))
    assert not np.array_equal(rows, balanced_schedule(300, 5, 4, seed=4))
    first, second = np.bincount(rows[:, 1], minlength=5), np.bincount(rows[:, 2], minlength=5)
    assert (np.abs(first - second) <= 4).all()


def test_all_pairs_is_the_balanced_schedule_with_every_pair_per_item():
    rows = balanced_schedule(3, 4, 6)
    for item in range(3):
        pairs = {tuple(sorted(r[1:])) for r in rows[rows[:, 0] == item]}
        assert pairs == {(a, b) for a in range(4) for b in range(a + 1, 4)}


@pytest.mark.parametrize(
    ("n_items", "k", "per_item", "message"), [(5, 1, 1, "at least two"), (5, 3, 4, "between 1 and 3")]
)
def test_impossible_schedules_are_refused(n_items, k, per_item, message):
    with pytest.raises(ValueError, match=message):
        balanced_schedule(n_items, k, per_item)


def test_next_pair_connects_never_compared_pairs_first():
    counts = np.array([[0, 9, 9], [9, 0, 0], [9, 0, 0]])
    assert next_pair(counts, None) == (1, 2)


def test_next_pair_prefers_overlapping_intervals_then_fewest_comparisons():
    counts = np.full((4, 4), 10)
    counts[2, 3] = counts[3, 2] = 30
    intervals = np.array([[2.0, 3.0], [-0.2, 0.4], [0.0, 0.5], [0.1, 0.6]])  # 0 is clearly ahead
    # (1, 2) and (2, 3) overlap by 80% of the shorter interval, (1, 3) by 60%, pairs with 0 not at all
    assert next_pair(counts, intervals) == (1, 2)  # fewer comparisons than (2, 3)
    shown = np.zeros((4, 4), dtype=bool)
    shown[1, 2] = True
    assert next_pair(counts, intervals, shown_on_item=shown) == (2, 3)  # overlap before comparison counts
    available = np.array([True, True, False, True])
    assert next_pair(counts, intervals, available=available, shown_on_item=shown) == (1, 3)
    assert next_pair(counts, intervals, available=np.array([True, False, False, False])) is None


def test_next_pair_breaks_exact_ties_by_seed_and_replays():
    counts = np.full((5, 5), 3)
    picks = {next_pair(counts, None, seed=s) for s in range(40)}
    assert len(picks) > 3
    assert next_pair(counts, None, seed=(7, 12)) == next_pair(counts, None, seed=(7, 12))


@settings(max_examples=200, deadline=None)
@given(
    k=st.integers(2, 8),
    data=st.data(),
    seed=st.integers(0, 2**62),
)
def test_next_pair_is_the_first_ranked_pair_left_for_the_item(k, data, seed):
    """The hot lease takes the first of ranked_pairs that its judge lacks on the item (in SQL); that must be
    next_pair's choice for every counts, intervals and set of pairs already shown."""
    n_pairs = k * (k - 1) // 2
    upper = data.draw(st.lists(st.integers(0, 3), min_size=n_pairs, max_size=n_pairs))
    counts = np.zeros((k, k))
    counts[np.triu_indices(k, 1)] = upper
    counts += counts.T
    intervals = None
    if data.draw(st.booleans()):
        lows = data.draw(st.lists(st.floats(-2, 2), min_size=k, max_size=k))
        widths = data.draw(st.lists(st.sampled_from([0.0, 0.3, 1.0, float("nan")]), min_size=k, max_size=k))
        intervals = np.array([[lo, lo + w] for lo, w in zip(lows, widths, strict=True)])
    pairs = [(int(a), int(b)) for a, b in zip(*np.triu_indices(k, 1), strict=True)]
    shown_pairs = data.draw(st.lists(st.sampled_from(pairs), max_size=4))
    shown = np.zeros((k, k), dtype=bool)
    for a, b in shown_pairs:
        shown[b, a] = True  # either orientation counts as shown
    ranked = ranked_pairs(counts, intervals, seed=[seed, 7])
    every = {(int(a), int(b)) for a, b in zip(*np.triu_indices(k, 1), strict=True)}
    assert len(ranked) == n_pairs and set(ranked) == every
    left = [p for p in ranked if not (shown[p] or shown[p[::-1]])]
    assert next_pair(counts, intervals, shown_on_item=shown, seed=[seed, 7]) == (left[0] if left else None)
