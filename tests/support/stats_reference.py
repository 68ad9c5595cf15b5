"""The naive way: per-item Python loops and one library call per statistic (and per bootstrap replicate).

Kept deliberately independent of the vectorised code (it shares only the label codes) so the tests and
``bench/statistics.py`` can check the fast figures against krippendorff, statsmodels, scikit-learn and
SciPy on the same data, and time what the fast path saves. Not used to serve pages.
"""

from __future__ import annotations

import warnings
from collections import Counter
from itertools import combinations

import krippendorff
import numpy as np
from scipy import stats
from sklearn.metrics import cohen_kappa_score, roc_auc_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from analysis.stats.coding import CORRECT, LABELS, MISSING, PARTIAL, PREFER_A, PREFER_B, PREFER_TIE
from analysis.stats.flatten import flatten  # noqa: F401 - the names the reference figures use

SUCCESS = {"correct": {CORRECT}, "lenient": {CORRECT, PARTIAL}}
K = len(LABELS)


def _none_if_nan(value: float) -> float | None:
    value = float(value)
    return None if np.isnan(value) else value


def label_counts(unit: list[int]) -> list[int]:
    """How many judges gave each label to one unit."""
    counts = [0] * K
    for v in unit:
        if v != MISSING:
            counts[v] += 1
    return counts


def majority_of_counts(counts: list[int]) -> int | str | None:
    """Strict plurality: the most frequent label, "tie" when the top is shared, None when nobody labelled."""
    top = max(counts)
    if top == 0:
        return None
    if counts.count(top) > 1:
        return "tie"
    return counts.index(top)


def majority(labels: list[int]) -> int | str | None:
    """Strict plurality of a unit's labels."""
    return majority_of_counts(label_counts(labels))


def _coefficients(all_counts: list[list[int]]) -> dict[str, float | None]:
    """Percent agreement, Fleiss' kappa and Gwet's AC1 (Gwet 2014 generalisation), one unit at a time."""
    pair_sum, n_pairable, n_rated = 0.0, 0, 0
    shares = [0.0] * K
    for counts in all_counts:
        m = sum(counts)
        if m >= 1:
            n_rated += 1
            for k in range(K):
                shares[k] += counts[k] / m
        if m >= 2:
            n_pairable += 1
            pair_sum += sum(c * (c - 1) for c in counts) / (m * (m - 1))
    if n_pairable == 0:
        return {"percent_agreement": None, "fleiss_kappa": None, "gwet_ac1": None}
    observed = pair_sum / n_pairable
    pi = [s / n_rated for s in shares]
    chance_f = sum(p * p for p in pi)
    chance_g = sum(p * (1 - p) for p in pi) / (K - 1)
    return {
        "percent_agreement": observed,
        "fleiss_kappa": None if abs(1 - chance_f) <= 1e-12 else (observed - chance_f) / (1 - chance_f),
        "gwet_ac1": None if abs(1 - chance_g) <= 1e-12 else (observed - chance_g) / (1 - chance_g),
    }


def multi_judge_coefficients(units: list[list[int]]) -> dict[str, float | None]:
    """Percent agreement, Fleiss' kappa and Gwet's AC1 from (units, judges) labels."""
    return _coefficients([label_counts(u) for u in units])


def krippendorff_alpha(units: np.ndarray, level: str) -> float | None:
    """The ``krippendorff`` package on (judges, units) data with NaN for missing; None when undefined."""
    data = np.asarray(units, dtype=np.float64).T.copy()
    data[data == MISSING] = np.nan
    try:
        with np.errstate(invalid="ignore", divide="ignore"):
            return _none_if_nan(krippendorff.alpha(data, value_domain=list(range(K)), level_of_measurement=level))
    except ValueError:  # no unit labelled by two judges
        return None


def cohen_pair(units: np.ndarray, first: int, second: int) -> float | None:
    """scikit-learn's Cohen's kappa on the units both judges labelled; None when undefined."""
    units = np.asarray(units)
    both = (units[:, first] != MISSING) & (units[:, second] != MISSING)
    if not both.any():
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _none_if_nan(cohen_kappa_score(units[both, first], units[both, second], labels=list(range(K))))


