"""Judgments of a K-system session as long arrays, per-system accuracy and every pairwise comparison.

A K-system session stores one row per judgment: the item, the two systems shown (``system_a`` /
``system_b``), the preference between them and a correctness label for each of the two answers. Two-system
sessions are the case K = 2 with ``system_a = 0`` and ``system_b = 1`` everywhere, and then every figure here
equals the one ``summary.compute_session_statistics`` reports (tests check it).

Each judgment is stored oriented by system index (``low < high``), so pair ``p`` always means the same two
systems; the pair index of ``(low, high)`` is its position in ``np.triu_indices(K, 1)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from analysis.stats.accuracy import CRITERIA, proportion, success_mask, system_accuracy
from analysis.stats.coding import (
    LABELS,
    MISSING,
    PREFER_A,
    PREFER_B,
    PREFER_TIE,
    TIE,
    check_codes,
    plurality,
)

N_LABELS = len(LABELS)
LOW_WINS, TIED, HIGH_WINS = PREFER_A, PREFER_TIE, PREFER_B
"""Outcome codes of an oriented judgment: the lower-indexed system won, a tie, the higher-indexed one won."""


def pair_systems(n_systems: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) system index of every pair, in pair-index order."""
    low, high = np.triu_indices(n_systems, 1)
    return low.astype(np.int64), high.astype(np.int64)


def pair_index(low: np.ndarray, high: np.ndarray, n_systems: int) -> np.ndarray:
    """Index of the pair (low, high), low < high, in ``pair_systems`` order."""
    low = np.asarray(low, dtype=np.int64)
    high = np.asarray(high, dtype=np.int64)
    index: npt.NDArray[np.int64] = low * n_systems - low * (low + 1) // 2 + (high - low - 1)
    return index


@dataclass(frozen=True)
class Comparisons:
    """Validated judgments of the session's main (non-control) items, each oriented low < high."""

    n_items: int
    system_names: list[str]
    control: np.ndarray
    """(n_items,) True for control items (their judgments are not in the arrays below)."""
    item: np.ndarray
    judge: np.ndarray
    low: np.ndarray
    high: np.ndarray
    pair: np.ndarray
    outcome: np.ndarray
    """LOW_WINS / TIED / HIGH_WINS, or MISSING when the judge gave no preference."""
    label_low: np.ndarray
    label_high: np.ndarray

    @property
    def n_systems(self) -> int:
        return len(self.system_names)

    @property
    def n_pairs(self) -> int:
        return self.n_systems * (self.n_systems - 1) // 2

    @property
    def main_items(self) -> np.ndarray:
        return np.flatnonzero(~self.control)


