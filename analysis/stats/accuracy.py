"""Accuracy of each system, whether the difference between them is real, and preference win/tie/loss.

Inputs are per-answer label counts (items x categories, from ``coding.category_counts``) so the same
arrays serve the point estimates and the bootstrap, which only reweights distinct count patterns.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import numpy.typing as npt
from scipy import stats

from analysis.stats.coding import (
    CORRECT,
    MISSING,
    PARTIAL,
    PREFER_A,
    PREFER_B,
    PREFER_TIE,
    PREFERENCES,
    TIE,
    category_counts,
    plurality,
)

CRITERIA: dict[str, tuple[int, ...]] = {"correct": (CORRECT,), "lenient": (CORRECT, PARTIAL)}
"""Which labels count as a success: "correct" counts only correct, "lenient" also counts partial."""


def z_value(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level (1.959963984540054 for 0.95)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: object, n: object, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval, vectorised; NaN where n == 0.

    Chosen over the normal interval because it stays inside [0, 1] and keeps its coverage at accuracies
    near 0 or 1 and on small item counts (the same formula as statsmodels' ``method="wilson"``).
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    z2 = z_value(confidence) ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z2 / n
        center = (p + z2 / (2 * n)) / denom
        half = np.sqrt(z2) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    low = np.clip(center - half, 0, 1)
    high = np.clip(center + half, 0, 1)
    return np.where(n > 0, low, np.nan), np.where(n > 0, high, np.nan)


def success_mask(codes: np.ndarray, criterion: str) -> np.ndarray:
    """True where a label (or a majority label, possibly TIE or MISSING) counts as a success under ``criterion``."""
    table = np.zeros(max(CRITERIA[criterion]) + 1 - TIE, dtype=bool)  # indexed by code - TIE
    table[np.asarray(CRITERIA[criterion]) - TIE] = True
    mask: npt.NDArray[np.bool_] = table[np.asarray(codes) - TIE]
    return mask


def proportion(successes: int, n: int, confidence: float) -> dict[str, object]:
    """A share with its Wilson interval; the share and interval are None when there is nothing to count."""
    low, high = wilson_interval(successes, n, confidence)
    return {
        "successes": int(successes),
        "n": int(n),
        "rate": successes / n if n else None,
        "ci": [float(low), float(high)] if n else None,
    }


def system_accuracy(counts: np.ndarray, confidence: float = 0.95) -> dict[str, object]:
    """Accuracy of one system's answers, by majority label per item and by all judgments.

    By majority: one observation per item whose answer has a strict-plurality label; tied items are
    counted separately and left out. By judgment: every label is one observation.
    """
    majority = plurality(counts)
    has_majority = majority >= 0
    by_majority: dict[str, object] = {
        "n_items": int(has_majority.sum()),
        "n_ties": int((majority == TIE).sum()),
        "n_unjudged": int((majority == MISSING).sum()),
    }
    by_judgment: dict[str, object] = {"n_judgments": int(counts.sum())}
    for criterion, labels in CRITERIA.items():
        successes = int(success_mask(majority, criterion).sum())
        by_majority[criterion] = proportion(successes, int(has_majority.sum()), confidence)
        by_judgment[criterion] = proportion(int(counts[:, list(labels)].sum()), int(counts.sum()), confidence)
    return {"by_majority": by_majority, "by_judgment": by_judgment}


DIFFERENCE_FEATURES = (
    "paired",
    "a_correct",
    "b_correct",
    "a_lenient",
    "b_lenient",
    "a_labels",
    "a_correct_labels",
    "a_lenient_labels",
    "b_labels",
    "b_correct_labels",
    "b_lenient_labels",
)


def difference_features(counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """Per-item additive features from which both accuracy differences follow (see ``difference_from_sums``).

    The majority difference is taken on paired items only (both answers have a majority label), the
    same items McNemar's test uses, so the interval and the test describe one comparison.
    """
    maj_a, maj_b = plurality(counts_a), plurality(counts_b)
    paired = (maj_a >= 0) & (maj_b >= 0)
    columns = [paired]
    for criterion in CRITERIA:
        columns += [paired & success_mask(maj_a, criterion), paired & success_mask(maj_b, criterion)]
    for counts in (counts_a, counts_b):
        columns += [counts.sum(axis=1), counts[:, CORRECT], counts[:, CORRECT] + counts[:, PARTIAL]]
    return np.stack(columns, axis=1).astype(np.float64)


def difference_from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy of A minus accuracy of B from summed ``difference_features``, one value per row (replicate)."""
    f = {name: sums[:, i] for i, name in enumerate(DIFFERENCE_FEATURES)}
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            "accuracy_difference.by_majority.correct": (f["a_correct"] - f["b_correct"]) / f["paired"],
            "accuracy_difference.by_majority.lenient": (f["a_lenient"] - f["b_lenient"]) / f["paired"],
            "accuracy_difference.by_judgment.correct": f["a_correct_labels"] / f["a_labels"]
            - f["b_correct_labels"] / f["b_labels"],
            "accuracy_difference.by_judgment.lenient": f["a_lenient_labels"] / f["a_labels"]
            - f["b_lenient_labels"] / f["b_labels"],
        }