def resampled_statistics(labels_a: np.ndarray, labels_b: np.ndarray) -> dict[str, float | None]:
    """Every bootstrapped statistic for one set of items (a replicate), the naive way.

    One Python loop over items for what no library computes (majorities, accuracy, Fleiss with missing
    judgments, Gwet's AC1), and one library call per statistic for the rest. Keys match
    ``summary.bootstrap_groups``: "<group>/<statistic>".
    """
    out: dict[str, float | None] = {}
    paired = 0
    wins = {c: [0, 0] for c in SUCCESS}
    per_label = {"a": [0, 0, 0], "b": [0, 0, 0]}  # labels, correct, lenient
    counts_a, counts_b = [], []
    for ua, ub in zip(labels_a.tolist(), labels_b.tolist(), strict=True):
        ca, cb = label_counts(ua), label_counts(ub)
        counts_a.append(ca)
        counts_b.append(cb)
        ma, mb = majority_of_counts(ca), majority_of_counts(cb)
        if ma not in (None, "tie") and mb not in (None, "tie"):
            paired += 1
            for c, ok in SUCCESS.items():
                wins[c][0] += ma in ok
                wins[c][1] += mb in ok
        for key, counts in (("a", ca), ("b", cb)):
            per_label[key][0] += sum(counts)
            per_label[key][1] += counts[CORRECT]
            per_label[key][2] += counts[CORRECT] + counts[PARTIAL]
    for c in SUCCESS:
        out[f"joint/accuracy_difference.by_majority.{c}"] = (wins[c][0] - wins[c][1]) / paired if paired else None
    for i, c in ((1, "correct"), (2, "lenient")):
        na, nb = per_label["a"][0], per_label["b"][0]
        out[f"joint/accuracy_difference.by_judgment.{c}"] = (
            per_label["a"][i] / na - per_label["b"][i] / nb if na and nb else None
        )
    out.update({f"joint/{k}": v for k, v in _coefficients(counts_a + counts_b).items()})
    units = np.concatenate([labels_a, labels_b])
    out["joint/krippendorff_alpha_nominal"] = krippendorff_alpha(units, "nominal")
    out["joint/krippendorff_alpha_ordinal"] = krippendorff_alpha(units, "ordinal")
    for first, second in combinations(range(labels_a.shape[1]), 2):
        out[f"cohen_kappa:{first}:{second}/cohen_kappa"] = cohen_pair(units, first, second)
    return out


def _proportion(prefix: str, successes: int, n: int, out: dict[str, float | None]) -> None:
    out[f"{prefix}.successes"] = successes
    out[f"{prefix}.n"] = n
    out[f"{prefix}.rate"] = successes / n if n else None
    if n:
        low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
        out[f"{prefix}.ci.0"], out[f"{prefix}.ci.1"] = float(low), float(high)