def _index_array(name: str, values: object, n: int | None, upper: int | None) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if n is not None and len(arr) != n:
        raise ValueError(f"{name} has {len(arr)} rows but item has {n}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must hold integer indices, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    bad = arr < 0 if upper is None else (arr < 0) | (arr >= upper)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        limit = "non-negative" if upper is None else f"in 0..{upper - 1}"
        raise ValueError(f"{name} row {row} = {int(arr[row])}: must be {limit}")
    return arr


def prepare_comparisons(
    item: object,
    system_a: object,
    system_b: object,
    *,
    preference: object | None = None,
    label_a: object | None = None,
    label_b: object | None = None,
    judge: object | None = None,
    control: object | None = None,
    n_items: int | None = None,
    system_names: Sequence[str] | None = None,
) -> Comparisons:
    """Check the long arrays (errors name the array and row), drop control items and orient each judgment.

    ``item`` / ``system_*`` / ``judge`` are integer indices; ``preference`` uses the two-system codes
    (0 = prefers system_a, 1 = tie, 2 = prefers system_b, -1 = none) and labels the ``coding.LABELS`` codes.
    ``control`` is per item. A judge judging the same pair on the same item twice is refused: pass only the
    latest revision, as for two-system sessions.
    """
    item_ = _index_array("item", item, None, n_items)
    n = len(item_)
    n_items = int(item_.max()) + 1 if n_items is None and n else (n_items or 0)
    if system_names is None:
        upper = max(int(np.max(np.asarray(system_a), initial=-1)), int(np.max(np.asarray(system_b), initial=-1))) + 1
        system_names = [str(s) for s in range(max(upper, 2))]
    names = [str(s) for s in system_names]
    if len(set(names)) != len(names):
        raise ValueError("system_names has duplicates")
    if len(names) < 2:
        raise ValueError("a ranking needs at least two systems")
    k = len(names)
    a = _index_array("system_a", system_a, n, k)
    b = _index_array("system_b", system_b, n, k)
    same = a == b
    if same.any():
        row = int(np.flatnonzero(same)[0])
        raise ValueError(f"row {row}: system_a and system_b are both system {names[a[row]]!r}")
    judge_ = np.zeros(n, dtype=np.int64) if judge is None else _index_array("judge", judge, n, None)
    pref = np.full(n, MISSING, dtype=np.int64) if preference is None else check_codes("preference", preference, 3, 1)
    la = np.full(n, MISSING, dtype=np.int64) if label_a is None else check_codes("label_a", label_a, N_LABELS, 1)
    lb = np.full(n, MISSING, dtype=np.int64) if label_b is None else check_codes("label_b", label_b, N_LABELS, 1)
    for name, col in (("preference", pref), ("label_a", la), ("label_b", lb)):
        if len(col) != n:
            raise ValueError(f"{name} has {len(col)} rows but item has {n}")
    ctrl = np.zeros(n_items, dtype=bool) if control is None else np.asarray(control, dtype=bool)
    if ctrl.shape != (n_items,):
        raise ValueError(f"control must have shape ({n_items},) (one flag per item), got {ctrl.shape}")

    swap = a > b
    low, high = np.where(swap, b, a), np.where(swap, a, b)
    flipped = np.array([HIGH_WINS, TIED, LOW_WINS])
    outcome = np.where(swap & (pref >= 0), flipped[np.clip(pref, 0, 2)], pref)
    label_low, label_high = np.where(swap, lb, la), np.where(swap, la, lb)
    pair = pair_index(low, high, k)

    key = (item_ * (judge_.max(initial=0) + 1) + judge_) * (k * (k - 1) // 2) + pair
    ordered = np.sort(key)  # a plain sort finds out whether any key repeats; find the row only if one does
    if (ordered[1:] == ordered[:-1]).any():
        order = np.argsort(key, kind="stable")
        row = int(order[1:][np.flatnonzero(key[order][1:] == key[order][:-1])[0]])
        raise ValueError(
            f"row {row}: judge {int(judge_[row])} judged systems {names[low[row]]!r} and {names[high[row]]!r} "
            f"on item {int(item_[row])} more than once; pass only the latest revision"
        )
    keep = ~ctrl[item_] if n else np.zeros(0, dtype=bool)
    return Comparisons(
        n_items=n_items,
        system_names=names,
        control=ctrl,
        item=item_[keep],
        judge=judge_[keep],
        low=low[keep],
        high=high[keep],
        pair=pair[keep],
        outcome=outcome[keep],
        label_low=label_low[keep],
        label_high=label_high[keep],
    )


def answer_counts(comp: Comparisons) -> np.ndarray:
    """(main items, systems, labels) how many labels each answer got, over every judgment that showed it.

    An answer shown in several matchups (K > 2) collects the labels of all of them: its accuracy is a
    property of the answer, not of the pair it was shown in.
    """
    main = comp.main_items
    row_of = np.full(comp.n_items, -1, dtype=np.int64)
    row_of[main] = np.arange(len(main))
    k = comp.n_systems
    rows = np.concatenate([row_of[comp.item], row_of[comp.item]])
    systems = np.concatenate([comp.low, comp.high])
    labels = np.concatenate([comp.label_low, comp.label_high])
    present = labels != MISSING
    flat = (rows[present] * k + systems[present]) * N_LABELS + labels[present]
    return np.bincount(flat, minlength=len(main) * k * N_LABELS).reshape(len(main), k, N_LABELS)


def accuracy_by_system(counts: np.ndarray, names: Sequence[str], confidence: float) -> dict[str, object]:
    """``accuracy.system_accuracy`` (majority and all judgments, strict and lenient, Wilson) per system."""
    return {name: system_accuracy(counts[:, s], confidence) for s, name in enumerate(names)}


def exact_two_sided_half(successes: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided exact binomial p-value against 1/2, vectorised: min(1, 2 P(X <= min(k, n - k))); NaN if n = 0.

    For p = 1/2 the distribution is symmetric, so this is the p-value of ``scipy.stats.binomtest`` and of
    statsmodels' exact McNemar test.
    """
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(k, n - k), n, 0.5))
    return np.where(n > 0, p, np.nan)


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment over the finite p-values (NaN stays NaN and is not in the family).

    Same as ``statsmodels.stats.multitest.multipletests(method="holm")`` on the defined values.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    defined = np.flatnonzero(np.isfinite(p))
    m = len(defined)
    if m == 0:
        return out
    order = defined[np.argsort(p[defined], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def _matrix(values_by_pair: np.ndarray, k: int, mirrored: np.ndarray | None = None) -> list[list[float | None]]:
    """K x K nested list: entry [low][high] from the pair values, [high][low] from ``mirrored``, diagonal None."""
    low, high = pair_systems(k)
    mat = np.full((k, k), np.nan)
    mat[low, high] = values_by_pair
    mat[high, low] = values_by_pair if mirrored is None else mirrored
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in mat]


def _none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def preference_tables(comp: Comparisons) -> dict[str, np.ndarray]:
    """Per pair, (pairs, 3) outcome counts by judgment and by item (LOW_WINS, TIED, HIGH_WINS columns).

    By item: among one item's judgments of the pair, the system preferred by more judges wins the item
    (tie votes do not count) and equal votes make a tie, as on the two-system page.
    """
    p = comp.n_pairs
    voted = comp.outcome != MISSING
    by_judgment = np.bincount(comp.pair[voted] * 3 + comp.outcome[voted], minlength=3 * p).reshape(p, 3)
    keys, inverse = np.unique(comp.item[voted] * p + comp.pair[voted], return_inverse=True)
    votes = np.bincount(inverse.reshape(-1) * 3 + comp.outcome[voted], minlength=3 * len(keys)).reshape(-1, 3)
    result = np.where(
        votes[:, LOW_WINS] > votes[:, HIGH_WINS], LOW_WINS, np.where(votes[:, HIGH_WINS] > votes[:, LOW_WINS], 2, 1)
    )
    by_item = np.bincount((keys % p) * 3 + result, minlength=3 * p).reshape(p, 3)
    return {"by_judgment": by_judgment, "by_item": by_item}


def _wtl(row: np.ndarray, confidence: float) -> dict[str, object]:
    return {
        "a_wins": int(row[LOW_WINS]),
        "ties": int(row[TIED]),
        "b_wins": int(row[HIGH_WINS]),
        "win_rate_a": proportion(int(row[LOW_WINS]), int(row[LOW_WINS] + row[HIGH_WINS]), confidence),
    }


def pairwise_statistics(comp: Comparisons, counts: np.ndarray, confidence: float = 0.95) -> dict[str, object]:
    """Every pair: win/tie/loss, accuracy differences, McNemar and sign tests with Holm-adjusted p-values.

    ``counts`` is ``answer_counts(comp)``. In each pair row, "a" is the lower-indexed system. McNemar's test
    and the majority accuracy difference use the items where both answers have a majority label (over all
    their labels), as for two systems; all tests of one kind form one Holm family over the pairs where the
    test is defined.
    """
    k = comp.n_systems
    low, high = pair_systems(k)
    names = comp.system_names
    majority = plurality(counts.reshape(-1, N_LABELS)).reshape(counts.shape[:2])
    has_majority = (majority >= 0).astype(np.float64)
    tied = (majority == TIE).astype(np.float64)
    paired = has_majority.T @ has_majority
    either_tied = tied.sum(0)[:, None] + tied.sum(0)[None, :] - tied.T @ tied
    labels_total = counts.sum(axis=(0, 2)).astype(np.float64)

    mcnemar: dict[str, dict[str, np.ndarray]] = {}
    difference: dict[str, dict[str, np.ndarray]] = {"by_majority": {}, "by_judgment": {}}
    for criterion, labels in CRITERIA.items():
        success = success_mask(majority, criterion).astype(np.float64)
        both = success.T @ success
        only = success.T @ (has_majority - success)  # [s, t]: s succeeds, t fails, both have a majority
        only_a, only_b = only[low, high], only[high, low]
        n_paired = paired[low, high]
        p_value = np.where(n_paired > 0, np.nan_to_num(exact_two_sided_half(only_a, only_a + only_b), nan=1.0), np.nan)
        mcnemar[criterion] = {
            "both": both[low, high],
            "only_a": only_a,
            "only_b": only_b,
            "p_value": p_value,
            "p_holm": holm(p_value),
        }
        with np.errstate(invalid="ignore", divide="ignore"):
            difference["by_majority"][criterion] = (only_a - only_b) / n_paired
            rate = counts[:, :, list(labels)].sum(axis=(0, 2)) / labels_total
        difference["by_judgment"][criterion] = rate[low] - rate[high]

    prefs = preference_tables(comp)
    by_item = prefs["by_item"]
    decisive = by_item[:, LOW_WINS] + by_item[:, HIGH_WINS]
    sign_p = exact_two_sided_half(by_item[:, LOW_WINS], decisive)
    sign_holm = holm(sign_p)

    rows = []
    for i, (s, t) in enumerate(zip(low.tolist(), high.tolist(), strict=True)):
        n_paired = int(paired[s, t])
        rows.append(
            {
                "systems": [names[s], names[t]],
                "preference": {
                    "by_judgment": _wtl(prefs["by_judgment"][i], confidence),
                    "by_item": {
                        **_wtl(by_item[i], confidence),
                        "sign_test_p": _none(sign_p[i]),
                        "sign_test_p_holm": _none(sign_holm[i]),
                    },
                },
                "accuracy_difference": {
                    basis: {c: _none(values[c][i]) for c in CRITERIA} for basis, values in difference.items()
                },
                "mcnemar": {
                    "n_items_paired": n_paired,
                    "n_items_with_tie": int(either_tied[s, t]),
                    **{
                        c: {
                            "n_items": n_paired,
                            "both": int(m["both"][i]),
                            "only_a": int(m["only_a"][i]),
                            "only_b": int(m["only_b"][i]),
                            "neither": int(n_paired - m["both"][i] - m["only_a"][i] - m["only_b"][i]),
                            "p_value": _none(m["p_value"][i]),
                            "p_holm": _none(m["p_holm"][i]),
                        }
                        for c, m in mcnemar.items()
                    },
                },
            }
        )

    def win_rate(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = table[:, LOW_WINS] / (table[:, LOW_WINS] + table[:, HIGH_WINS])
        return rate, 1 - rate

    judgment_rate = win_rate(prefs["by_judgment"])
    item_rate = win_rate(by_item)
    return {
        "pairs": rows,
        "matrices": {
            "systems": list(names),
            "note": "entry [row][column] is the row system's figure against the column system",
            "win_rate_by_judgment": _matrix(judgment_rate[0], k, judgment_rate[1]),
            "win_rate_by_item": _matrix(item_rate[0], k, item_rate[1]),
            "n_judgments": _matrix(prefs["by_judgment"].sum(axis=1).astype(float), k),
            "accuracy_difference_by_majority_correct": _matrix(
                difference["by_majority"]["correct"], k, -difference["by_majority"]["correct"]
            ),
            "mcnemar_p_holm_correct": _matrix(mcnemar["correct"]["p_holm"], k),
            "sign_test_p_holm": _matrix(sign_holm, k),
        },
    }
