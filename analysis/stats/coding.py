"""Integer coding of judgments: label codes, the items x judges layout, and the strict-plurality majority.

Every statistic works on integer arrays shaped (items, judges) with ``MISSING`` (-1) where a judge did
not judge an item, so the Django layer can fill them from one ``values_list`` query and the maths never
loops over items in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

LABELS: tuple[str, ...] = ("incorrect", "partial", "correct")
"""Correctness labels in ordinal order (the code of a label is its index)."""
INCORRECT, PARTIAL, CORRECT = 0, 1, 2

PREFERENCES: tuple[str, ...] = ("a", "tie", "b")
"""Preference between the two systems' answers (the code is the index)."""
PREFER_A, PREFER_TIE, PREFER_B = 0, 1, 2

MISSING = -1
"""Code of a judgment (or label) that does not exist."""
TIE = -2
"""Majority code of a unit whose most frequent labels are tied (no strict plurality)."""


def _show(value: object) -> str:
    """repr of a key or value as the user wrote it (a numpy scalar shows as its Python value)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def check_codes(name: str, codes: object, n_categories: int, ndim: int) -> np.ndarray:
    """Return ``codes`` as an int64 array, or raise naming the first bad position and value.

    Codes are either ``MISSING`` or in ``range(n_categories)``; anything else is a bug upstream that
    would silently shift every figure, so it is refused rather than clipped.
    """
    arr = np.asarray(codes)
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integer codes, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < MISSING) | (arr >= n_categories)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{name}{list(where)} = {int(arr[where])}: codes must be {MISSING} (missing) or 0..{n_categories - 1}"
        )
    return arr


def category_counts(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Per row, how many judges gave each category: (units, judges) codes -> (units, categories) counts."""
    n_units = codes.shape[0]
    width = n_categories + 1  # column 0 collects MISSING
    flat = (codes + 1) + (np.arange(n_units, dtype=np.int64) * width)[:, None]
    return np.bincount(flat.ravel(), minlength=n_units * width).reshape(n_units, width)[:, 1:]


def _plurality_direct(counts: np.ndarray) -> np.ndarray:
    top = counts.max(axis=1)
    n_top = (counts == top[:, None]).sum(axis=1)
    out = np.where(n_top == 1, counts.argmax(axis=1), TIE)
    out[top == 0] = MISSING
    return out.astype(np.int64)


LOOKUP_LIMIT = 1 << 16
"""Largest number of possible count vectors for which ``plurality`` uses a lookup table."""


def count_strides(max_count: int, n_categories: int) -> np.ndarray:
    """Mixed-radix strides that pack a count vector (each count <= max_count) into one integer."""
    return ((max_count + 1) ** np.arange(n_categories - 1, -1, -1)).astype(np.int64)


def pack_counts(counts: np.ndarray, strides: np.ndarray) -> np.ndarray:
    """One integer per row of counts (column by column: integer matmul is slower than this)."""
    packed: npt.NDArray[np.int64] = counts[:, 0] * strides[0]
    for k in range(1, counts.shape[1]):
        packed += counts[:, k] * strides[k]
    return packed


def plurality_table(max_count: int, n_categories: int) -> np.ndarray:
    """Majority code for every possible count vector, indexed by ``pack_counts``."""
    grid = np.indices((max_count + 1,) * n_categories).reshape(n_categories, -1).T
    return _plurality_direct(grid)


def plurality(counts: np.ndarray) -> np.ndarray:
    """Majority label per unit with a strict plurality: the category strictly more frequent than any other.

    Returns the category code, ``TIE`` when two or more categories share the highest count, and
    ``MISSING`` when the unit has no label at all. With few judges there are only a few hundred possible
    count vectors, so the answer is looked up per packed vector instead of recomputed per unit.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_units, n_categories = counts.shape
    if n_units == 0:
        return np.zeros(0, dtype=np.int64)
    max_count = int(counts.max())
    if (max_count + 1) ** n_categories > min(LOOKUP_LIMIT, n_units):
        return _plurality_direct(counts)
    codes: npt.NDArray[np.int64] = plurality_table(max_count, n_categories)[
        pack_counts(counts, count_strides(max_count, n_categories))
    ]
    return codes


def encode(values: object, vocabulary: Sequence[str], name: str) -> np.ndarray:
    """Map label strings (or already-coded integers) to codes; ``None``/empty means ``MISSING``.

    Works on the distinct values only, so a million rows cost one ``np.unique``.
    """
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    out = np.full(arr.shape[0], MISSING, dtype=np.int64)
    none = np.asarray(None, dtype=object)  # a 0-d object array: compares element by element with `arr`
    present = ~(np.equal(arr, none) | np.equal(arr, ""))
    if not present.any():
        return out
    uniques, inverse = np.unique(arr[present].astype(str), return_inverse=True)
    lookup = {label: code for code, label in enumerate(vocabulary)}
    lookup.update({str(code): code for code in range(len(vocabulary))})
    lookup[str(MISSING)] = MISSING
    mapped = np.empty(len(uniques), dtype=np.int64)
    for i, value in enumerate(uniques):  # distinct values only
        if value not in lookup:
            row = int(np.flatnonzero(present)[np.flatnonzero(inverse == i)[0]])
            raise ValueError(f"{name} row {row}: unknown value {_show(value)}; expected one of {list(vocabulary)}")
        mapped[i] = lookup[value]
    out[present] = mapped[inverse]
    return out


def _index_of(keys: np.ndarray, universe: np.ndarray | None, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Dense index of each key into ``universe`` (the sorted distinct keys when not given)."""
    if universe is None:
        universe, index = np.unique(keys, return_inverse=True)
        return universe, index.astype(np.int64)
    universe = np.asarray(universe)
    if len(np.unique(universe)) != len(universe):
        raise ValueError(f"the list of {what}s has duplicates")
    if len(universe) == 0:
        if len(keys):
            raise ValueError(f"row 0: {what} {_show(keys[0])} is not in the given (empty) list of {what}s")
        return universe, np.zeros(0, dtype=np.int64)
    sorter = np.argsort(universe, kind="stable")
    pos = np.searchsorted(universe, keys, sorter=sorter).clip(max=len(universe) - 1)
    index = sorter[pos]
    found = universe[index] == keys
    if not np.all(found):
        row = int(np.flatnonzero(~found)[0])
        raise ValueError(f"row {row}: {what} {_show(keys[row])} is not in the given list of {what}s")
    return universe, index.astype(np.int64)


