"""One entry point: every figure of a judging session as a plain JSON-serialisable dict.

``compute_session_statistics`` takes (items, judges) integer arrays (see ``coding`` for the codes), so the
Django layer fills them from one query and the page, the export and the benchmark share one computation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from analysis.stats.accuracy import (
    CRITERIA,
    DIFFERENCE_FEATURES,
    difference_features,
    difference_from_sums,
    paired_comparison,
    preference_summary,
    proportion,
    success_mask,
    system_accuracy,
)
from analysis.stats.agreement import (
    agreement_from_sums,
    agreement_with_others,
    cohen_from_tables,
    pair_cells,
    unit_features,
)
from analysis.stats.bootstrap import GroupedStatistics, group_rows, percentile_interval
from analysis.stats.coding import LABELS, MISSING, PREFERENCES, category_counts, check_codes, plurality
from analysis.stats.correlation import auc_delong, point_biserial

N_LABELS = len(LABELS)

RULES: tuple[str, ...] = (
    "Control items are excluded from every figure except control accuracy.",
    "'Correct' accuracy counts only answers judged correct; 'lenient' accuracy counts correct or partial. "
    "Both are shown.",
    "The majority label of an answer is the label given by strictly more judges than any other label "
    "(strict plurality). An answer whose most frequent labels are tied has no majority label: it is counted "
    "as a tie, left out of majority accuracy and of McNemar's test, and the number of ties is shown.",
    "Accuracy by judgment counts every label as one observation. Accuracy intervals are Wilson {level} intervals.",
    "McNemar's exact test and the majority accuracy difference use the items where both systems' answers "
    "have a majority label. Differences are system A minus system B, with a paired bootstrap percentile "
    "interval over items (seeded).",
    "Preferences: per judgment, and per item (the system preferred by more judges wins; equal votes are a "
    "tie). Ties count in win/tie/loss and are left out of the sign test (on items) and of the win rate, which "
    "is A's wins / (A's wins + B's wins) with a Wilson interval.",
    "Agreement treats each answer (system A's and system B's answer to an item) as a unit. Percent agreement, "
    "Fleiss' kappa, Gwet's AC1 and Krippendorff's alpha use answers labelled by at least two judges; the "
    "chance terms of Fleiss and Gwet average each answer's label shares over answers with at least one label "
    "(Gwet's generalisation to unequal judges per item). Cohen's kappa uses the answers both judges labelled. "
    "Krippendorff's ordinal alpha orders incorrect < partial < correct.",
    "A coefficient whose chance agreement is 1 (for example when everyone used one label) is undefined and "
    "shown as None, never as 0.",
    "Agreement intervals are {level} percentile bootstrap intervals over items (both answers of an item are "
    "resampled together), computed on the replicates where the coefficient is defined.",
    "Agreement with the others: a judge's label against the strict-plurality label of the other judges on "
    "the same answer; answers where the others tie or nobody else judged are left out.",
    "Control accuracy: a judge's labels on control items against the control's expected labels.",
    "BERTScore correlation: per answer, BERTScore against whether the majority label is correct (or lenient); "
    "answers without a majority label or a score are left out. Fisher-z interval for the point-biserial r, "
    "DeLong interval for the AUC.",
)


@dataclass(frozen=True)
class SessionArrays:
    """Validated inputs plus the label counts every statistic starts from."""

    labels_a: np.ndarray
    labels_b: np.ndarray
    preference: np.ndarray
    seconds: np.ndarray
    control: np.ndarray
    control_gold_a: np.ndarray
    control_gold_b: np.ndarray
    bertscore_a: np.ndarray | None
    bertscore_b: np.ndarray | None
    item_ids: list[object]
    judge_ids: list[object]
    counts_a: np.ndarray
    counts_b: np.ndarray
    judged: np.ndarray
    """(items, judges) True where the judge left any judgment (a label or a preference)."""
    resampled_items: np.ndarray
    """Indices of the items the bootstrap resamples: non-control items with at least one label."""

    @property
    def main(self) -> np.ndarray:
        return ~self.control


def _float_array(name: str, values: object, shape: tuple[int, ...], allow_negative: bool = True) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if np.isinf(arr).any():
        raise ValueError(f"{name}{list(np.argwhere(np.isinf(arr))[0])} is infinite")
    if not allow_negative and (arr < 0).any():
        where = [int(i) for i in np.argwhere(arr < 0)[0]]
        raise ValueError(f"{name}{where} is negative")
    return arr


def _ids(name: str, values: Sequence[object] | np.ndarray | None, n: int) -> list[object]:
    if values is None:
        return list(range(n))
    ids: list[object] = np.asarray(values).tolist()
    if len(ids) != n:
        raise ValueError(f"{name} has {len(ids)} entries, expected {n}")
    return ids


def prepare_session(
    labels_a: object,
    labels_b: object,
    *,
    control: object | None = None,
    control_gold_a: object | None = None,
    control_gold_b: object | None = None,
    preference: object | None = None,
    seconds: object | None = None,
    judge_ids: Sequence[object] | np.ndarray | None = None,
    item_ids: Sequence[object] | np.ndarray | None = None,
    bertscore_a: object | None = None,
    bertscore_b: object | None = None,
) -> SessionArrays:
    """Check shapes and codes (errors name the array and position) and count labels per answer."""
    la = check_codes("labels_a", labels_a, N_LABELS, 2)
    lb = check_codes("labels_b", labels_b, N_LABELS, 2)
    if la.shape != lb.shape:
        raise ValueError(f"labels_a has shape {la.shape} but labels_b has shape {lb.shape}")
    n_items, n_judges = la.shape
    pref = (
        np.full(la.shape, MISSING, dtype=np.int64)
        if preference is None
        else check_codes("preference", preference, len(PREFERENCES), 2)
    )
    if pref.shape != la.shape:
        raise ValueError(f"preference has shape {pref.shape}, expected {la.shape}")
    secs = np.full(la.shape, np.nan) if seconds is None else _float_array("seconds", seconds, la.shape, False)
    ctrl = np.zeros(n_items, dtype=bool) if control is None else np.asarray(control, dtype=bool)
    if ctrl.shape != (n_items,):
        raise ValueError(f"control must have shape ({n_items},), got {ctrl.shape}")
    golds = []
    for name, gold in (("control_gold_a", control_gold_a), ("control_gold_b", control_gold_b)):
        g = np.full(n_items, MISSING, dtype=np.int64) if gold is None else check_codes(name, gold, N_LABELS, 1)
        if g.shape != (n_items,):
            raise ValueError(f"{name} must have shape ({n_items},), got {g.shape}")
        golds.append(g)
    scores = [
        None if s is None else _float_array(name, s, (n_items,))
        for name, s in (("bertscore_a", bertscore_a), ("bertscore_b", bertscore_b))
    ]
    if (scores[0] is None) != (scores[1] is None):
        raise ValueError("give BERTScore for both systems' answers or for neither")
    counts_a = category_counts(la, N_LABELS)
    counts_b = category_counts(lb, N_LABELS)
    labelled = (counts_a.sum(axis=1) + counts_b.sum(axis=1)) > 0
    return SessionArrays(
        labels_a=la,
        labels_b=lb,
        preference=pref,
        seconds=secs,
        control=ctrl,
        control_gold_a=golds[0],
        control_gold_b=golds[1],
        bertscore_a=scores[0],
        bertscore_b=scores[1],
        item_ids=_ids("item_ids", item_ids, n_items),
        judge_ids=_ids("judge_ids", judge_ids, n_judges),
        counts_a=counts_a,
        counts_b=counts_b,
        judged=(la != MISSING) | (lb != MISSING) | (pref != MISSING),
        resampled_items=np.flatnonzero(~ctrl & labelled),
    )


def _joint_statistics(counts_a: np.ndarray, counts_b: np.ndarray) -> GroupedStatistics:
    """Accuracy differences and every multi-judge coefficient, grouped by the item's (A, B) count pattern."""
    patterns = group_rows(np.concatenate([counts_a, counts_b], axis=1))
    rep_a, rep_b = counts_a[patterns.representatives], counts_b[patterns.representatives]
    features = np.concatenate([difference_features(rep_a, rep_b), unit_features(rep_a) + unit_features(rep_b)], axis=1)
    n_diff = len(DIFFERENCE_FEATURES)

    def evaluate(sums: np.ndarray) -> dict[str, np.ndarray]:
        return {**difference_from_sums(sums[:, :n_diff]), **agreement_from_sums(sums[:, n_diff:], N_LABELS)}

    return GroupedStatistics(patterns, features, evaluate)


