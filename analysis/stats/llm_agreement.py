"""How far an LLM judge agrees with the human judges of a session, whether it reaches their conclusion, and
how it is biased (position, length). NumPy only, on integer codes like the rest of the engine.

Human and LLM figures come from separate arrays: the LLM judge is never one of the (items, judges) human
columns, so it cannot enter a human majority, a human agreement coefficient or k. Its verdict per item is the
order-consistent one (``analysis.engine.verdicts``): a label code or ``MISSING`` per answer (``TIE`` is read as
"no label", e.g. labels that changed with the order) and a preference code, where an order-inconsistent
preference is already a tie.

Intervals are percentile bootstrap intervals over items, drawn with the pattern bootstrap of
``bootstrap.py``: every figure here is a function of summed per-item integer features, so items are grouped
by their feature row and a replicate is one multinomial draw. Human and LLM figures are drawn on the same
resamples, so their difference has an interval too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.stats.accuracy import CRITERIA, proportion, success_mask
from analysis.stats.agreement import _scalar, cohen_from_tables, cohen_kappa
from analysis.stats.bootstrap import GroupedStatistics, group_rows
from analysis.stats.coding import (
    LABELS,
    MISSING,
    PREFER_A,
    PREFER_B,
    PREFER_TIE,
    PREFERENCES,
    TIE,
    category_counts,
    check_codes,
    plurality,
)
from analysis.stats.summary import _estimate, _pair_statistics

N_LABELS = len(LABELS)
N_PREFS = len(PREFERENCES)

RULES: tuple[str, ...] = (
    "The LLM judge is not a human judge: it is left out of every human figure (majorities, agreement, k).",
    "LLM vs human majority: per answer, the LLM's order-consistent label against the human strict-plurality "
    "label, on answers that have both. Cohen's kappa per label treats that label against all others.",
    "Preference agreement: per item, the LLM's preference (an order-inconsistent preference is a tie) "
    "against the human majority preference (more judges preferring A than B wins; equal votes are a tie).",
    "Placement among humans: Cohen's kappa of the LLM with each human judge, against the range of the human "
    "judges' pairwise kappas; the LLM is inside when its kappa lies within [lowest, highest] human pair kappa.",
    "Conclusions: accuracy and the A - B accuracy difference (paired items) by the human majority and by the "
    "LLM, with {level} bootstrap intervals over items on the same resamples. Same conclusion: same sign of "
    "the difference; the intervals overlapping is reported beside it.",
    "Length: the longer answer has more characters; items with equally long answers are left out. Its win "
    "share is its wins over decisive preferences (humans by judgment and by item majority, and the LLM).",
)


def majority_preference(votes: np.ndarray) -> np.ndarray:
    """Per item, from (items, 3) preference vote counts: the preference of more human judges (PREFER_A /
    PREFER_B), a tie on equal votes, MISSING without votes (as ``preference_summary`` counts items)."""
    voted = votes.sum(axis=1) > 0
    out = np.where(votes[:, PREFER_A] > votes[:, PREFER_B], PREFER_A, PREFER_TIE)
    out = np.where(votes[:, PREFER_B] > votes[:, PREFER_A], PREFER_B, out)
    return np.where(voted, out, MISSING)


def _llm_codes(name: str, codes: object, n_categories: int, n: int) -> np.ndarray:
    """LLM codes for n items; TIE (an inconsistent label) is read as no label."""
    arr = np.asarray(codes)
    arr = np.where(arr == TIE, MISSING, arr) if arr.size else arr
    arr = check_codes(name, arr, n_categories, 1)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    return arr


def _cells(first: np.ndarray, second: np.ndarray, k: int) -> np.ndarray:
    """One-hot (n, k*k) contingency cell per row; all zero where either code is missing."""
    both = (first >= 0) & (second >= 0)
    out = np.zeros((len(first), k * k), dtype=np.int64)
    rows = np.flatnonzero(both)
    out[rows, first[both] * k + second[both]] = 1
    return out


def _longer(length_a: np.ndarray, length_b: np.ndarray) -> np.ndarray:
    """PREFER_A where A's answer is longer, PREFER_B where B's is, MISSING when equal or unknown."""
    known = np.isfinite(length_a) & np.isfinite(length_b)
    out = np.where(length_a > length_b, PREFER_A, np.where(length_b > length_a, PREFER_B, MISSING))
    return np.where(known, out, MISSING)


_PAIRED = ("a_correct", "b_correct", "a_lenient", "b_lenient")
FEATURES: tuple[str, ...] = (
    *(f"{who}_{s}_{what}" for who in ("human", "llm") for s in "ab" for what in ("labelled", "correct", "lenient")),
    *(f"{who}_paired_{what}" for who in ("human", "llm") for what in ("n", *_PAIRED)),
    *(f"labels_{h}_{m}" for h in range(N_LABELS) for m in range(N_LABELS)),
    *(f"pref_{h}_{m}" for h in range(N_PREFS) for m in range(N_PREFS)),
    "human_longer_decisive_items", "human_longer_won_items", "llm_longer_decisive", "llm_longer_won",
    "human_longer_decisive_judgments", "human_longer_won_judgments",
)  # fmt: skip
_COL = {name: i for i, name in enumerate(FEATURES)}


def item_features(
    counts_a: np.ndarray,
    counts_b: np.ndarray,
    human_pref_votes: np.ndarray,
    llm_a: np.ndarray,
    llm_b: np.ndarray,
    llm_pref: np.ndarray,
    longer: np.ndarray,
) -> np.ndarray:
    """(items, FEATURES) non-negative integers whose sums give every figure of ``from_sums``."""
    human = (plurality(counts_a), plurality(counts_b))
    llm = (llm_a, llm_b)
    columns: list[np.ndarray] = []
    for maj in (human, llm):
        for codes in maj:
            columns += [codes >= 0, success_mask(codes, "correct"), success_mask(codes, "lenient")]
    for maj_a, maj_b in (human, llm):
        paired = (maj_a >= 0) & (maj_b >= 0)
        columns += [paired]
        columns += [paired & success_mask(m, c) for c in CRITERIA for m in (maj_a, maj_b)]
    label_cells = _cells(human[0], llm_a, N_LABELS) + _cells(human[1], llm_b, N_LABELS)
    human_pref = majority_preference(human_pref_votes)
    pref_cells = _cells(human_pref, llm_pref, N_PREFS)
    has_longer = longer >= 0
    human_decisive = has_longer & ((human_pref == PREFER_A) | (human_pref == PREFER_B))
    llm_decisive = has_longer & ((llm_pref == PREFER_A) | (llm_pref == PREFER_B))
    longer_votes = np.where(longer == PREFER_A, human_pref_votes[:, PREFER_A], human_pref_votes[:, PREFER_B])
    decisive_votes = human_pref_votes[:, PREFER_A] + human_pref_votes[:, PREFER_B]
    columns += [
        human_decisive,
        human_decisive & (human_pref == longer),
        llm_decisive,
        llm_decisive & (llm_pref == longer),
        np.where(has_longer, decisive_votes, 0),
        np.where(has_longer, longer_votes, 0),
    ]
    simple = np.stack([np.asarray(c, dtype=np.int64) for c in columns[:22]], axis=1)
    tail = np.stack([np.asarray(c, dtype=np.int64) for c in columns[22:]], axis=1)
    return np.concatenate([simple, label_cells, pref_cells, tail], axis=1)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def _kappa_per_label(tables: np.ndarray) -> list[np.ndarray]:
    """Binary Cohen's kappa of label k against all other labels, from (rows, K, K) tables."""
    out = []
    k = tables.shape[1]
    for label in range(k):
        rest = [c for c in range(k) if c != label]
        binary = np.stack(
            [
                np.stack([tables[:, label, label], tables[:, label][:, rest].sum(axis=1)], axis=1),
                np.stack(
                    [tables[:, rest][:, :, label].sum(axis=1), tables[:, rest][:, :, rest].sum(axis=(1, 2))], axis=1
                ),
            ],
            axis=1,
        )
        out.append(cohen_from_tables(binary))
    return out


