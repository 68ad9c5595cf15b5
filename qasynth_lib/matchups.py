"""Which two systems' answers a judge sees next: a balanced schedule and an adaptive (uncertainty) rule.

Both are pure functions of their inputs and a seed, so the assignment service can call them inside its
transaction and a test can replay them. Left/right placement stays the assignment service's job (random
per assignment, as for two-system sessions); here ``swapped`` only balances the order in which a pair is
listed.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

import numpy as np


@functools.lru_cache(maxsize=64)
def pair_systems(n_systems: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) system index of every pair, in pair-index order (as analysis.stats.pairwise). Read-only:
    the arrays are shared (the judging hot path ranks pairs at every adaptive lease)."""
    low, high = np.triu_indices(n_systems, 1)
    low, high = low.astype(np.int64), high.astype(np.int64)
    low.flags.writeable = high.flags.writeable = False
    return low, high


def balanced_schedule(n_items: int, n_systems: int, pairs_per_item: int, seed: int = 0) -> np.ndarray:
    """(n_items * pairs_per_item, 3) rows ``(item, system_a, system_b)``: every pair shown equally often.

    Rule: shuffle the P = K (K - 1) / 2 pairs once (seeded) and deal them round-robin, ``pairs_per_item``
    consecutive pairs of that cycle per item, in a seeded random item order. Consecutive positions of a
    cycle are distinct pairs, so an item never gets the same pair twice (``pairs_per_item <= P``), and over
    the whole session each pair is shown floor(S / P) or ceil(S / P) times (S = number of slots). Within each
    pair the order (a, b) alternates between occurrences, starting on a seeded side, so each system is
    listed first about half the time. ``pairs_per_item = P`` is the "all pairs" design.
    """
    n_pairs = n_systems * (n_systems - 1) // 2
    if n_systems < 2:
        raise ValueError(f"a schedule needs at least two systems, got {n_systems}")
    if not 1 <= pairs_per_item <= n_pairs:
        raise ValueError(f"pairs_per_item must be between 1 and {n_pairs} (every pair once), got {pairs_per_item}")
    if n_items < 0:
        raise ValueError(f"n_items must be >= 0, got {n_items}")
    rng = np.random.default_rng(seed)
    low, high = pair_systems(n_systems)
    cycle = rng.permutation(n_pairs)
    slots = np.arange(n_items * pairs_per_item)
    pair = cycle[slots % n_pairs]
    item = rng.permutation(n_items)[slots // pairs_per_item] if n_items else slots
    occurrence = slots // n_pairs  # how many times this pair was dealt before
    swapped = (occurrence + rng.integers(0, 2, n_pairs)[pair]) % 2 == 1
    a = np.where(swapped, high[pair], low[pair])
    b = np.where(swapped, low[pair], high[pair])
    return np.stack([item, a, b], axis=1).astype(np.int64)


def next_pair(
    n_compared: np.ndarray,
    intervals: np.ndarray | None,
    *,
    available: np.ndarray | None = None,
    shown_on_item: np.ndarray | None = None,
    seed: int | Sequence[int] | None = 0,
) -> tuple[int, int] | None:
    """The adaptive rule: the pair whose next comparison most helps the current ranking; None if no pair is left.

    Inputs: ``n_compared`` (K, K) comparisons so far per pair (symmetric); ``intervals`` (K, 2) the current
    strength intervals (NaN rows or None when there is no fit yet); ``available`` (K,) which systems have an
    answer for this item; ``shown_on_item`` (K, K) pairs already shown on this item (never repeated).

    Rule, in order:
    1. Candidates are pairs of available systems not yet shown on this item.
    2. Among them, the first in ``pair_order`` (never compared first, then overlapping intervals, then fewest
       comparisons, then a seeded draw; see there).
    """
    counts = np.asarray(n_compared, dtype=np.float64)
    k = counts.shape[0]
    order = pair_order(counts, intervals, seed=seed)
    low, high = pair_systems(k)
    candidate = np.ones(len(low), dtype=bool)
    if available is not None:
        avail = np.asarray(available, dtype=bool)
        if avail.shape != (k,):
            raise ValueError(f"available must have shape ({k},), got {avail.shape}")
        candidate &= avail[low] & avail[high]
    if shown_on_item is not None:
        shown = np.asarray(shown_on_item, dtype=bool)
        candidate &= ~(shown[low, high] | shown[high, low])
    left = order[candidate[order]]
    if not len(left):
        return None
    return int(low[left[0]]), int(high[left[0]])


def ranked_pairs(
    n_compared: np.ndarray, intervals: np.ndarray | None, *, seed: int | Sequence[int] | None = 0
) -> list[tuple[int, int]]:
    """Every pair as (low, high), best first by the adaptive rule. The first of them not shown on an item is
    next_pair's choice for that item, so a database statement can take it without the rule in SQL."""
    low, high = pair_systems(np.asarray(n_compared).shape[0])
    lows, highs = low.tolist(), high.tolist()
    return [(lows[i], highs[i]) for i in pair_order(n_compared, intervals, seed=seed).tolist()]


def pair_order(
    n_compared: np.ndarray, intervals: np.ndarray | None, *, seed: int | Sequence[int] | None = 0
) -> np.ndarray:
    """Pair indices (pair_systems order), best first:
    1. pairs never compared at all come first (they connect the comparison graph, without which there is no
       ranking across them);
    2. otherwise prefer pairs whose strength intervals overlap (their order is still uncertain; a comparison
       between clearly separated systems changes little), weighting each by the overlap's share of the
       shorter interval: the uncertain pairs are those Arena-style samplers favour;
    3. among those, the fewest comparisons so far (spreads judgments; the variance of a pair's estimate falls
       like 1 / n);
    4. remaining ties are broken uniformly at random with ``seed`` (pass e.g. (session seed, lease seed) so a
       replay gives the same order).
    """
    counts = np.asarray(n_compared, dtype=np.float64)
    k = counts.shape[0]
    if counts.shape != (k, k):
        raise ValueError(f"n_compared must be square, got shape {counts.shape}")
    low, high = pair_systems(k)
    n = counts[low, high].tolist()
    overlap = [0.0] * len(n)
    if intervals is not None:
        iv = np.asarray(intervals, dtype=np.float64)
        if iv.shape != (k, 2):
            raise ValueError(f"intervals must have shape ({k}, 2), got {iv.shape}")
        width = np.minimum(iv[low, 1] - iv[low, 0], iv[high, 1] - iv[high, 0])
        shared = np.minimum(iv[low, 1], iv[high, 1]) - np.maximum(iv[low, 0], iv[high, 0])
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.clip(shared / np.maximum(width, 1e-12), 0, 1)
        unknown = ~np.isfinite(share)
        overlap = np.round(np.where(unknown, 1.0, share), 2).tolist()  # no interval yet: as uncertain as can be
    # Lexicographic score: never compared, then overlap (rounded so tiny differences do not dominate), then
    # fewest comparisons; the seeded uniform draw breaks exact ties. Sorted in Python: for the few dozen pairs
    # of a session this is several times faster than NumPy's generator and lexsort on the judging hot path.
    draw = random.Random(_seed_int(seed)).random
    keys = [(c > 0, -o, c, draw()) for c, o in zip(n, overlap, strict=True)]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=np.int64)


def _seed_int(seed: int | Sequence[int] | None) -> int | None:
    """One integer for random.Random from an int or a sequence of ints (e.g. (session seed, lease seed))."""
    if seed is None or isinstance(seed, int | np.integer):
        return None if seed is None else int(seed)
    folded = 1
    for value in seed:
        folded = (folded << 64) | (int(value) & 0xFFFFFFFFFFFFFFFF)
    return folded
