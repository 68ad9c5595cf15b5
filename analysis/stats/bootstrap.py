"""Bootstrap over items, fast: resample distinct per-item patterns instead of items.

Every bootstrapped statistic here is a function of sums of per-item features, and items with the same
label-count pattern have the same features. Drawing n items with replacement and counting how many fall
in each pattern is exactly a multinomial draw over the patterns with probabilities count / n, so a
replicate costs one multinomial row and one matrix product, whatever the number of items. The result is
equal in distribution to resampling items (not draw by draw); ``index_weights`` replays given item
indices through the same features so tests can compare with the naive path replicate by replicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Patterns:
    """Distinct rows of a key matrix: which pattern each item has, and how many items share each."""

    inverse: np.ndarray
    counts: np.ndarray
    representatives: np.ndarray

    @property
    def n_patterns(self) -> int:
        return len(self.counts)


def group_rows(keys: np.ndarray) -> Patterns:
    """Group the rows of a non-negative integer (items, columns) key matrix into distinct patterns.

    Rows are packed into one int64 (mixed radix) when that fits, which makes ``np.unique`` a 1-D sort
    (several times faster than ``axis=0`` on a million rows).
    """
    keys = np.asarray(keys, dtype=np.int64)
    if keys.ndim == 1:
        keys = keys[:, None]
    if keys.size and keys.min() < 0:
        raise ValueError("pattern keys must be non-negative")
    if keys.shape[0] == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Patterns(empty, empty, empty)
    radix = keys.max(axis=0) + 1
    n_codes = float(np.prod(radix.astype(np.float64)))
    if n_codes >= 2.0**62:
        _, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True, return_counts=True)
        return Patterns(inverse.reshape(-1).astype(np.int64), counts.astype(np.int64), first.astype(np.int64))
    strides = np.concatenate([np.cumprod(radix[::-1])[::-1][1:], [1]]).astype(np.int64)
    packed = keys[:, 0] * strides[0]
    for c in range(1, keys.shape[1]):
        packed += keys[:, c] * strides[c]
    if n_codes > max(4 * keys.shape[0], 1 << 20):
        _, first, inverse, counts = np.unique(packed, return_index=True, return_inverse=True, return_counts=True)
        return Patterns(inverse.reshape(-1).astype(np.int64), counts.astype(np.int64), first.astype(np.int64))
    # Few possible codes: count them instead of sorting a million keys.
    all_counts = np.bincount(packed, minlength=int(n_codes))
    present = np.flatnonzero(all_counts)
    dense = np.zeros(int(n_codes), dtype=np.int64)
    dense[present] = np.arange(len(present))
    representative = np.empty(int(n_codes), dtype=np.int64)
    representative[packed] = np.arange(keys.shape[0])  # any item of a pattern represents it
    return Patterns(dense[packed], all_counts[present].astype(np.int64), representative[present])


def multinomial_weights(counts: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n_patterns) item counts per pattern for n_boot resamples of all items."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0 or n_boot == 0:
        return np.zeros((n_boot, len(counts)))
    return rng.multinomial(total, counts / total, size=n_boot).astype(np.float64)


def index_weights(inverse: np.ndarray, n_patterns: int, indices: np.ndarray) -> np.ndarray:
    """(replicates, n_patterns) item counts per pattern for given resampled item indices (replicates, n)."""
    indices = np.atleast_2d(np.asarray(indices, dtype=np.int64))
    n_rep = indices.shape[0]
    flat = inverse[indices] + (np.arange(n_rep, dtype=np.int64) * n_patterns)[:, None]
    return np.bincount(flat.ravel(), minlength=n_rep * n_patterns).reshape(n_rep, n_patterns).astype(np.float64)


def percentile_interval(replicates: np.ndarray, confidence: float = 0.95) -> list[float] | None:
    """Percentile interval over the replicates where the statistic is defined; None if none is."""
    values = np.asarray(replicates, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return [float(low), float(high)]


Evaluator = Callable[[np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class GroupedStatistics:
    """Statistics that are functions of summed per-item features, with items grouped by pattern.

    ``features`` holds one row per pattern (all items of a pattern share it); ``evaluate`` maps summed
    features (replicates, n_features) to named statistics (one value per replicate).
    """

    patterns: Patterns
    features: np.ndarray
    evaluate: Evaluator

    def point(self) -> dict[str, float]:
        sums = self.patterns.counts.astype(np.float64)[None, :] @ self.features
        return {name: float(values[0]) for name, values in self.evaluate(sums).items()}

    def replicates(self, weights: np.ndarray) -> dict[str, np.ndarray]:
        return self.evaluate(weights @ self.features)

    def draw(self, n_boot: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Pattern (multinomial) bootstrap: equal in distribution to resampling items."""
        return self.replicates(multinomial_weights(self.patterns.counts, n_boot, rng))

    def replay(self, indices: np.ndarray) -> dict[str, np.ndarray]:
        """Index bootstrap: the replicates for exactly these resampled item indices."""
        return self.replicates(index_weights(self.patterns.inverse, self.patterns.n_patterns, indices))
