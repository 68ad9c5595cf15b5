"""Seeded synthetic K-system judgments (long arrays) with known strengths, for the ranking bench and tests."""

from __future__ import annotations

import numpy as np

from analysis.stats.coding import MISSING


def synthetic_comparisons(
    n_systems: int,
    n_judgments: int,
    n_items: int,
    *,
    n_judges: int = 50,
    nu: float = 0.3,
    spread: float = 1.0,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Keyword arguments for ``compute_ranking_statistics`` plus the true ``strengths``.

    Pairs are drawn uniformly; each judge judges a pair on an item at most once (repeats are redrawn onto
    another judge). Preferences follow Davidson's model with the given ``nu``; correctness labels follow a
    per-system accuracy tied to its strength, so humans and labels tell a consistent story.
    """
    rng = np.random.default_rng(seed)
    strengths = rng.normal(0, spread, n_systems)
    strengths -= strengths.mean()
    a = rng.integers(0, n_systems, n_judgments)
    b = (a + rng.integers(1, n_systems, n_judgments)) % n_systems
    item = rng.integers(0, n_items, n_judgments)
    judge = rng.integers(0, n_judges, n_judgments)
    low, high = np.minimum(a, b), np.maximum(a, b)
    key = ((item * n_judges + judge) * n_systems + low) * n_systems + high
    for _ in range(100):  # a judge sees a pair on an item at most once
        order = np.argsort(key, kind="stable")
        dup = np.zeros(n_judgments, dtype=bool)
        dup[order[1:]] = key[order][1:] == key[order][:-1]
        if not dup.any():
            break
        judge[dup] = rng.integers(0, n_judges, int(dup.sum()))
        key = ((item * n_judges + judge) * n_systems + low) * n_systems + high
    else:
        raise ValueError("too many judgments for the number of judges, items and pairs")
    half = (strengths[a] - strengths[b]) / 2
    weights = np.stack([np.exp(half), np.full(n_judgments, nu), np.exp(-half)], axis=1)
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    preference = (rng.random(n_judgments)[:, None] > cum).sum(axis=1)
    accuracy = 1 / (1 + np.exp(-strengths))

    def labels(system: np.ndarray) -> np.ndarray:
        u = rng.random(len(system))
        p = accuracy[system]
        out = np.where(u < p, 2, np.where(u < p + (1 - p) / 3, 1, 0))
        return np.where(rng.random(len(system)) < 0.02, MISSING, out)

    return {
        "item": item,
        "system_a": a,
        "system_b": b,
        "preference": preference,
        "label_a": labels(a),
        "label_b": labels(b),
        "judge": judge,
        "n_items": n_items,
        "strengths": strengths,
    }