def from_sums(sums: np.ndarray) -> dict[str, np.ndarray]:
    """Every bootstrapped figure from summed ``item_features`` (rows = replicates)."""
    sums = np.atleast_2d(np.asarray(sums, dtype=np.float64))
    f = {name: sums[:, i] for name, i in _COL.items()}
    out: dict[str, np.ndarray] = {}
    for who in ("human", "llm"):
        for s in "ab":
            for criterion in CRITERIA:
                out[f"{who}.accuracy.{s}.{criterion}"] = _ratio(f[f"{who}_{s}_{criterion}"], f[f"{who}_{s}_labelled"])
        for criterion in CRITERIA:
            diff = f[f"{who}_paired_a_{criterion}"] - f[f"{who}_paired_b_{criterion}"]
            out[f"{who}.difference.{criterion}"] = _ratio(diff, f[f"{who}_paired_n"])
    for criterion in CRITERIA:
        out[f"gap.difference.{criterion}"] = out[f"llm.difference.{criterion}"] - out[f"human.difference.{criterion}"]
    start = _COL["labels_0_0"]
    labels = sums[:, start : start + N_LABELS**2].reshape(-1, N_LABELS, N_LABELS)
    n_labels = labels.sum(axis=(1, 2))
    out["labels.accuracy"] = _ratio(np.trace(labels, axis1=1, axis2=2), n_labels)
    out["labels.cohen_kappa"] = cohen_from_tables(labels)
    for code, values in enumerate(_kappa_per_label(labels)):
        out[f"labels.cohen_kappa.{LABELS[code]}"] = values
    start = _COL["pref_0_0"]
    prefs = sums[:, start : start + N_PREFS**2].reshape(-1, N_PREFS, N_PREFS)
    out["preference.agreement"] = _ratio(np.trace(prefs, axis1=1, axis2=2), prefs.sum(axis=(1, 2)))
    out["preference.cohen_kappa"] = cohen_from_tables(prefs)
    human_marg, llm_marg = prefs.sum(axis=2), prefs.sum(axis=1)
    for who, marg in (("human", human_marg), ("llm", llm_marg)):
        out[f"{who}.win_rate_a"] = _ratio(marg[:, PREFER_A], marg[:, PREFER_A] + marg[:, PREFER_B])
    out["human.longer_win_share.by_item"] = _ratio(f["human_longer_won_items"], f["human_longer_decisive_items"])
    out["human.longer_win_share.by_judgment"] = _ratio(
        f["human_longer_won_judgments"], f["human_longer_decisive_judgments"]
    )
    out["llm.longer_win_share"] = _ratio(f["llm_longer_won"], f["llm_longer_decisive"])
    out["gap.longer_win_share"] = out["llm.longer_win_share"] - out["human.longer_win_share.by_item"]
    return out


