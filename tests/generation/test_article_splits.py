"""Seeded train/validation/test splits grouped by article: no article on both sides."""

from __future__ import annotations

from collections import Counter

import pytest

from generation.importers.readers import PassageRecord
from generation.importers.splits import SplitSpec, group_key, split_counts, split_groups


def sizes(n_groups: int, seed: int = 0) -> dict[str, int]:
    # uneven article sizes, like Wikipedia: 1 to 12 paragraphs
    return {f"title:Article {i}": 1 + (i * 7 + seed) % 12 for i in range(n_groups)}


def test_every_group_gets_exactly_one_split():
    groups = sizes(200)
    assignment = split_groups(groups, SplitSpec(seed=3))
    assert set(assignment) == set(groups)
    assert set(assignment.values()) <= {"train", "validation", "test"}


def test_passage_counts_come_close_to_the_requested_fractions():
    groups = sizes(300)
    counts = split_counts(groups, split_groups(groups, SplitSpec(0.8, 0.1, 0.1, seed=1)))
    total = sum(groups.values())
    assert abs(counts["train"] / total - 0.8) < 0.03
    assert abs(counts["validation"] / total - 0.1) < 0.03
    assert abs(counts["test"] / total - 0.1) < 0.03


def test_the_same_seed_gives_the_same_split_whatever_the_input_order():
    groups = sizes(100)
    reversed_groups = dict(reversed(list(groups.items())))
    assert split_groups(groups, SplitSpec(seed=7)) == split_groups(reversed_groups, SplitSpec(seed=7))


def test_another_seed_gives_another_split():
    groups = sizes(100)
    assert split_groups(groups, SplitSpec(seed=1)) != split_groups(groups, SplitSpec(seed=2))


@pytest.mark.parametrize("seed", range(20))
def test_small_corpora_still_get_every_requested_split(seed):
    groups = {"title:A": 10, "title:B": 1, "title:C": 1}
    assignment = split_groups(groups, SplitSpec(0.8, 0.1, 0.1, seed=seed))
    assert Counter(assignment.values()) == {"train": 1, "validation": 1, "test": 1}


def test_a_zero_fraction_split_stays_empty():
    groups = sizes(50)
    assignment = split_groups(groups, SplitSpec(0.9, 0.0, 0.1, seed=0))
    assert "validation" not in assignment.values()


def test_passages_of_one_title_share_a_group_and_untitled_passages_stand_alone():
    a1 = PassageRecord("x", title="Water", position=0)
    a2 = PassageRecord("y", title="Water", position=1)
    b = PassageRecord("z", position=2)
    c = PassageRecord("w", external_id="doc-9", position=3)
    assert group_key(a1) == group_key(a2)
    assert len({group_key(a1), group_key(b), group_key(c)}) == 3


@pytest.mark.parametrize("fractions", [(0.5, 0.5, 0.5), (1.2, -0.1, -0.1)])
def test_fractions_must_be_non_negative_and_sum_to_one(fractions):
    with pytest.raises(ValueError, match="sum to 1"):
        SplitSpec(*fractions)