def _pair_statistics(by_judge_a: np.ndarray, by_judge_b: np.ndarray, first: int, second: int) -> GroupedStatistics:
    """Cohen's kappa of one pair of judges, grouped by the pair's contingency cells on the item's two answers.

    ``by_judge_*`` are (judges, items) labels. Both answers add to one table, so an item's pattern is
    the unordered pair of its two cells (fewer patterns, cheaper multinomial draws).
    """
    n_cells = N_LABELS * N_LABELS + 1
    cell_a = pair_cells(by_judge_a[first], by_judge_a[second], N_LABELS)
    cell_b = pair_cells(by_judge_b[first], by_judge_b[second], N_LABELS)
    low, high = np.minimum(cell_a, cell_b), np.maximum(cell_a, cell_b)
    patterns = group_rows(low * n_cells + high)
    eye = np.eye(n_cells)
    features = (eye[low[patterns.representatives]] + eye[high[patterns.representatives]])[:, :-1]

    def evaluate(sums: np.ndarray) -> dict[str, np.ndarray]:
        return {"cohen_kappa": cohen_from_tables(sums.reshape(-1, N_LABELS, N_LABELS))}

    return GroupedStatistics(patterns, features, evaluate)


def bootstrap_groups(session: SessionArrays) -> dict[str, GroupedStatistics]:
    """Every bootstrapped statistic, grouped: "joint" and one "cohen_kappa:<i>:<j>" per pair of judges.

    All are built over ``session.resampled_items``; tests replay the same item indices through these and
    through the naive per-replicate library calls.
    """
    items = session.resampled_items
    by_judge_a = np.ascontiguousarray(session.labels_a[items].T)
    by_judge_b = np.ascontiguousarray(session.labels_b[items].T)
    groups = {"joint": _joint_statistics(session.counts_a[items], session.counts_b[items])}
    for first, second in combinations(range(by_judge_a.shape[0]), 2):
        groups[f"cohen_kappa:{first}:{second}"] = _pair_statistics(by_judge_a, by_judge_b, first, second)
    return groups


