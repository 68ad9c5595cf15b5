"""The session summary: every figure equals the naive library computation, and the rules hold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.stats import compute_session_statistics, pivot_judgments
from analysis.stats.synthetic import synthetic_session
from tests.support import stats_reference as reference

TOL = 1e-9


def assert_matches_reference(data: dict[str, np.ndarray], result: dict[str, object]) -> int:
    expected = reference.session_point_estimates(**data)
    flat = reference.flatten(result)
    for key, value in expected.items():
        assert key in flat, key
        if value is None:
            assert flat[key] is None, (key, flat[key])
        else:
            assert flat[key] is not None and abs(flat[key] - value) <= TOL, (key, flat[key], value)
    return len(expected)


@pytest.mark.parametrize(("n_items", "n_judges", "missing"), [(150, 4, 0.25), (80, 2, 0.0), (60, 6, 0.5)])
def test_every_point_estimate_equals_the_naive_library_figure(n_items, n_judges, missing):
    data = synthetic_session(n_items, n_judges, missing=missing, control_rate=0.1, seed=n_items)
    result = compute_session_statistics(**data, n_boot=200)
    checked = assert_matches_reference(data, result)
    assert checked > 60 + 10 * n_judges  # accuracy, tests, agreement, every pair and judge, correlation


def test_the_summary_is_plain_json_with_none_for_undefined_values():
    data = synthetic_session(40, 3, seed=1)
    data["labels_a"] = np.where(data["labels_a"] >= 0, 2, -1)  # everyone says "correct" for system A
    data["labels_b"] = np.where(data["labels_b"] >= 0, 2, -1)
    result = compute_session_statistics(**data, n_boot=100)
    json.dumps(result, allow_nan=False)  # raises on NaN or numpy types
    agreement = result["agreement"]
    for name in ("fleiss_kappa", "krippendorff_alpha_nominal", "krippendorff_alpha_ordinal"):
        assert agreement[name] == {"estimate": None, "ci": None}
    assert all(pair["estimate"] is None for pair in agreement["cohen_kappa"])
    assert agreement["gwet_ac1"]["estimate"] == 1.0


def test_rules_are_stated_in_the_result():
    rules = " ".join(compute_session_statistics(np.zeros((2, 2), int), np.zeros((2, 2), int), n_boot=0)["rules"])
    for phrase in ("Control items are excluded", "strict plurality", "left out of the sign test", "McNemar"):
        assert phrase in rules


def test_control_items_only_change_control_accuracy():
    data = synthetic_session(200, 4, control_rate=0.2, seed=2)
    base = compute_session_statistics(**data, n_boot=50, include_items=False)
    changed = dict(data)
    control = data["control"]
    for key in ("labels_a", "preference"):  # new answers on control items, same judgments present
        changed[key] = np.where(control[:, None] & (data[key] >= 0), 0, data[key])
    after = compute_session_statistics(**changed, n_boot=50, include_items=False)
    for key in ("accuracy", "comparison", "agreement", "correlation", "counts"):
        assert after[key] == base[key]
    rates = [j["control_accuracy"]["rate"] for j in base["judges"]]
    assert rates != [j["control_accuracy"]["rate"] for j in after["judges"]]
    assert [{**j, "control_accuracy": None} for j in base["judges"]] == [
        {**j, "control_accuracy": None} for j in after["judges"]
    ]


def test_ties_are_counted_and_left_out_of_mcnemar():
    labels_a = np.array([[2, 2, 0], [2, 0, -1], [0, 0, 0], [2, 2, 2]])
    labels_b = np.array([[0, 0, 0], [0, 0, 2], [1, 2, -1], [2, 2, 1]])
    result = compute_session_statistics(labels_a, labels_b, n_boot=0)
    mcnemar = result["comparison"]["mcnemar"]
    assert mcnemar["n_items_with_tie"] == 2  # item 1 (A: 2 vs 0) and item 2 (B: 1 vs 2)
    assert mcnemar["n_items_paired"] == 2
    assert mcnemar["correct"]["only_a"] == 1 and mcnemar["correct"]["both"] == 1
    assert result["accuracy"]["A"]["by_majority"]["n_ties"] == 1
    assert result["comparison"]["accuracy_difference"]["by_majority"]["correct"] == {"estimate": 0.5, "ci": None}


def test_the_per_item_table_shows_labels_majority_and_disagreement():
    labels_a = np.array([[2, 2, -1], [2, 0, -1]])
    labels_b = np.array([[1, 1, 1], [-1, -1, -1]])
    items = compute_session_statistics(labels_a, labels_b, item_ids=["q1", "q2"], n_boot=0)["items"]
    assert items["item_ids"] == ["q1", "q2"]
    assert items["labels_a"] == [["correct", "correct", None], ["correct", "incorrect", None]]
    assert items["majority_a"] == ["correct", "tie"]
    assert items["majority_b"] == ["partial", None]
    assert items["disagreement"] == [False, True]


def test_the_same_seed_gives_the_same_intervals_and_another_seed_different_ones():
    data = synthetic_session(300, 3, seed=4)
    first = compute_session_statistics(**data, n_boot=300, seed=1, include_items=False)
    again = compute_session_statistics(**data, n_boot=300, seed=1, include_items=False)
    other = compute_session_statistics(**data, n_boot=300, seed=2, include_items=False)
    assert first == again
    assert first["agreement"]["fleiss_kappa"]["ci"] != other["agreement"]["fleiss_kappa"]["ci"]
    assert first["agreement"]["fleiss_kappa"]["estimate"] == other["agreement"]["fleiss_kappa"]["estimate"]
    low, high = first["agreement"]["fleiss_kappa"]["ci"]
    assert low < first["agreement"]["fleiss_kappa"]["estimate"] < high


def test_bad_input_is_refused_with_a_message_naming_it():
    good = np.zeros((3, 2), dtype=int)
    with pytest.raises(ValueError, match=r"labels_b has shape \(2, 2\)"):
        compute_session_statistics(good, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match=r"preference\[2, 1\] = 5"):
        compute_session_statistics(good, good, preference=np.array([[0, 0], [1, 1], [2, 5]]))
    with pytest.raises(ValueError, match=r"seconds\[0, 0\] is negative"):
        compute_session_statistics(good, good, seconds=-np.ones((3, 2)))
    with pytest.raises(ValueError, match="judge_ids has 3 entries, expected 2"):
        compute_session_statistics(good, good, judge_ids=["a", "b", "c"])


def test_long_rows_from_one_query_pivot_into_the_same_figures():
    rows = [  # (item, judge, label_a, label_b, preference, seconds, revision)
        (1, "ann", "correct", "incorrect", "a", 30.0, 1),
        (1, "bob", "correct", "partial", "a", 40.0, 1),
        (2, "ann", "partial", "correct", "b", 20.0, 1),
        (2, "ann", "incorrect", "correct", "b", 25.0, 2),  # a later revision replaces the first
        (2, "bob", "incorrect", "correct", "tie", 35.0, 1),
    ]
    columns = list(zip(*rows, strict=True))
    arrays = pivot_judgments(
        columns[0],
        columns[1],
        label_a=columns[2],
        label_b=columns[3],
        preference=columns[4],
        seconds=columns[5],
        revision=columns[6],
    )
    result = compute_session_statistics(
        arrays.labels_a,
        arrays.labels_b,
        preference=arrays.preference,
        seconds=arrays.seconds,
        judge_ids=arrays.judge_ids,
        item_ids=arrays.item_ids,
        n_boot=0,
    )
    assert result["accuracy"]["A"]["by_majority"]["correct"]["rate"] == 0.5
    assert result["accuracy"]["B"]["by_majority"]["correct"]["rate"] == 1.0  # item 1's B answer is a tie
    assert result["accuracy"]["B"]["by_majority"]["n_ties"] == 1
    assert result["agreement"]["percent_agreement"]["estimate"] == 0.75  # item 1's B answer split
    assert [j["median_seconds"] for j in result["judges"]] == [27.5, 37.5]
    assert result["comparison"]["preference"]["by_item"]["a_wins"] == 1
    assert result["comparison"]["preference"]["by_item"]["b_wins"] == 1


@pytest.mark.parametrize("shape", [(0, 3), (4, 1), (3, 0)])
def test_empty_sessions_and_a_single_judge_give_none_rather_than_errors(shape):
    labels = np.full(shape, -1)
    if shape == (4, 1):
        labels[:, 0] = [2, 0, 1, 2]
    result = compute_session_statistics(labels, labels, n_boot=50)
    json.dumps(result, allow_nan=False)
    assert result["agreement"]["fleiss_kappa"] == {"estimate": None, "ci": None}
    assert all(pair["estimate"] is None and pair["n_units"] == 0 for pair in result["agreement"]["cohen_kappa"])