def session_point_estimates(
    labels_a: np.ndarray,
    labels_b: np.ndarray,
    *,
    control: np.ndarray,
    control_gold_a: np.ndarray,
    control_gold_b: np.ndarray,
    preference: np.ndarray,
    seconds: np.ndarray,
    bertscore_a: np.ndarray | None = None,
    bertscore_b: np.ndarray | None = None,
    system_names: tuple[str, str] = ("A", "B"),
) -> dict[str, float | None]:
    """Point estimates, flat ("accuracy.A.by_majority.correct.rate", ...) as ``flatten`` names the summary's."""
    out: dict[str, float | None] = {}
    main_rows = [i for i in range(labels_a.shape[0]) if not control[i]]
    rows_a = [labels_a[i].tolist() for i in main_rows]
    rows_b = [labels_b[i].tolist() for i in main_rows]
    majorities = {}
    for name, rows in zip(system_names, (rows_a, rows_b), strict=True):
        maj = [majority(r) for r in rows]
        majorities[name] = maj
        decided = [m for m in maj if m not in (None, "tie")]
        out[f"accuracy.{name}.by_majority.n_ties"] = sum(m == "tie" for m in maj)
        labels = [v for r in rows for v in r if v != MISSING]
        for c, ok in SUCCESS.items():
            _proportion(f"accuracy.{name}.by_majority.{c}", sum(m in ok for m in decided), len(decided), out)
            _proportion(f"accuracy.{name}.by_judgment.{c}", sum(v in ok for v in labels), len(labels), out)

    maj_a, maj_b = majorities[system_names[0]], majorities[system_names[1]]
    pairs = [(a, b) for a, b in zip(maj_a, maj_b, strict=True) if a not in (None, "tie") and b not in (None, "tie")]
    for c, ok in SUCCESS.items():
        table = [[0, 0], [0, 0]]
        for a, b in pairs:
            table[int(a not in ok)][int(b not in ok)] += 1
        out[f"comparison.mcnemar.{c}.only_a"] = table[0][1]
        out[f"comparison.mcnemar.{c}.only_b"] = table[1][0]
        out[f"comparison.mcnemar.{c}.p_value"] = float(mcnemar(table, exact=True).pvalue)
    resampled = resampled_statistics(labels_a[~control], labels_b[~control])
    for key, value in resampled.items():
        group, stat = key.split("/")
        if stat.startswith("accuracy_difference."):
            out[f"comparison.{stat}.estimate"] = value
        elif group == "joint":
            out[f"agreement.{stat}.estimate"] = value

    a_wins = ties = b_wins = 0
    votes: Counter[int] = Counter()
    for i in main_rows:
        row = [p for p in preference[i].tolist() if p != MISSING]
        votes.update(row)
        na, nb = row.count(PREFER_A), row.count(PREFER_B)
        if not row:
            continue
        a_wins += na > nb
        b_wins += nb > na
        ties += na == nb
    out["comparison.preference.by_item.a_wins"] = a_wins
    out["comparison.preference.by_item.ties"] = ties
    out["comparison.preference.by_item.b_wins"] = b_wins
    out["comparison.preference.by_item.sign_test_p"] = (
        float(stats.binomtest(a_wins, a_wins + b_wins, 0.5).pvalue) if a_wins + b_wins else None
    )
    _proportion("comparison.preference.by_item.win_rate_a", a_wins, a_wins + b_wins, out)
    out["comparison.preference.by_judgment.ties"] = votes[PREFER_TIE]
    _proportion("comparison.preference.by_judgment.win_rate_a", votes[PREFER_A], votes[PREFER_A] + votes[PREFER_B], out)

    units = rows_a + rows_b
    n_judges = labels_a.shape[1]
    for index, (first, second) in enumerate(combinations(range(n_judges), 2)):
        out[f"agreement.cohen_kappa.{index}.estimate"] = resampled[f"cohen_kappa:{first}:{second}/cohen_kappa"]

    for j in range(n_judges):
        prefix = f"judges.{j}"
        judged = [
            i
            for i in main_rows
            if labels_a[i, j] != MISSING or labels_b[i, j] != MISSING or preference[i, j] != MISSING
        ]
        out[f"{prefix}.n_judgments"] = len(judged)
        agreed = compared = 0
        for unit in units:
            if unit[j] == MISSING:
                continue
            others = unit[:j] + unit[j + 1 :]
            m = majority(others)
            if m not in (None, "tie"):
                compared += 1
                agreed += m == unit[j]
        _proportion(f"{prefix}.agreement_with_others", agreed, compared, out)
        right = known = 0
        for i in range(labels_a.shape[0]):
            if not control[i]:
                continue
            for labels, gold in ((labels_a, control_gold_a), (labels_b, control_gold_b)):
                if labels[i, j] != MISSING and gold[i] != MISSING:
                    known += 1
                    right += labels[i, j] == gold[i]
        _proportion(f"{prefix}.control_accuracy", right, known, out)
        times = [seconds[i, j] for i in judged if np.isfinite(seconds[i, j])]
        out[f"{prefix}.median_seconds"] = float(np.median(times)) if times else None

    if bertscore_a is not None and bertscore_b is not None:
        scores, majority_labels = [], []
        for i, pos in zip(main_rows, range(len(main_rows)), strict=True):
            for score, maj in ((bertscore_a[i], maj_a[pos]), (bertscore_b[i], maj_b[pos])):
                if np.isfinite(score) and maj not in (None, "tie"):
                    scores.append(float(score))
                    majority_labels.append(maj)
        for c, ok in SUCCESS.items():
            outcome = [int(m in ok) for m in majority_labels]
            if len(set(outcome)) == 2:
                res = stats.pointbiserialr(outcome, scores)
                out[f"correlation.{c}.point_biserial.r"] = float(res.statistic)
                out[f"correlation.{c}.point_biserial.p_value"] = float(res.pvalue)
                out[f"correlation.{c}.auc.auc"] = float(roc_auc_score(outcome, scores))
    return out