def mcnemar_exact(success_a: np.ndarray, success_b: np.ndarray) -> dict[str, object]:
    """McNemar's exact test on paired per-item outcomes: a binomial test on the discordant items.

    Same definition as statsmodels' ``mcnemar(table, exact=True)``: p = min(1, 2 * P(X <= min(b, c)))
    with X ~ Binomial(b + c, 1/2).
    """
    a = np.asarray(success_a, dtype=bool)
    b = np.asarray(success_b, dtype=bool)
    only_a = int((a & ~b).sum())
    only_b = int((~a & b).sum())
    discordant = only_a + only_b
    p_value = float(min(1.0, 2 * stats.binom.cdf(min(only_a, only_b), discordant, 0.5))) if discordant else 1.0
    return {
        "n_items": int(a.size),
        "both": int((a & b).sum()),
        "only_a": only_a,
        "only_b": only_b,
        "neither": int((~a & ~b).sum()),
        "p_value": p_value,
    }


def paired_comparison(counts_a: np.ndarray, counts_b: np.ndarray) -> dict[str, object]:
    """McNemar's exact test for both criteria on items where both answers have a majority label."""
    maj_a, maj_b = plurality(counts_a), plurality(counts_b)
    paired = (maj_a >= 0) & (maj_b >= 0)
    out: dict[str, object] = {
        "n_items_paired": int(paired.sum()),
        "n_items_with_tie": int(((maj_a == TIE) | (maj_b == TIE)).sum()),
    }
    for criterion in CRITERIA:
        out[criterion] = mcnemar_exact(success_mask(maj_a[paired], criterion), success_mask(maj_b[paired], criterion))
    return out


def win_tie_loss(a_wins: int, ties: int, b_wins: int, confidence: float, with_sign_test: bool) -> dict[str, object]:
    """Win/tie/loss counts with the win rate of A over decisive comparisons and its Wilson interval."""
    decisive = a_wins + b_wins
    out: dict[str, object] = {
        "a_wins": int(a_wins),
        "ties": int(ties),
        "b_wins": int(b_wins),
        "win_rate_a": proportion(a_wins, decisive, confidence),
    }
    if with_sign_test:
        out["sign_test_p"] = float(stats.binomtest(int(a_wins), int(decisive), 0.5).pvalue) if decisive else None
    return out


def preference_summary(preference: np.ndarray, confidence: float = 0.95) -> dict[str, object]:
    """Preferences per judgment and per item, with a sign test on items.

    Per item, the system preferred by more judges wins (tie votes do not count); equal votes make a tie.
    The sign test is on items, not judgments, because one item's judgments are not independent.
    """
    votes = category_counts(preference, len(PREFERENCES))
    votes_a, votes_tie, votes_b = votes[:, PREFER_A], votes[:, PREFER_TIE], votes[:, PREFER_B]
    voted = (votes_a + votes_b + votes_tie) > 0
    return {
        "by_judgment": win_tie_loss(int(votes_a.sum()), int(votes_tie.sum()), int(votes_b.sum()), confidence, False),
        "by_item": win_tie_loss(
            int((votes_a > votes_b).sum()),
            int((voted & (votes_a == votes_b)).sum()),
            int((votes_b > votes_a).sum()),
            confidence,
            True,
        ),
    }
