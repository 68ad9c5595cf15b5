"""K-system pairwise tables: the two-system figures at K = 2, McNemar/sign/Holm against statsmodels and SciPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from analysis.stats.coding import MISSING, plurality
from analysis.stats.pairwise import (
    answer_counts,
    holm,
    pair_index,
    pair_systems,
    pairwise_statistics,
    prepare_comparisons,
)
from analysis.stats.ranking import compute_ranking_statistics
from analysis.stats.summary import compute_session_statistics
from analysis.stats.synthetic import synthetic_session
from analysis.stats.synthetic_ranking import synthetic_comparisons


def two_system_long(data: dict) -> dict:
    """The (items, judges) arrays of a two-system session as long rows, system A = 0 and B = 1."""
    la, lb, pref = data["labels_a"], data["labels_b"], data["preference"]
    judged = (la != MISSING) | (lb != MISSING) | (pref != MISSING)
    item, judge = np.nonzero(judged)
    return {
        "item": item,
        "system_a": np.zeros(len(item), dtype=np.int64),
        "system_b": np.ones(len(item), dtype=np.int64),
        "preference": pref[item, judge],
        "label_a": la[item, judge],
        "label_b": lb[item, judge],
        "judge": judge,
        "control": data["control"],
        "n_items": la.shape[0],
        "system_names": ["A", "B"],
    }


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_systems_give_the_two_system_page_figures(seed):
    data = synthetic_session(300, 4, missing=0.25, control_rate=0.05, seed=seed)
    old = compute_session_statistics(**data, n_boot=0, system_names=("A", "B"), include_items=False)
    new = compute_ranking_statistics(**two_system_long(data), n_boot=0)
    assert new["accuracy"] == old["accuracy"]
    pair = new["pairwise"]["pairs"][0]
    assert pair["systems"] == ["A", "B"]
    old_pref = old["comparison"]["preference"]
    assert pair["preference"]["by_judgment"] == old_pref["by_judgment"]
    by_item = dict(pair["preference"]["by_item"])
    assert by_item.pop("sign_test_p_holm") == by_item["sign_test_p"]  # a family of one
    assert by_item == old_pref["by_item"]
    old_mcnemar = old["comparison"]["mcnemar"]
    for criterion in ("correct", "lenient"):
        new_test = dict(pair["mcnemar"][criterion])
        assert new_test.pop("p_holm") == new_test["p_value"]
        assert new_test == old_mcnemar[criterion]
        for basis in ("by_majority", "by_judgment"):
            expected = old["comparison"]["accuracy_difference"][basis][criterion]["estimate"]
            assert pair["accuracy_difference"][basis][criterion] == pytest.approx(expected, abs=1e-12)
    assert pair["mcnemar"]["n_items_paired"] == old_mcnemar["n_items_paired"]
    assert pair["mcnemar"]["n_items_with_tie"] == old_mcnemar["n_items_with_tie"]


def test_every_pair_matches_statsmodels_mcnemar_scipy_sign_test_and_holm():
    data = synthetic_comparisons(5, 4000, 400, n_judges=30, seed=3)
    data.pop("strengths")
    comp = prepare_comparisons(**data)
    counts = answer_counts(comp)
    result = pairwise_statistics(comp, counts)
    majority = plurality(counts.reshape(-1, 3)).reshape(counts.shape[:2])
    low, high = pair_systems(5)
    mcnemar_p, sign_p = [], []
    for i, (s, t) in enumerate(zip(low, high, strict=True)):
        row = result["pairs"][i]
        paired = (majority[:, s] >= 0) & (majority[:, t] >= 0)
        a, b = majority[paired, s] == 2, majority[paired, t] == 2
        table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
        expected = mcnemar(table, exact=True).pvalue
        assert row["mcnemar"]["correct"]["p_value"] == pytest.approx(expected, abs=1e-12)
        mcnemar_p.append(expected)
        # sign test on items: per item, the side more of the item's judges preferred
        voted = (comp.pair == pair_index(s, t, 5)) & (comp.outcome >= 0)
        wins = {}
        for item, outcome in zip(comp.item[voted], comp.outcome[voted], strict=True):
            wins.setdefault(int(item), [0, 0, 0])[outcome] += 1
        a_items = sum(v[0] > v[2] for v in wins.values())
        b_items = sum(v[2] > v[0] for v in wins.values())
        assert row["preference"]["by_item"]["a_wins"] == a_items
        assert row["preference"]["by_item"]["b_wins"] == b_items
        expected_sign = stats.binomtest(a_items, a_items + b_items, 0.5).pvalue
        assert row["preference"]["by_item"]["sign_test_p"] == pytest.approx(expected_sign, abs=1e-12)
        sign_p.append(expected_sign)
    holm_m = multipletests(mcnemar_p, method="holm")[1]
    holm_s = multipletests(sign_p, method="holm")[1]
    for i, row in enumerate(result["pairs"]):
        assert row["mcnemar"]["correct"]["p_holm"] == pytest.approx(holm_m[i], abs=1e-12)
        assert row["preference"]["by_item"]["sign_test_p_holm"] == pytest.approx(holm_s[i], abs=1e-12)
    matrix = result["matrices"]["win_rate_by_judgment"]
    first = result["pairs"][0]["preference"]["by_judgment"]
    assert matrix[0][1] == pytest.approx(first["win_rate_a"]["rate"])
    assert matrix[1][0] == pytest.approx(1 - first["win_rate_a"]["rate"])
    assert matrix[0][0] is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(float("nan"))), min_size=1, max_size=30))
def test_holm_equals_statsmodels_on_the_defined_p_values(p_values):
    p = np.array(p_values)
    defined = np.isfinite(p)
    ours = holm(p)
    assert np.isnan(ours[~defined]).all()
    if defined.any():
        np.testing.assert_allclose(ours[defined], multipletests(p[defined], method="holm")[1], atol=1e-12)


def test_judgment_rows_are_oriented_by_system_index():
    comp = prepare_comparisons([0, 0], [2, 0], [0, 1], preference=[0, 2], label_a=[2, 0], label_b=[1, 1], judge=[0, 1])
    assert comp.low.tolist() == [0, 0] and comp.high.tolist() == [2, 1]
    assert comp.outcome.tolist() == [2, 2]  # system 2 won the first; system 1 (b) won the second
    assert comp.label_low.tolist() == [1, 0] and comp.label_high.tolist() == [2, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"item": [0, 1], "system_a": [0, 1], "system_b": [1, 1]}, "row 1: system_a and system_b are both system '1'"),
        ({"item": [0, 0], "system_a": [0, 1], "system_b": [1, 0], "judge": [3, 3]}, "more than once"),
        ({"item": [0], "system_a": [0], "system_b": [5], "system_names": ["x", "y"]}, "system_b row 0 = 5"),
        ({"item": [0, -1], "system_a": [0, 0], "system_b": [1, 1]}, "item row 1 = -1"),
        ({"item": [0], "system_a": [0], "system_b": [1], "preference": [3]}, "preference[0] = 3"),
        ({"item": [0], "system_a": [0], "system_b": [1], "control": [True, False]}, "one flag per item"),
    ],
)
def test_bad_input_is_refused_naming_the_row(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        prepare_comparisons(**kwargs)
