"""Seeded synthetic judging sessions with realistic structure, for the benchmark and the tests.

Judges see a hidden true label per answer and report it with their own accuracy, so agreement is
neither perfect nor chance-level, and preferences, BERTScores and control items follow the true labels.
"""

from __future__ import annotations

import numpy as np

from analysis.stats.coding import MISSING, PREFER_A, PREFER_B, PREFER_TIE


def synthetic_session(
    n_items: int,
    n_judges: int,
    *,
    missing: float = 0.1,
    control_rate: float = 0.02,
    seed: int = 0,
    n_labels: int = 3,
) -> dict[str, np.ndarray]:
    """Keyword arguments for ``compute_session_statistics`` (labels, preferences, times, controls, scores)."""
    rng = np.random.default_rng(seed)
    quality_a = np.array([0.35, 0.20, 0.45])[:n_labels]
    quality_b = np.array([0.45, 0.17, 0.38])[:n_labels]
    true_a = rng.choice(n_labels, size=n_items, p=quality_a / quality_a.sum())
    true_b = rng.choice(n_labels, size=n_items, p=quality_b / quality_b.sum())
    judge_accuracy = rng.uniform(0.6, 0.9, size=n_judges)

    def noisy(truth: np.ndarray) -> np.ndarray:
        keep = rng.random((n_items, n_judges)) < judge_accuracy
        other = (truth[:, None] + rng.integers(1, n_labels, size=(n_items, n_judges))) % n_labels
        return np.where(keep, truth[:, None], other)

    absent = rng.random((n_items, n_judges)) < missing
    labels_a = np.where(absent, MISSING, noisy(true_a))
    labels_b = np.where(absent, MISSING, noisy(true_b))

    better = np.sign(true_a - true_b)[:, None]
    u = rng.random((n_items, n_judges))
    preference = np.where(
        better > 0,
        np.where(u < 0.75, PREFER_A, np.where(u < 0.9, PREFER_TIE, PREFER_B)),
        np.where(
            better < 0,
            np.where(u < 0.75, PREFER_B, np.where(u < 0.9, PREFER_TIE, PREFER_A)),
            np.where(u < 0.5, PREFER_TIE, np.where(u < 0.75, PREFER_A, PREFER_B)),
        ),
    )
    preference = np.where(absent, MISSING, preference)
    speed = rng.uniform(20, 60, size=n_judges)
    seconds = np.where(absent, np.nan, rng.lognormal(np.log(speed), 0.5, size=(n_items, n_judges)))

    control = rng.random(n_items) < control_rate
    scale = max(n_labels - 1, 1)
    bertscore_a = 0.80 + 0.10 * true_a / scale + rng.normal(0, 0.05, n_items)
    bertscore_b = 0.80 + 0.10 * true_b / scale + rng.normal(0, 0.05, n_items)
    return {
        "labels_a": labels_a,
        "labels_b": labels_b,
        "preference": preference,
        "seconds": seconds,
        "control": control,
        "control_gold_a": np.where(control, true_a, MISSING),
        "control_gold_b": np.where(control, true_b, MISSING),
        "bertscore_a": bertscore_a,
        "bertscore_b": bertscore_b,
    }