def _estimate(point: float, replicates: np.ndarray | None, confidence: float) -> dict[str, object]:
    defined = bool(np.isfinite(point))
    return {
        "estimate": float(point) if defined else None,
        "ci": percentile_interval(replicates, confidence) if (defined and replicates is not None) else None,
    }


def _judges_section(session: SessionArrays, confidence: float) -> list[dict[str, object]]:
    main, ctrl = session.main, session.control
    la, lb = session.labels_a, session.labels_b
    judged = session.judged
    units = np.concatenate([la[main], lb[main]])
    unit_counts = np.concatenate([session.counts_a[main], session.counts_b[main]])
    with_others = agreement_with_others(units, unit_counts)
    ctrl_labels = np.concatenate([la[ctrl], lb[ctrl]])
    ctrl_gold = np.concatenate([session.control_gold_a[ctrl], session.control_gold_b[ctrl]])
    ctrl_known = (ctrl_labels != MISSING) & (ctrl_gold != MISSING)[:, None]
    ctrl_right = ctrl_known & (ctrl_labels == ctrl_gold[:, None])
    n_main = judged[main].sum(axis=0)
    n_ctrl = judged[ctrl].sum(axis=0)
    times_by_judge = np.where(judged & main[:, None], session.seconds, np.nan).T.copy()
    out = []
    for j, judge in enumerate(session.judge_ids):  # loop over judges (few), vectorised over items
        times = times_by_judge[j]
        times = times[~np.isnan(times)]
        agree = with_others[j]
        out.append(
            {
                "judge": judge,
                "n_judgments": int(n_main[j]),
                "n_control_judgments": int(n_ctrl[j]),
                "agreement_with_others": {
                    **proportion(agree["agreed"], agree["n"], confidence),
                    "n_others_tied": agree["n_others_tied"],
                },
                "control_accuracy": proportion(int(ctrl_right[:, j].sum()), int(ctrl_known[:, j].sum()), confidence),
                "median_seconds": float(np.median(times)) if times.size else None,
            }
        )
    return out