def cluster_sums(features: np.ndarray, clusters: object) -> np.ndarray:
    """Each cluster's summed feature rows, one row per cluster: resampling these resamples whole clusters (an
    item with every comparison of it). Every figure is a function of summed features, so the point estimates
    do not change; the intervals stop treating an item's comparisons as independent."""
    ids = np.asarray(clusters)
    if ids.shape != (features.shape[0],):
        raise ValueError(f"clusters must have one entry per unit ({features.shape[0]}), got shape {ids.shape}")
    _, inverse = np.unique(ids, return_inverse=True)
    sums = np.zeros((int(inverse.max()) + 1 if ids.size else 0, features.shape[1]), dtype=features.dtype)
    np.add.at(sums, inverse, features)
    return sums


def _grouped(features: np.ndarray) -> GroupedStatistics:
    patterns = group_rows(features)
    return GroupedStatistics(patterns, features[patterns.representatives].astype(np.float64), from_sums)


def intervals_overlap(first: list[float] | None, second: list[float] | None) -> bool | None:
    """Whether two [low, high] intervals share a point; None when either is missing (no interval to compare)."""
    if not first or not second or None in first or None in second:
        return None
    return bool(first[0] <= second[1] and second[0] <= first[1])


def _sign(value: float | None) -> int | None:
    return None if value is None else int(np.sign(value))