@dataclass(frozen=True)
class JudgmentArrays:
    """One session's judgments laid out as (items, judges) arrays, ready for ``compute_session_statistics``."""

    item_ids: np.ndarray
    judge_ids: np.ndarray
    labels_a: np.ndarray
    labels_b: np.ndarray
    preference: np.ndarray
    seconds: np.ndarray


def pivot_judgments(
    item_keys: Sequence[object] | np.ndarray,
    judge_keys: Sequence[object] | np.ndarray,
    *,
    label_a: Sequence[object] | np.ndarray,
    label_b: Sequence[object] | np.ndarray,
    preference: Sequence[object] | np.ndarray | None = None,
    seconds: Sequence[float] | np.ndarray | None = None,
    revision: Sequence[int] | np.ndarray | None = None,
    items: Sequence[object] | np.ndarray | None = None,
    judges: Sequence[object] | np.ndarray | None = None,
) -> JudgmentArrays:
    """Turn long rows (one per judgment, as from one ``values_list`` query) into (items, judges) arrays.

    ``revision`` lets the caller pass every revision of every judgment: only the highest revision of each
    (item, judge) counts. Without it a repeated (item, judge) is an error, because silently keeping either
    row would make the statistics depend on query order. ``items`` / ``judges`` fix the row and column
    order (and keep unjudged items); otherwise the sorted distinct keys are used.
    """
    item_keys = np.asarray(item_keys)
    judge_keys = np.asarray(judge_keys)
    n = len(item_keys)
    if len(judge_keys) != n:
        raise ValueError(f"judge_keys has {len(judge_keys)} rows but item_keys has {n}")
    codes_a = encode(label_a, LABELS, "label_a")
    codes_b = encode(label_b, LABELS, "label_b")
    codes_p = encode(preference, PREFERENCES, "preference") if preference is not None else np.full(n, MISSING)
    secs = np.asarray(seconds, dtype=np.float64) if seconds is not None else np.full(n, np.nan)
    for col_name, col in (("label_a", codes_a), ("label_b", codes_b), ("preference", codes_p), ("seconds", secs)):
        if len(col) != n:
            raise ValueError(f"{col_name} has {len(col)} rows but item_keys has {n}")
    if np.any(secs < 0):
        row = int(np.flatnonzero(secs < 0)[0])
        raise ValueError(f"seconds row {row}: negative duration {secs[row]}")

    item_ids, item_index = _index_of(item_keys, None if items is None else np.asarray(items), "item")
    judge_ids, judge_index = _index_of(judge_keys, None if judges is None else np.asarray(judges), "judge")
    n_judges = len(judge_ids)
    cell = item_index * n_judges + judge_index

    rev = np.zeros(n, dtype=np.int64) if revision is None else np.asarray(revision, dtype=np.int64)
    order = np.lexsort((rev, cell))
    cell_sorted, rev_sorted = cell[order], rev[order]
    same_next = cell_sorted[1:] == cell_sorted[:-1]
    clash = same_next & (rev_sorted[1:] == rev_sorted[:-1])
    if clash.any():
        row = int(order[np.flatnonzero(clash)[0]])
        raise ValueError(
            f"row {row}: item {_show(item_keys[row])} judged by {_show(judge_keys[row])} appears more than once"
            + (" with the same revision" if revision is not None else "; pass only the latest revision")
        )
    keep = order[np.r_[~same_next, True]] if n else order

    shape = (len(item_ids), n_judges)
    out_a = np.full(shape, MISSING, dtype=np.int64)
    out_b = np.full(shape, MISSING, dtype=np.int64)
    out_p = np.full(shape, MISSING, dtype=np.int64)
    out_s = np.full(shape, np.nan)
    rows, cols = item_index[keep], judge_index[keep]
    out_a[rows, cols] = codes_a[keep]
    out_b[rows, cols] = codes_b[keep]
    out_p[rows, cols] = codes_p[keep]
    out_s[rows, cols] = secs[keep]
    return JudgmentArrays(item_ids, judge_ids, out_a, out_b, out_p, out_s)
