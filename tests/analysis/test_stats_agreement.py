"""Agreement coefficients: equal to krippendorff / statsmodels / scikit-learn to 1e-9, and published examples."""

from __future__ import annotations

from itertools import combinations

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa

from analysis.stats.agreement import agreement_with_others, cohen_kappa, multi_judge_agreement
from analysis.stats.coding import MISSING, category_counts
from tests.support import stats_reference as reference

TOL = 1e-9


def random_codes(seed: int, n_units: int, n_judges: int, missing: float, n_labels: int = 3) -> np.ndarray:
    """Labels with real but imperfect agreement: judges copy a hidden label with probability 0.6."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_labels, size=n_units)
    codes = np.where(
        rng.random((n_units, n_judges)) < 0.6, truth[:, None], rng.integers(0, n_labels, (n_units, n_judges))
    )
    return np.where(rng.random((n_units, n_judges)) < missing, MISSING, codes)


def reliability_data(codes: np.ndarray) -> np.ndarray:
    """(judges, units) floats with NaN for missing, as the krippendorff package takes them."""
    data = codes.T.astype(np.float64)
    data[data == MISSING] = np.nan
    return data


CASES = [(seed, judges, missing) for seed, (judges, missing) in enumerate([(2, 0.0), (2, 0.3), (4, 0.3), (6, 0.5)])]


@pytest.mark.parametrize(("seed", "n_judges", "missing"), CASES)
def test_krippendorff_alpha_equals_the_krippendorff_package(seed, n_judges, missing):
    codes = random_codes(seed, 400, n_judges, missing)
    ours = multi_judge_agreement(codes, 3)
    for level in ("nominal", "ordinal"):
        expected = krippendorff.alpha(reliability_data(codes), value_domain=[0, 1, 2], level_of_measurement=level)
        assert abs(ours[f"krippendorff_alpha_{level}"] - expected) <= TOL


@pytest.mark.parametrize("n_judges", [2, 3, 7])
def test_fleiss_kappa_equals_statsmodels_when_every_item_has_every_judge(n_judges):
    codes = random_codes(10 + n_judges, 500, n_judges, 0.0)
    expected = fleiss_kappa(category_counts(codes, 3), method="fleiss")
    assert abs(multi_judge_agreement(codes, 3)["fleiss_kappa"] - expected) <= TOL


@pytest.mark.parametrize(("seed", "n_judges", "missing"), CASES)
def test_fleiss_gwet_and_percent_agreement_with_missing_values_equal_the_per_item_loop(seed, n_judges, missing):
    codes = random_codes(seed, 300, n_judges, missing)
    ours = multi_judge_agreement(codes, 3)
    naive = reference.multi_judge_coefficients(codes.tolist())
    for name in ("percent_agreement", "fleiss_kappa", "gwet_ac1"):
        assert abs(ours[name] - naive[name]) <= TOL, name


@pytest.mark.parametrize(("seed", "n_judges", "missing"), CASES)
def test_cohen_kappa_equals_scikit_learn_for_every_pair(seed, n_judges, missing):
    codes = random_codes(seed, 300, n_judges, missing)
    for first, second in combinations(range(n_judges), 2):
        both = (codes[:, first] != MISSING) & (codes[:, second] != MISSING)
        expected = cohen_kappa_score(codes[both, first], codes[both, second], labels=[0, 1, 2])
        assert abs(cohen_kappa(codes[:, first], codes[:, second], 3) - expected) <= TOL


def test_one_label_used_by_everyone_makes_the_kappas_and_alpha_undefined_not_zero():
    codes = np.full((50, 3), 2)
    codes[::7, 1] = MISSING
    ours = multi_judge_agreement(codes, 3)
    assert ours["fleiss_kappa"] is None
    assert ours["krippendorff_alpha_nominal"] is None
    assert ours["krippendorff_alpha_ordinal"] is None
    assert cohen_kappa(codes[:, 0], codes[:, 1], 3) is None
    # Percent agreement and Gwet's AC1 stay defined: that is why AC1 is reported next to kappa.
    assert ours["percent_agreement"] == 1.0
    assert ours["gwet_ac1"] == 1.0
    # The libraries agree that kappa is undefined there (they return NaN, which we report as None).
    with pytest.warns(RuntimeWarning):
        assert np.isnan(fleiss_kappa(category_counts(np.full((50, 3), 2), 3)))


def test_no_unit_labelled_twice_leaves_every_coefficient_undefined():
    codes = np.array([[0, -1], [-1, 2], [1, -1]])
    assert set(multi_judge_agreement(codes, 3).values()) == {None}
    assert cohen_kappa(codes[:, 0], codes[:, 1], 3) is None


def test_fleiss_kappa_reproduces_the_wikipedia_worked_example():
    """Wikipedia, "Fleiss' kappa", section "Worked example": 10 subjects, 14 raters, 5 categories.

    The article gives P-bar = 0.378, P-bar_e = 0.213 and kappa = 0.210.
    """
    table = np.array(
        [
            [0, 0, 0, 0, 14],
            [0, 2, 6, 4, 2],
            [0, 0, 3, 5, 6],
            [0, 3, 9, 2, 0],
            [2, 2, 8, 1, 1],
            [7, 7, 0, 0, 0],
            [3, 2, 6, 3, 0],
            [2, 5, 3, 2, 2],
            [6, 5, 2, 1, 0],
            [0, 2, 2, 3, 7],
        ]
    )
    codes = np.array([np.repeat(np.arange(5), row) for row in table])  # one column per rater
    ours = multi_judge_agreement(codes, 5)
    assert round(ours["percent_agreement"], 3) == 0.378
    assert round(ours["fleiss_kappa"], 3) == 0.210
    assert abs(ours["fleiss_kappa"] - fleiss_kappa(table)) <= TOL


def test_krippendorff_alpha_reproduces_krippendorffs_own_example_with_missing_data():
    """Krippendorff, K. (2011). Computing Krippendorff's Alpha-Reliability. Departmental Papers (ASC) 43,
    University of Pennsylvania, section C ("nominal data, any number of observers, missing data"):
    4 observers x 12 units, values 1-5, alpha_nominal = 0.743. The same data at the ordinal level give
    0.815 (the krippendorff package's documented example on this table).
    """
    n = MISSING + 0  # missing values in the paper's table (shown as "." there)
    values = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, n, n, n],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, n, 3],
        [n, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, n],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, n],
    ]
    codes = np.where(np.array(values) == n, MISSING, np.array(values) - 1).T  # units x observers, codes 0..4
    ours = multi_judge_agreement(codes, 5)
    assert round(ours["krippendorff_alpha_nominal"], 3) == 0.743
    assert round(ours["krippendorff_alpha_ordinal"], 3) == 0.815


def test_agreement_with_the_others_compares_each_label_with_the_other_judges_majority():
    codes = np.array(
        [
            [2, 2, 2],  # everyone agrees
            [2, 0, 0],  # judge 0 disagrees with the others' 0; for judges 1 and 2 the others tie (2 vs 0)
            [2, 0, 1],  # the others tie for everyone: left out
            [1, -1, -1],  # nobody else judged: left out
        ]
    )
    result = agreement_with_others(codes, category_counts(codes, 3))
    assert result[0] == {"agreed": 1, "n": 2, "n_others_tied": 1}
    assert result[1] == {"agreed": 1, "n": 1, "n_others_tied": 2}
    assert result[2] == {"agreed": 1, "n": 1, "n_others_tied": 2}


def test_agreement_with_the_others_matches_a_per_unit_loop():
    codes = random_codes(42, 600, 5, 0.3)
    result = agreement_with_others(codes, category_counts(codes, 3))
    for j in range(5):
        agreed = n = 0
        for row in codes.tolist():
            if row[j] == MISSING:
                continue
            others = reference.majority(row[:j] + row[j + 1 :])
            if others not in (None, "tie"):
                n += 1
                agreed += others == row[j]
        assert (result[j]["agreed"], result[j]["n"]) == (agreed, n)
