"""BERTScore vs human correctness: point-biserial r against SciPy, AUC against scikit-learn, DeLong by hand."""

from __future__ import annotations

import numpy as np
from scipy import stats
from sklearn.metrics import roc_auc_score

from analysis.stats.correlation import auc_delong, point_biserial

TOL = 1e-9


def scores_and_outcomes(seed: int, n: int, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    outcome = rng.random(n) < 0.4
    scores = 0.8 + 0.05 * outcome + rng.normal(0, 0.05, n)
    return (scores if decimals is None else np.round(scores, decimals)), outcome


def test_point_biserial_equals_scipy():
    for seed in range(5):
        scores, outcome = scores_and_outcomes(seed, 300)
        ours = point_biserial(scores, outcome)
        expected = stats.pointbiserialr(outcome, scores)
        assert abs(ours["r"] - expected.statistic) <= TOL
        assert abs(ours["p_value"] - expected.pvalue) <= TOL
        z, half = np.arctanh(ours["r"]), 1.959963984540054 / np.sqrt(300 - 3)
        np.testing.assert_allclose(ours["ci"], [np.tanh(z - half), np.tanh(z + half)], atol=TOL)


def test_auc_equals_scikit_learn_with_tied_scores():
    for seed, decimals in ((0, None), (1, 2), (2, 1)):  # rounding makes many ties across classes
        scores, outcome = scores_and_outcomes(seed, 500, decimals)
        assert abs(auc_delong(scores, outcome)["auc"] - roc_auc_score(outcome, scores)) <= TOL


def test_delong_standard_error_equals_the_pairwise_definition():
    """DeLong et al. (1988): V10_i = mean_j psi(x_i, y_j), V01_j = mean_i psi(x_i, y_j), psi = 1, 1/2, 0."""
    scores, outcome = scores_and_outcomes(3, 120, 2)
    pos, neg = scores[outcome], scores[~outcome]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = np.sqrt(v10.var(ddof=1) / len(pos) + v01.var(ddof=1) / len(neg))
    ours = auc_delong(scores, outcome)
    assert abs(ours["auc"] - psi.mean()) <= TOL
    assert abs(ours["se"] - se) <= TOL
    np.testing.assert_allclose(ours["ci"], [psi.mean() - 1.959963984540054 * se, psi.mean() + 1.959963984540054 * se])


def test_correlation_is_undefined_when_one_class_or_one_score_is_all_there_is():
    scores, outcome = scores_and_outcomes(4, 50)
    assert auc_delong(scores, np.ones(50, dtype=bool))["auc"] is None
    assert point_biserial(scores, np.zeros(50))["r"] is None
    assert point_biserial(np.full(50, 0.9), outcome)["r"] is None