def _among_humans(
    labels_a: np.ndarray,
    labels_b: np.ndarray,
    llm_a: np.ndarray,
    llm_b: np.ndarray,
    judge_ids: Sequence[object],
    n_boot: int,
    rng: np.random.Generator,
    confidence: float,
) -> dict[str, object]:
    """Cohen's kappa of the LLM with each human judge (bootstrap interval), placed among human pair kappas."""
    by_judge_a = np.ascontiguousarray(np.concatenate([labels_a, llm_a[:, None]], axis=1).T)
    by_judge_b = np.ascontiguousarray(np.concatenate([labels_b, llm_b[:, None]], axis=1).T)
    n_humans = labels_a.shape[1]
    units_h = np.concatenate([labels_a, labels_b])
    units_llm = np.concatenate([llm_a, llm_b])
    human_pairs: list[dict[str, Any]] = []  # JSON rows: judges (two ids), kappa (float or None)
    for first in range(n_humans):
        for second in range(first + 1, n_humans):
            kappa = cohen_kappa(units_h[:, first], units_h[:, second], N_LABELS)
            human_pairs.append({"judges": [judge_ids[first], judge_ids[second]], "kappa": kappa})
    defined = [p["kappa"] for p in human_pairs if p["kappa"] is not None]
    span = (min(defined), max(defined)) if defined else None
    per_judge: list[dict[str, Any]] = []  # JSON rows, one per human judge
    for j in range(n_humans):
        group = _pair_statistics(by_judge_a, by_judge_b, j, n_humans)
        point = group.point()["cohen_kappa"]
        reps = group.draw(n_boot, rng)["cohen_kappa"] if n_boot else None
        both = (units_h[:, j] != MISSING) & (units_llm != MISSING)
        others = [p["kappa"] for p in human_pairs if judge_ids[j] in p["judges"] and p["kappa"] is not None]
        est = _estimate(point, reps, confidence)
        value = est["estimate"] if isinstance(est["estimate"], float) else None
        per_judge.append(
            {
                "judge": judge_ids[j],
                "n_units": int(both.sum()),
                "kappa_with_llm": est,
                "kappa_with_other_humans_mean": float(np.mean(others)) if others else None,
                "inside_human_range": (None if value is None or span is None else bool(span[0] <= value <= span[1])),
            }
        )
    llm_values = [p["kappa_with_llm"]["estimate"] for p in per_judge if p["kappa_with_llm"]["estimate"] is not None]
    llm_mean = float(np.mean(llm_values)) if llm_values else None
    human_means = [
        p["kappa_with_other_humans_mean"] for p in per_judge if p["kappa_with_other_humans_mean"] is not None
    ]
    return {
        "human_pairs": human_pairs,
        "human_range": None if span is None else list(span),
        "judges": per_judge,
        "llm_mean_kappa": llm_mean,
        "llm_mean_inside_human_range": None
        if (llm_mean is None or span is None)
        else bool(span[0] <= llm_mean <= span[1]),
        # how many human judges agree less with the other humans than the LLM agrees with the humans
        "humans_below_llm": None if llm_mean is None else int(sum(m < llm_mean for m in human_means)),
        "n_humans_placed": len(human_means),
    }


def _by_length(
    human_maj: np.ndarray,
    llm_units: np.ndarray,
    lengths: np.ndarray,
    human_pref: np.ndarray,
    llm_pref: np.ndarray,
    length_gap: np.ndarray,
    n_bins: int,
    confidence: float,
) -> dict[str, object]:
    """Label agreement per answer-length bin and preference agreement per length-gap bin (quantile bins)."""

    def split(
        values: np.ndarray, usable: np.ndarray, first: np.ndarray, second: np.ndarray, k: int
    ) -> list[dict[str, object]]:
        if not usable.any():
            return []
        edges = np.unique(np.quantile(values[usable], np.linspace(0, 1, n_bins + 1)))
        which = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, max(len(edges) - 2, 0))
        out: list[dict[str, object]] = []
        for b in range(max(len(edges) - 1, 1)):
            sel = usable & (which == b)
            table = np.bincount(first[sel] * k + second[sel], minlength=k * k).reshape(1, k, k)
            out.append(
                {
                    "range": [float(edges[b]), float(edges[min(b + 1, len(edges) - 1)])],
                    "agreement": proportion(int((first[sel] == second[sel]).sum()), int(sel.sum()), confidence),
                    "cohen_kappa": _scalar(cohen_from_tables(table)[0]),
                }
            )
        return out

    units_ok = (human_maj >= 0) & (llm_units >= 0) & np.isfinite(lengths)
    items_ok = (human_pref >= 0) & (llm_pref >= 0) & np.isfinite(length_gap)
    return {
        "labels_by_answer_length": split(lengths, units_ok, human_maj, llm_units, N_LABELS),
        "preference_by_length_gap": split(length_gap, items_ok, human_pref, llm_pref, N_PREFS),
    }


