"""Seeded train/validation/test splits grouped by article, so no article is on both sides of a split.

Passages of one article share facts (and SQuAD/JSQuAD questions often paraphrase each other across
its paragraphs); splitting passage by passage would leak test content into training. Splitting is done
on group sizes only (a title -> count map, small even for a large corpus), after the import has streamed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from generation.importers.readers import PassageRecord

TRAIN, VALIDATION, TEST = "train", "validation", "test"  # the values of generation.models.Split
SPLIT_NAMES = (TRAIN, VALIDATION, TEST)


@dataclass(frozen=True)
class SplitSpec:
    """Fractions of passages per split (they must sum to 1) and the seed that makes the split repeatable."""

    train: float = 0.8
    validation: float = 0.1
    test: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        fractions = (self.train, self.validation, self.test)
        if any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
            raise ValueError(f"split fractions must be >= 0 and sum to 1, got {fractions}")

    @property
    def fractions(self) -> dict[str, float]:
        return {TRAIN: self.train, VALIDATION: self.validation, TEST: self.test}


def group_key(record: PassageRecord) -> str:
    """The article a passage belongs to: its title; untitled passages are each their own group."""
    if record.title:
        return f"title:{record.title}"
    return f"passage:{record.external_id or record.position}"


def split_groups(group_sizes: Mapping[str, int], spec: SplitSpec = SplitSpec()) -> dict[str, str]:
    """Assign each group to a split so that passage counts come close to the requested fractions.

    Groups are shuffled with the seed (sorted first, so the result does not depend on dict order), then
    laid end to end; a group goes to the split whose share of the line holds its midpoint. Every split
    with a non-zero fraction gets at least one group when there are enough groups."""
    keys = sorted(k for k, n in group_sizes.items() if n > 0)
    random.Random(spec.seed).shuffle(keys)
    total = sum(group_sizes[k] for k in keys)
    if not keys:
        return {}
    bounds: list[tuple[float, str]] = []
    acc = 0.0
    for name, fraction in spec.fractions.items():
        if fraction > 0:
            acc += fraction
            bounds.append((acc, name))
    assignment: dict[str, str] = {}
    done = 0
    for key in keys:
        size = group_sizes[key]
        midpoint = (done + size / 2) / total
        assignment[key] = next((name for bound, name in bounds if midpoint < bound), bounds[-1][1])
        done += size
    _ensure_non_empty(assignment, keys, [name for _, name in bounds])
    return assignment


def _ensure_non_empty(assignment: dict[str, str], keys: list[str], wanted: list[str]) -> None:
    """A tiny corpus can leave a small split empty; take a group from the split with the most groups."""
    if len(keys) < len(wanted):
        return
    for name in wanted:
        members = [k for k in keys if assignment[k] == name]
        if members:
            continue
        largest = max(wanted, key=lambda n: sum(1 for k in keys if assignment[k] == n))
        donors = [k for k in keys if assignment[k] == largest]
        if len(donors) > 1:
            assignment[donors[-1]] = name


def split_counts(group_sizes: Mapping[str, int], assignment: Mapping[str, str]) -> dict[str, int]:
    """Passages per split, for the import report."""
    counts = dict.fromkeys(SPLIT_NAMES, 0)
    for key, split in assignment.items():
        counts[split] += group_sizes[key]
    return counts
