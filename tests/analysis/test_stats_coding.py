"""Label coding, strict-plurality majority, and the long-rows -> (items, judges) pivot."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from analysis.stats.coding import (
    MISSING,
    TIE,
    _plurality_direct,
    category_counts,
    check_codes,
    encode,
    pivot_judgments,
    plurality,
)


def test_majority_needs_a_strict_plurality():
    counts = np.array(
        [
            [0, 0, 3],  # unanimous
            [1, 1, 2],  # plurality without absolute majority still counts
            [2, 2, 1],  # tie at the top
            [1, 1, 1],  # three-way tie
            [0, 0, 0],  # nobody judged
            [0, 1, 0],  # a single judgment is its own majority
        ]
    )
    assert plurality(counts).tolist() == [2, 2, TIE, TIE, MISSING, 1]


def test_majority_lookup_table_matches_direct_rule_on_random_counts():
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 3, size=(5000, 6))
    counts = category_counts(codes, 3)
    assert np.array_equal(plurality(counts), _plurality_direct(counts))  # table path (few possible vectors)
    wide = rng.integers(0, 40, size=(50, 4))
    assert np.array_equal(plurality(wide), _plurality_direct(wide))  # direct path (too many to tabulate)


def test_majority_matches_a_per_item_counter():
    rng = np.random.default_rng(4)
    codes = rng.integers(-1, 3, size=(2000, 4))
    expected = []
    for row in codes.tolist():
        ranked = Counter(v for v in row if v != MISSING).most_common()
        if not ranked:
            expected.append(MISSING)
        elif len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            expected.append(TIE)
        else:
            expected.append(ranked[0][0])
    assert plurality(category_counts(codes, 3)).tolist() == expected


def test_category_counts_ignore_missing():
    codes = np.array([[0, 2, -1, 2], [-1, -1, -1, -1]])
    assert category_counts(codes, 3).tolist() == [[1, 0, 2], [0, 0, 0]]


def test_out_of_range_codes_are_refused_with_their_position():
    with pytest.raises(ValueError, match=r"labels_a\[1, 0\] = 3"):
        check_codes("labels_a", [[0, 1], [3, 0]], 3, 2)
    with pytest.raises(ValueError, match="integer codes"):
        check_codes("labels_a", [[0.5, 1.0]], 3, 2)


def test_encode_maps_names_and_reports_unknown_values_with_their_row():
    assert encode(["correct", None, "partial", "incorrect", ""], ("incorrect", "partial", "correct"), "x").tolist() == [
        2,
        -1,
        1,
        0,
        -1,
    ]
    with pytest.raises(ValueError, match=r"label_a row 1: unknown value 'corect'"):
        encode(["correct", "corect"], ("incorrect", "partial", "correct"), "label_a")


def test_pivot_keeps_only_the_latest_revision_of_each_judgment():
    arrays = pivot_judgments(
        [10, 10, 10, 11],
        ["ann", "ann", "bob", "bob"],
        label_a=["incorrect", "correct", "partial", "correct"],
        label_b=["correct", "incorrect", None, "partial"],
        preference=["a", "b", "tie", None],
        seconds=[5.0, 7.0, 3.0, np.nan],
        revision=[1, 2, 1, 1],
    )
    assert arrays.item_ids.tolist() == [10, 11]
    assert arrays.judge_ids.tolist() == ["ann", "bob"]
    assert arrays.labels_a.tolist() == [[2, 1], [-1, 2]]
    assert arrays.labels_b.tolist() == [[0, -1], [-1, 1]]
    assert arrays.preference.tolist() == [[2, 1], [-1, -1]]
    assert arrays.seconds[0].tolist() == [7.0, 3.0]


def test_pivot_refuses_a_repeated_judgment_without_revisions():
    with pytest.raises(ValueError, match="row 0: item 1 judged by 'ann' appears more than once"):
        pivot_judgments([1, 1], ["ann", "ann"], label_a=["correct", "partial"], label_b=["correct", "partial"])


def test_pivot_follows_the_given_item_order_and_keeps_unjudged_items():
    arrays = pivot_judgments(
        [7, 5],
        [1, 1],
        label_a=[0, 2],
        label_b=[1, 1],
        items=[5, 6, 7],
        judges=[1, 2],
    )
    assert arrays.labels_a.tolist() == [[2, -1], [-1, -1], [0, -1]]
    with pytest.raises(ValueError, match="row 0: item 8 is not in the given list of items"):
        pivot_judgments([8], [1], label_a=[0], label_b=[0], items=[5, 6, 7])
