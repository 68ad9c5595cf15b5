"""How well an automatic score (per-answer BERTScore) tracks human correctness: point-biserial r and AUC.

Both use closed-form intervals (Fisher z for r, DeLong for the AUC): they are O(n log n) on the pooled
answers, where a bootstrap of a rank statistic would need one sort per replicate.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from analysis.stats.accuracy import z_value


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def point_biserial(scores: np.ndarray, outcome: np.ndarray, confidence: float = 0.95) -> dict[str, object]:
    """Pearson correlation between a score and a 0/1 outcome, with its t-test p-value and Fisher-z interval.

    None for the estimate when either variable is constant (the correlation is undefined then).
    """
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(outcome, dtype=np.float64)
    n = x.size
    result: dict[str, object] = {"n": int(n), "r": None, "p_value": None, "ci": None}
    if n < 2:
        return result
    dx = x - x.mean()
    dy = y - y.mean()
    denom = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    if denom == 0:
        return result
    r = float(np.clip((dx * dy).sum() / denom, -1.0, 1.0))
    result["r"] = r
    if n > 2:
        if abs(r) == 1.0:
            result["p_value"] = 0.0
        else:
            t = r * np.sqrt((n - 2) / (1 - r * r))
            result["p_value"] = float(2 * stats.t.sf(abs(t), n - 2))
    if n > 3 and abs(r) < 1.0:
        z, half = np.arctanh(r), z_value(confidence) / np.sqrt(n - 3)
        result["ci"] = [float(np.tanh(z - half)), float(np.tanh(z + half))]
    return result


def auc_delong(scores: np.ndarray, outcome: np.ndarray, confidence: float = 0.95) -> dict[str, object]:
    """Area under the ROC curve (ties count one half) with DeLong's (1988) variance and normal interval.

    DeLong's structural components are each case's placement among the other class (share of the other
    class below it, ties one half); their mean is the AUC (the Mann-Whitney statistic). Placements come
    from two sorts and binary searches, so nothing is O(n_pos * n_neg).
    """
    x = np.asarray(scores, dtype=np.float64)
    y = np.asarray(outcome, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    result: dict[str, object] = {"n_positive": n_pos, "n_negative": n_neg, "auc": None, "ci": None}
    if n_pos == 0 or n_neg == 0:
        return result
    pos = np.sort(x[y])
    neg = np.sort(x[~y])
    # Placement of each case among the other class: share below it, ties counting one half.
    v10 = (np.searchsorted(neg, pos, "left") + np.searchsorted(neg, pos, "right")) / (2 * n_neg)
    v01 = 1 - (np.searchsorted(pos, neg, "left") + np.searchsorted(pos, neg, "right")) / (2 * n_pos)
    auc = float(v10.mean())
    result["auc"] = auc
    if n_pos > 1 and n_neg > 1:
        se = np.sqrt(v10.var(ddof=1) / n_pos + v01.var(ddof=1) / n_neg)
        half = z_value(confidence) * se
        result["se"] = _finite_or_none(se)
        result["ci"] = [float(max(0.0, auc - half)), float(min(1.0, auc + half))]
    return result
