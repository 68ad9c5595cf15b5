"""Bootstrap confidence intervals (resampling items, seeded) and the paired bootstrap test between runs.

Every metric is expressed as per-item statistics plus an aggregate of their column sums (a mean for EM, F1
and BERTScore; BLEU's formula for BLEU's n-gram counts), so one resampling scheme serves all of them and a
resample is a matrix product instead of a Python loop over items.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Aggregate = Callable[[np.ndarray, int], float]


def mean_aggregate(sums: np.ndarray, n: int) -> float:
    return float(sums[0] / n)


def percent_mean_aggregate(sums: np.ndarray, n: int) -> float:
    return float(100.0 * sums[0] / n)


@dataclass(frozen=True)
class ConfidenceInterval:
    value: float
    low: float
    high: float
    confidence: float
    n_resamples: int


@dataclass(frozen=True)
class PairedBootstrapResult:
    value_a: float
    value_b: float
    delta: float  # a - b on the full item set
    ci_low: float  # percentile interval of the resampled deltas
    ci_high: float
    p_value: float  # two-sided: how often a resample's delta falls on the other side of zero (x2)
    n_resamples: int


def resample_counts(n_items: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_items) matrix: how often each item is drawn in each resample (with replacement)."""
    if n_items < 1:
        raise ValueError("bootstrap needs at least one item")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_items, size=(n_resamples, n_items))
    flat = (draws + np.arange(n_resamples)[:, None] * n_items).ravel()
    return np.bincount(flat, minlength=n_resamples * n_items).reshape(n_resamples, n_items).astype(np.float64)


def _as_matrix(stats: np.ndarray) -> np.ndarray:
    matrix = np.asarray(stats, dtype=np.float64)
    return matrix[:, None] if matrix.ndim == 1 else matrix


def _resampled(stats: np.ndarray, aggregate: Aggregate, counts: np.ndarray) -> np.ndarray:
    n = stats.shape[0]
    sums = counts @ stats
    return np.array([aggregate(row, n) for row in sums])


def bootstrap_ci(
    stats: np.ndarray,
    aggregate: Aggregate = mean_aggregate,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of `aggregate` over items (per-item `stats`: shape (n,) or (n, k))."""
    matrix = _as_matrix(stats)
    n = matrix.shape[0]
    value = aggregate(matrix.sum(axis=0), n)
    values = _resampled(matrix, aggregate, resample_counts(n, n_resamples, seed))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return ConfidenceInterval(float(value), float(low), float(high), confidence, n_resamples)


def paired_bootstrap(
    stats_a: np.ndarray,
    stats_b: np.ndarray,
    aggregate: Aggregate = mean_aggregate,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> PairedBootstrapResult:
    """Paired bootstrap (Koehn 2004): both runs are resampled with the SAME item draws.

    p-value: twice the smaller share of resampled deltas on either side of zero (capped at 1), the two-sided
    percentile test, so p < 0.05 agrees with a 95% interval of the delta that excludes zero.
    """
    a, b = _as_matrix(stats_a), _as_matrix(stats_b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"paired bootstrap needs the same items in both runs ({a.shape[0]} vs {b.shape[0]})")
    n = a.shape[0]
    value_a, value_b = aggregate(a.sum(axis=0), n), aggregate(b.sum(axis=0), n)
    counts = resample_counts(n, n_resamples, seed)
    deltas = _resampled(a, aggregate, counts) - _resampled(b, aggregate, counts)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    p = min(1.0, 2 * min(np.mean(deltas <= 0), np.mean(deltas >= 0)))
    return PairedBootstrapResult(
        value_a=float(value_a),
        value_b=float(value_b),
        delta=float(value_a - value_b),
        ci_low=float(low),
        ci_high=float(high),
        p_value=float(p),
        n_resamples=n_resamples,
    )