def _correlation_section(session: SessionArrays, confidence: float) -> dict[str, object] | None:
    if session.bertscore_a is None or session.bertscore_b is None:
        return None
    main = session.main
    scores = np.concatenate([session.bertscore_a[main], session.bertscore_b[main]])
    majority = np.concatenate([plurality(session.counts_a[main]), plurality(session.counts_b[main])])
    usable = np.isfinite(scores) & (majority >= 0)
    out: dict[str, object] = {"n_answers": int(usable.sum())}
    for criterion in CRITERIA:
        outcome = success_mask(majority[usable], criterion)
        out[criterion] = {
            "point_biserial": point_biserial(scores[usable], outcome, confidence),
            "auc": auc_delong(scores[usable], outcome, confidence),
        }
    return out


def _items_section(session: SessionArrays) -> dict[str, object]:
    """Per-item table as columns (cheap to build for 200,000 items, easy to page through)."""
    label_names = np.array([*LABELS, None], dtype=object)  # code -1 picks the trailing None
    majority_names = np.array([*LABELS, "tie", None], dtype=object)  # -2 -> "tie", -1 -> None
    pref_names = np.array([*PREFERENCES, None], dtype=object)
    maj_a, maj_b = plurality(session.counts_a), plurality(session.counts_b)
    disagree_a = (session.counts_a > 0).sum(axis=1) > 1
    disagree_b = (session.counts_b > 0).sum(axis=1) > 1
    return {
        "item_ids": session.item_ids,
        "control": session.control.tolist(),
        "labels_a": label_names[session.labels_a].tolist(),
        "labels_b": label_names[session.labels_b].tolist(),
        "preference": pref_names[session.preference].tolist(),
        "majority_a": majority_names[maj_a].tolist(),
        "majority_b": majority_names[maj_b].tolist(),
        "disagreement_a": disagree_a.tolist(),
        "disagreement_b": disagree_b.tolist(),
        "disagreement": (disagree_a | disagree_b).tolist(),
    }


