"""Accuracy, Wilson intervals, McNemar, sign test: our vectorised figures against statsmodels and SciPy."""

from __future__ import annotations

import numpy as np
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from analysis.stats.accuracy import mcnemar_exact, preference_summary, system_accuracy, wilson_interval
from analysis.stats.coding import PREFER_A, PREFER_B, PREFER_TIE, category_counts


def test_wilson_interval_equals_statsmodels_including_zero_and_full_success():
    rng = np.random.default_rng(0)
    n = rng.integers(1, 5000, size=300)
    k = rng.integers(0, n + 1)
    k[:3], n[:3] = [0, 5, 7], [5, 5, 7]  # edges: none and all successes
    for confidence in (0.95, 0.9):
        low, high = wilson_interval(k, n, confidence)
        ref_low, ref_high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
        np.testing.assert_allclose(low, ref_low, rtol=0, atol=1e-9)
        np.testing.assert_allclose(high, ref_high, rtol=0, atol=1e-9)


def test_wilson_interval_is_undefined_without_observations():
    low, high = wilson_interval([0], [0])
    assert np.isnan(low[0]) and np.isnan(high[0])


def test_mcnemar_exact_equals_statsmodels_on_random_tables():
    rng = np.random.default_rng(1)
    for _ in range(200):
        n = int(rng.integers(1, 400))
        a = rng.random(n) < rng.random()
        b = rng.random(n) < rng.random()
        ours = mcnemar_exact(a, b)
        table = [[ours["both"], ours["only_a"]], [ours["only_b"], ours["neither"]]]
        assert abs(ours["p_value"] - mcnemar(table, exact=True).pvalue) <= 1e-9
        assert ours["only_a"] == int((a & ~b).sum()) and ours["only_b"] == int((~a & b).sum())


def test_mcnemar_without_discordant_items_has_p_one():
    same = np.array([True, False, True])
    assert mcnemar_exact(same, same)["p_value"] == 1.0


def test_majority_accuracy_leaves_out_ties_and_counts_them():
    codes = np.array(
        [
            [2, 2, 0],  # correct by majority
            [1, 1, -1],  # partial: lenient only
            [2, 0, -1],  # tie: left out
            [0, 0, 0],  # incorrect
            [-1, -1, -1],  # unjudged
        ]
    )
    acc = system_accuracy(category_counts(codes, 3))
    assert acc["by_majority"]["n_items"] == 3
    assert acc["by_majority"]["n_ties"] == 1
    assert acc["by_majority"]["n_unjudged"] == 1
    assert acc["by_majority"]["correct"]["successes"] == 1
    assert acc["by_majority"]["lenient"]["successes"] == 2
    assert acc["by_judgment"]["correct"] == {**acc["by_judgment"]["correct"], "successes": 3, "n": 10}
    assert acc["by_judgment"]["lenient"]["successes"] == 5


def test_accuracy_with_nothing_to_count_is_none_not_zero():
    acc = system_accuracy(category_counts(np.full((3, 2), -1), 3))
    assert acc["by_majority"]["correct"]["rate"] is None
    assert acc["by_majority"]["correct"]["ci"] is None


def test_preference_ties_count_as_ties_and_stay_out_of_the_sign_test():
    pref = np.array(
        [
            [PREFER_A, PREFER_A, PREFER_B],  # A wins the item
            [PREFER_A, PREFER_B, PREFER_TIE],  # equal votes: tie
            [PREFER_TIE, PREFER_TIE, -1],  # only tie votes: tie
            [PREFER_B, PREFER_B, PREFER_TIE],  # B wins
            [PREFER_A, -1, -1],  # A wins
            [-1, -1, -1],  # not judged: not counted
        ]
    )
    summary = preference_summary(pref)
    by_item = summary["by_item"]
    assert (by_item["a_wins"], by_item["ties"], by_item["b_wins"]) == (2, 2, 1)
    assert by_item["sign_test_p"] == stats.binomtest(2, 3, 0.5).pvalue
    assert by_item["win_rate_a"]["successes"] == 2 and by_item["win_rate_a"]["n"] == 3
    by_judgment = summary["by_judgment"]
    assert (by_judgment["a_wins"], by_judgment["ties"], by_judgment["b_wins"]) == (4, 4, 4)
    assert "sign_test_p" not in by_judgment  # judgments of one item are not independent
