"""Bootstrap: replaying the same item indices gives the naive figures; the pattern shortcut gives the same intervals."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.stats.bootstrap import group_rows, index_weights, multinomial_weights, percentile_interval
from analysis.stats.summary import bootstrap_groups, prepare_session
from analysis.stats.synthetic import synthetic_session
from tests.support import stats_reference as reference

TOL = 1e-9


@pytest.mark.parametrize(
    "high",
    [4, 10_000, 2**40],  # bincount path, sorted path, and rows too wide to pack into one integer
)
def test_grouped_patterns_reconstruct_every_row(high):
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 4, size=(3000, 3)) * (high // 4)
    keys[:, 0] += rng.integers(0, 2, size=3000)
    patterns = group_rows(keys)
    assert np.array_equal(keys[patterns.representatives][patterns.inverse], keys)
    assert np.array_equal(patterns.counts, np.bincount(patterns.inverse))
    assert patterns.n_patterns == len(np.unique(keys, axis=0))


def test_index_weights_count_each_pattern_per_replicate():
    rng = np.random.default_rng(1)
    inverse = rng.integers(0, 7, size=50)
    indices = rng.integers(0, 50, size=(4, 50))
    weights = index_weights(inverse, 7, indices)
    for r in range(4):
        assert weights[r].tolist() == np.bincount(inverse[indices[r]], minlength=7).tolist()


def _assert_same(fast: float, naive: float | None, what: str) -> None:
    if naive is None:
        assert not np.isfinite(fast), f"{what}: fast {fast}, naive undefined"
    else:
        assert abs(fast - naive) <= TOL, f"{what}: fast {fast}, naive {naive}"


@pytest.mark.parametrize(
    ("n_items", "n_judges", "missing"),
    [(60, 4, 0.2), (25, 2, 0.0), (12, 3, 0.45)],
)
def test_fast_replicates_equal_naive_library_calls_on_the_same_item_indices(n_items, n_judges, missing):
    data = synthetic_session(n_items, n_judges, missing=missing, control_rate=0.1, seed=n_items)
    session = prepare_session(**data)
    items = session.resampled_items
    rng = np.random.default_rng(7)
    indices = rng.integers(0, len(items), size=(25, len(items)))
    fast = {
        f"{name}/{stat}": values
        for name, group in bootstrap_groups(session).items()
        for stat, values in group.replay(indices).items()
    }
    labels_a, labels_b = session.labels_a[items], session.labels_b[items]
    for r, row in enumerate(indices):
        naive = reference.resampled_statistics(labels_a[row], labels_b[row])
        assert set(naive) == set(fast)
        for key, value in naive.items():
            _assert_same(fast[key][r], value, f"replicate {r} {key}")


def test_replicates_where_everyone_used_one_label_are_undefined_on_both_paths():
    labels_a = np.array([[2, 2, 2]] * 5 + [[0, 0, 1]])  # one odd item: left out of a third of the resamples
    labels_b = np.array([[2, 2, -1]] * 6)
    session = prepare_session(labels_a, labels_b)
    indices = np.random.default_rng(2).integers(0, 6, size=(40, 6))
    fast = {
        f"{name}/{stat}": values
        for name, group in bootstrap_groups(session).items()
        for stat, values in group.replay(indices).items()
    }
    undefined = 0
    for r, row in enumerate(indices):
        naive = reference.resampled_statistics(labels_a[row], labels_b[row])
        undefined += naive["joint/fleiss_kappa"] is None
        for key, value in naive.items():
            _assert_same(fast[key][r], value, f"replicate {r} {key}")
    assert 0 < undefined < len(indices)


def test_point_estimates_equal_the_naive_figures_on_all_items():
    data = synthetic_session(80, 5, missing=0.3, seed=11)
    session = prepare_session(**data)
    items = session.resampled_items
    naive = reference.resampled_statistics(session.labels_a[items], session.labels_b[items])
    for name, group in bootstrap_groups(session).items():
        for stat, value in group.point().items():
            _assert_same(value, naive[f"{name}/{stat}"], f"{name}/{stat}")


def test_pattern_bootstrap_gives_the_same_intervals_as_resampling_items():
    """Equal in distribution, not draw by draw: compare 95% intervals from 1,000 replicates each.

    With 1,000 replicates a percentile endpoint moves by about 2-3% of the interval width between two
    independent runs, so 15% of the width is a 5-sigma tolerance that a wrong shortcut would not meet.
    """
    data = synthetic_session(8000, 5, missing=0.1, seed=5)
    session = prepare_session(**data)
    groups = bootstrap_groups(session)
    rng = np.random.default_rng(99)
    n = len(session.resampled_items)
    for name in ("joint", "cohen_kappa:0:1", "cohen_kappa:3:4"):  # every pair shares one code path
        group = groups[name]
        by_pattern = group.draw(1000, rng)
        by_index: dict[str, list[np.ndarray]] = {}
        for _ in range(10):  # chunks keep the (replicates, items) index matrix small
            for stat, values in group.replay(rng.integers(0, n, size=(100, n))).items():
                by_index.setdefault(stat, []).append(values)
        for stat, values in by_pattern.items():
            low_p, high_p = percentile_interval(values)
            low_i, high_i = percentile_interval(np.concatenate(by_index[stat]))
            width = high_i - low_i
            assert width > 0
            assert abs(low_p - low_i) <= 0.15 * width, (name, stat)
            assert abs(high_p - high_i) <= 0.15 * width, (name, stat)
            assert low_p < high_i and low_i < high_p  # the intervals overlap


def test_pattern_weights_have_the_moments_of_item_resampling():
    counts = np.array([500, 300, 150, 40, 10])
    n = counts.sum()
    weights = multinomial_weights(counts, 20_000, np.random.default_rng(3))
    assert np.all(weights.sum(axis=1) == n)
    np.testing.assert_allclose(weights.mean(axis=0), counts, rtol=0.01)
    p = counts / n
    np.testing.assert_allclose(weights.var(axis=0), n * p * (1 - p), rtol=0.05)


def test_percentile_interval_skips_undefined_replicates():
    assert percentile_interval(np.array([np.nan, 1.0, 2.0, 3.0]), 0.5) == [1.5, 2.5]
    assert percentile_interval(np.array([np.nan, np.nan])) is None