def summarise(
    session: SessionArrays,
    *,
    system_names: Sequence[str] = ("A", "B"),
    n_boot: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    include_items: bool = True,
) -> dict[str, object]:
    """Every figure for a prepared session (see ``compute_session_statistics``)."""
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    if len(system_names) != 2:
        raise ValueError("system_names must name exactly two systems")
    name_a, name_b = system_names
    main = session.main
    counts_a, counts_b = session.counts_a[main], session.counts_b[main]

    groups = bootstrap_groups(session)
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(groups))]
    points: dict[str, dict[str, float]] = {}
    draws: dict[str, dict[str, np.ndarray] | None] = {}
    for (key, group), rng in zip(groups.items(), rngs, strict=True):
        points[key] = group.point()
        draws[key] = group.draw(n_boot, rng) if n_boot else None

    def boot(key: str, stat: str) -> dict[str, object]:
        reps = draws[key]
        return _estimate(points[key][stat], None if reps is None else reps[stat], confidence)

    difference = {
        basis: {criterion: boot("joint", f"accuracy_difference.{basis}.{criterion}") for criterion in CRITERIA}
        for basis in ("by_majority", "by_judgment")
    }
    units = np.concatenate([counts_a, counts_b])
    n_per_unit = units.sum(axis=1)
    judge_ids = session.judge_ids
    labelled = (np.concatenate([session.labels_a[main], session.labels_b[main]]) != MISSING).astype(np.float64)
    both_labelled = np.rint(labelled.T @ labelled)  # units labelled by both judges of each pair
    cohen = [
        {
            "judges": [judge_ids[first], judge_ids[second]],
            "n_units": int(both_labelled[first, second]),
            **boot(f"cohen_kappa:{first}:{second}", "cohen_kappa"),
        }
        for first, second in combinations(range(len(judge_ids)), 2)
    ]

    result: dict[str, object] = {
        "rules": [rule.replace("{level}", f"{confidence:.0%}") for rule in RULES],
        "labels": list(LABELS),
        "systems": [name_a, name_b],
        "counts": {
            "n_items": len(session.item_ids),
            "n_control_items": int(session.control.sum()),
            "n_judges": len(judge_ids),
            "n_items_resampled": int(session.resampled_items.size),
            "n_judgments": int(session.judged[main].sum()),
        },
        "bootstrap": {"replicates": n_boot, "seed": seed, "confidence": confidence, "resampling": "items"},
        "accuracy": {name_a: system_accuracy(counts_a, confidence), name_b: system_accuracy(counts_b, confidence)},
        "comparison": {
            "accuracy_difference": difference,
            "mcnemar": paired_comparison(counts_a, counts_b),
            "preference": preference_summary(session.preference[main], confidence),
        },
        "agreement": {
            "n_units": int(units.shape[0]),
            "n_units_labelled": int((n_per_unit >= 1).sum()),
            "n_units_pairable": int((n_per_unit >= 2).sum()),
            **{
                stat: boot("joint", stat)
                for stat in (
                    "percent_agreement",
                    "fleiss_kappa",
                    "gwet_ac1",
                    "krippendorff_alpha_nominal",
                    "krippendorff_alpha_ordinal",
                )
            },
            "cohen_kappa": cohen,
        },
        "judges": _judges_section(session, confidence),
        "correlation": _correlation_section(session, confidence),
    }
    if include_items:
        result["items"] = _items_section(session)
    return result


def compute_session_statistics(
    labels_a: object,
    labels_b: object,
    *,
    control: object | None = None,
    control_gold_a: object | None = None,
    control_gold_b: object | None = None,
    preference: object | None = None,
    seconds: object | None = None,
    judge_ids: Sequence[object] | np.ndarray | None = None,
    item_ids: Sequence[object] | np.ndarray | None = None,
    bertscore_a: object | None = None,
    bertscore_b: object | None = None,
    system_names: Sequence[str] = ("A", "B"),
    n_boot: int = 10_000,
    seed: int = 0,
    confidence: float = 0.95,
    include_items: bool = True,
) -> dict[str, object]:
    """Every statistic of a judging session from integer arrays; returns a JSON-serialisable dict.

    Arrays (``n`` items, ``m`` judges; codes in ``analysis.stats.coding``):
    - ``labels_a`` / ``labels_b``: (n, m) correctness label of system A's / B's answer, -1 when missing;
    - ``preference``: (n, m) 0 = prefers A, 1 = tie, 2 = prefers B, -1 missing;
    - ``seconds``: (n, m) time spent on the judgment, NaN when unknown;
    - ``control``: (n,) True for control items; ``control_gold_a`` / ``_b``: (n,) their expected labels;
    - ``bertscore_a`` / ``_b``: (n,) per-answer BERTScore, NaN when unknown (optional).
    Undefined values are None; the ``rules`` entry states how each figure is counted.
    """
    session = prepare_session(
        labels_a,
        labels_b,
        control=control,
        control_gold_a=control_gold_a,
        control_gold_b=control_gold_b,
        preference=preference,
        seconds=seconds,
        judge_ids=judge_ids,
        item_ids=item_ids,
        bertscore_a=bertscore_a,
        bertscore_b=bertscore_b,
    )
    return summarise(
        session,
        system_names=system_names,
        n_boot=n_boot,
        seed=seed,
        confidence=confidence,
        include_items=include_items,
    )