def position_bias(order_preferences: object, confidence: float = 0.95) -> dict[str, object]:
    """From (items, 2) LLM preference codes in system terms for the orders (A first, B first): how often the
    verdict flips with the order, and how often the answer shown first wins a decisive order verdict."""
    raw = np.asarray(order_preferences)
    prefs: np.ndarray = check_codes("order_preferences", raw.reshape(-1), N_PREFS, 1).reshape(raw.shape)
    if prefs.ndim != 2 or prefs.shape[1] != 2:
        raise ValueError(f"order_preferences must have shape (items, 2), got {prefs.shape}")
    both = (prefs[:, 0] != MISSING) & (prefs[:, 1] != MISSING)
    flipped = both & (prefs[:, 0] != prefs[:, 1])
    first_wins = int((prefs[:, 0] == PREFER_A).sum() + (prefs[:, 1] == PREFER_B).sum())
    decisive = int(np.isin(prefs, (PREFER_A, PREFER_B)).sum())
    return {
        "flip_rate": proportion(int(flipped.sum()), int(both.sum()), confidence),
        "first_position_win_share": proportion(first_wins, decisive, confidence),
    }


def compute_llm_agreement(
    labels_a: object,
    labels_b: object,
    llm_labels_a: object,
    llm_labels_b: object,
    *,
    preference: object | None = None,
    llm_preference: object | None = None,
    llm_order_preferences: object | None = None,
    length_a: object | None = None,
    length_b: object | None = None,
    judge_ids: Sequence[object] | None = None,
    system_names: Sequence[str] = ("A", "B"),
    clusters: object | None = None,
    n_boot: int = 2_000,
    seed: int = 0,
    confidence: float = 0.95,
    n_length_bins: int = 3,
) -> dict[str, object]:
    """Every LLM-vs-human figure of a session; returns a JSON-serialisable dict.

    Arrays over the session's non-control items (``n`` items, ``m`` human judges; codes in ``coding``):
    - ``labels_a`` / ``labels_b`` / ``preference``: (n, m) human labels and preferences, -1 when missing;
    - ``llm_labels_a`` / ``llm_labels_b``: (n,) the LLM's final label code, -1 (or -2) when it has none;
    - ``llm_preference``: (n,) the LLM's final preference code (inconsistent = tie), -1 when none;
    - ``llm_order_preferences``: (n, 2) its preference per order (A first, B first), for position bias;
    - ``length_a`` / ``length_b``: (n,) answer lengths in characters (for the length figures);
    - ``clusters``: (n,) an id per unit; units sharing one are resampled together (a K-system run's comparisons
      of one item) for the figures against the human majority, the conclusions and the longer-answer shares.
    """
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    la = check_codes("labels_a", labels_a, N_LABELS, 2)
    lb = check_codes("labels_b", labels_b, N_LABELS, 2)
    if la.shape != lb.shape:
        raise ValueError(f"labels_a has shape {la.shape} but labels_b has shape {lb.shape}")
    n, m = la.shape
    pref = (
        np.full((n, m), MISSING, dtype=np.int64)
        if preference is None
        else check_codes("preference", preference, N_PREFS, 2)
    )
    if pref.shape != (n, m):
        raise ValueError(f"preference has shape {pref.shape}, expected {(n, m)}")
    llm_a = _llm_codes("llm_labels_a", llm_labels_a, N_LABELS, n)
    llm_b = _llm_codes("llm_labels_b", llm_labels_b, N_LABELS, n)
    llm_pref = (
        np.full(n, MISSING, dtype=np.int64)
        if llm_preference is None
        else _llm_codes("llm_preference", llm_preference, N_PREFS, n)
    )
    lengths = []
    for name, values in (("length_a", length_a), ("length_b", length_b)):
        arr = np.full(n, np.nan) if values is None else np.asarray(values, dtype=np.float64)
        if arr.shape != (n,):
            raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
        lengths.append(arr)
    judges = list(judge_ids) if judge_ids is not None else list(range(m))
    if len(judges) != m:
        raise ValueError(f"judge_ids has {len(judges)} entries for {m} judges")
    name_a, name_b = system_names

    counts_a, counts_b = category_counts(la, N_LABELS), category_counts(lb, N_LABELS)
    pref_votes = category_counts(pref, N_PREFS)
    longer = _longer(lengths[0], lengths[1])
    features = item_features(counts_a, counts_b, pref_votes, llm_a, llm_b, llm_pref, longer)
    group = _grouped(features if clusters is None else cluster_sums(features, clusters))
    rng_main, rng_pairs = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    point = group.point()
    reps = group.draw(n_boot, rng_main) if n_boot else None

    def est(name: str) -> dict[str, object]:
        return _estimate(point[name], None if reps is None else reps[name], confidence)

    sums = features.sum(axis=0)
    label_table = sums[_COL["labels_0_0"] : _COL["labels_0_0"] + N_LABELS**2].reshape(N_LABELS, N_LABELS)
    pref_table = sums[_COL["pref_0_0"] : _COL["pref_0_0"] + N_PREFS**2].reshape(N_PREFS, N_PREFS)

    conclusions: dict[str, object] = {}
    for criterion in CRITERIA:
        human, llm = est(f"human.difference.{criterion}"), est(f"llm.difference.{criterion}")
        human_sign, llm_sign = _sign(human["estimate"]), _sign(llm["estimate"])  # type: ignore[arg-type]
        conclusions[criterion] = {
            "accuracy": {
                who: {name_a: est(f"{who}.accuracy.a.{criterion}"), name_b: est(f"{who}.accuracy.b.{criterion}")}
                for who in ("human", "llm")
            },
            "difference": {"human": human, "llm": llm, "llm_minus_human": est(f"gap.difference.{criterion}")},
            "n_items_paired": {"human": int(sums[_COL["human_paired_n"]]), "llm": int(sums[_COL["llm_paired_n"]])},
            "same_sign": None if human_sign is None or llm_sign is None else human_sign == llm_sign,
            "intervals_overlap": intervals_overlap(human["ci"], llm["ci"]),  # type: ignore[arg-type]
        }
    human_maj_units = np.concatenate([plurality(counts_a), plurality(counts_b)])
    human_pref_items = majority_preference(pref_votes)
    order_prefs = llm_order_preferences
    return {
        "rules": [rule.replace("{level}", f"{confidence:.0%}") for rule in RULES],
        "labels": list(LABELS),
        "systems": [name_a, name_b],
        "bootstrap": {"replicates": n_boot, "seed": seed, "confidence": confidence, "resampling": "items"},
        "counts": {
            "n_items": n,
            "n_human_judges": m,
            "n_answers_llm_labelled": int((llm_a >= 0).sum() + (llm_b >= 0).sum()),
            "n_answers_compared": int(label_table.sum()),
            "n_items_preference_compared": int(pref_table.sum()),
        },
        "vs_human_majority": {
            "labels": {
                "n_answers": int(label_table.sum()),
                "accuracy": est("labels.accuracy"),
                "cohen_kappa": est("labels.cohen_kappa"),
                "cohen_kappa_per_label": {label: est(f"labels.cohen_kappa.{label}") for label in LABELS},
                "confusion": {"rows": "human majority", "columns": "LLM", "matrix": label_table.astype(int).tolist()},
            },
            "preference": {
                "n_items": int(pref_table.sum()),
                "agreement": est("preference.agreement"),
                "cohen_kappa": est("preference.cohen_kappa"),
                "confusion": {"rows": "human majority", "columns": "LLM", "matrix": pref_table.astype(int).tolist()},
            },
        },
        "among_humans": _among_humans(la, lb, llm_a, llm_b, judges, n_boot, rng_pairs, confidence),
        "conclusions": {
            **conclusions,
            "win_rate_a": {"human": est("human.win_rate_a"), "llm": est("llm.win_rate_a")},
        },
        "biases": {
            "position": None if order_prefs is None else position_bias(order_prefs, confidence),
            "longer_answer_win_share": {
                "human_by_item": est("human.longer_win_share.by_item"),
                "human_by_judgment": est("human.longer_win_share.by_judgment"),
                "llm": est("llm.longer_win_share"),
                "llm_minus_human_by_item": est("gap.longer_win_share"),
            },
            **_by_length(
                human_maj_units,
                np.concatenate([llm_a, llm_b]),
                np.concatenate(lengths),
                human_pref_items,
                llm_pref,
                np.abs(lengths[0] - lengths[1]),
                n_length_bins,
                confidence,
            ),
        },
    }
