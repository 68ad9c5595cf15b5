"""K-system statistics of a session (any K >= 2): one query over the counted judgments (judges the statistics
exclude are left out here too, by ``judge_policy.excluded_judges``) fills the engine's long arrays
(analysis.stats.ranking), and the result feeds the ranking page, its two plots and the `pairwise`/`ranking`
export tables. A two-system session gets the same figures (its K = 2 case, which the engine checks against the
two-system statistics)."""

from __future__ import annotations

import hashlib

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max

from analysis.services.judge_policy import counted_judgments, excluded_judges, exclusion_key
from analysis.services.statistics import label_codes
from analysis.stats.ranking import compute_ranking_statistics
from annotation.models import ItemAnswer, JudgingSession

METRICS = ("bertscore_f1", "bleu", "exact_match", "f1")
PREFERENCE_CODES = {"a": 0, "tie": 1, "b": 2, "": -1}
DEFAULT_REPLICATES = 1000


def ranking_arrays(session: JudgingSession) -> dict[str, object]:
    """The engine's inputs: one row per judgment (system positions, codes), per-item controls and per-answer
    metrics as (items, K) arrays (NaN where an answer has no score)."""
    codes = label_codes(session)
    rows = list(
        counted_judgments(session, excluded_judges(session))
        .order_by("pk")
        .values_list("item_id", "system_a", "system_b", "label_a", "label_b", "preference", "judge_id")
    )
    item_ids = np.fromiter(session.items.order_by("pk").values_list("pk", flat=True), dtype=np.int64)
    control_ids = set(session.items.filter(is_control=True).values_list("pk", flat=True))
    index = {int(pk): i for i, pk in enumerate(item_ids)}
    k = session.n_systems
    metrics = {name: np.full((len(item_ids), k), np.nan) for name in METRICS}
    for item_id, system, scores in ItemAnswer.objects.filter(item__session=session).values_list(
        "item_id", "system", "metrics"
    ):
        for name in METRICS:
            value = (scores or {}).get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics[name][index[item_id], system] = float(value)
    judges = sorted({row[6] for row in rows})
    judge_index = {pk: i for i, pk in enumerate(judges)}
    return {
        "item": np.array([index[row[0]] for row in rows], dtype=np.int64),
        "system_a": np.array([row[1] for row in rows], dtype=np.int64),
        "system_b": np.array([row[2] for row in rows], dtype=np.int64),
        "label_a": np.array([codes.get(row[3], -1) for row in rows], dtype=np.int64),
        "label_b": np.array([codes.get(row[4], -1) for row in rows], dtype=np.int64),
        "preference": np.array([PREFERENCE_CODES.get(row[5], -1) for row in rows], dtype=np.int64),
        "judge": np.array([judge_index[row[6]] for row in rows], dtype=np.int64),
        "control": np.array([int(pk) in control_ids for pk in item_ids], dtype=bool),
        "n_items": len(item_ids),
        "metrics": {name: values for name, values in metrics.items() if np.isfinite(values).any()},
    }


def system_names(session: JudgingSession) -> list[str]:
    return list(session.systems.order_by("position").values_list("name", flat=True))


def _fingerprint(session: JudgingSession, n_boot: int) -> str:
    """Changes with any judgment, the labels, the systems, and who is left out (the switch, a judge screened)."""
    excluded = excluded_judges(session)
    state = counted_judgments(session, excluded).aggregate(n=Count("pk"), last=Max("updated_at"), top=Max("pk"))
    config = (
        f"{session.pk}:{session.seed}:{session.label_keys}:{system_names(session)}:{n_boot}:{state}:"
        f"{exclusion_key(excluded)}"
    )
    return hashlib.sha256(config.encode()).hexdigest()[:16]


def session_ranking(session: JudgingSession, *, n_boot: int = DEFAULT_REPLICATES) -> dict[str, object]:
    """The K-system result (cached until a judgment changes). Also stores the headline strength intervals
    where the adaptive matchup design reads them (annotation.services.assignment.adaptive_intervals)."""
    key = f"analysis:ranking:{_fingerprint(session, n_boot)}"
    found = cache.get(key)
    if found is not None:
        return found
    data = ranking_arrays(session)
    metrics = data.pop("metrics")
    result = compute_ranking_statistics(
        **data, system_names=system_names(session), metrics=metrics or None, n_boot=n_boot,
        seed=session.seed % 2**32,
    )  # fmt: skip
    cache.set(key, result, 3600)
    intervals = _headline_intervals(result, session.n_systems)
    if intervals is not None:
        cache.set(f"annotation:ranking-intervals:{session.pk}:{session.seed}", intervals, 24 * 3600)
    return result


def _headline_intervals(result: dict, k: int) -> list[list[float]] | None:
    ranking = result.get("ranking") or {}
    headline = ranking.get("headline")
    rows = ranking.get("systems") or []
    if not headline or len(rows) != k:
        return None
    out = []
    for row in rows:
        ci = (row.get(headline) or {}).get("strength_ci")
        out.append([float(ci[0]), float(ci[1])] if ci and None not in ci else [float("nan"), float("nan")])
    return out


def metric_means(session: JudgingSession) -> dict[str, dict[str, float]]:
    """Mean automatic score of each system's answers: {system: {metric: mean}} (metrics it has)."""
    names = system_names(session)
    sums: dict[tuple[int, str], list[float]] = {}
    for system, scores in ItemAnswer.objects.filter(item__session=session, item__is_control=False).values_list(
        "system", "metrics"
    ):
        for name in METRICS:
            value = (scores or {}).get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                sums.setdefault((system, name), []).append(float(value))
    return {
        names[s]: {name: float(np.mean(sums[s, name])) for name in METRICS if (s, name) in sums}
        for s in range(len(names))
    }


def ranking_table(result: dict, means: dict[str, dict[str, float]]) -> list[dict]:
    """One row per system, best headline rank first: what the page shows and the `ranking` export holds."""
    headline = result["ranking"].get("headline") or "davidson"
    rows = []
    for entry in result["ranking"]["systems"]:
        name = entry["system"]
        fit = entry.get(headline) or {}
        accuracy = result["accuracy"][name]["by_majority"]
        rows.append(
            {
                "system": name,
                "status": entry.get("status"),
                "component": entry.get("component"),
                "model": headline,
                "strength": fit.get("strength"),
                "strength_ci": fit.get("strength_ci"),
                "rank": fit.get("rank"),
                "rank_interval": fit.get("rank_interval"),
                "half_wins_strength": (entry.get("half_wins") or {}).get("strength"),
                "accuracy_correct": accuracy["correct"]["rate"],
                "accuracy_correct_ci": accuracy["correct"]["ci"],
                "accuracy_lenient": accuracy["lenient"]["rate"],
                "accuracy_lenient_ci": accuracy["lenient"]["ci"],
                "n_items": accuracy["n_items"],
                "metrics": means.get(name, {}),
            }
        )
    return sorted(rows, key=lambda row: (row["rank"] is None, row["rank"] or 0, row["system"]))


def pairwise_table(result: dict) -> list[dict]:
    """One row per pair of systems: wins/ties/losses, win rate with interval, accuracy differences, tests."""
    rows = []
    for pair in result["pairwise"]["pairs"]:
        by_judgment = pair["preference"]["by_judgment"]
        by_item = pair["preference"]["by_item"]
        rows.append(
            {
                "system_a": pair["systems"][0],
                "system_b": pair["systems"][1],
                "a_wins": by_judgment["a_wins"],
                "ties": by_judgment["ties"],
                "b_wins": by_judgment["b_wins"],
                "win_rate_a": by_judgment["win_rate_a"]["rate"],
                "win_rate_a_ci": by_judgment["win_rate_a"]["ci"],
                "sign_test_p": by_item.get("sign_test_p"),
                "sign_test_p_holm": by_item.get("sign_test_p_holm"),
                "accuracy_difference_correct": pair["accuracy_difference"]["by_majority"]["correct"],
                "accuracy_difference_lenient": pair["accuracy_difference"]["by_majority"]["lenient"],
                "mcnemar_p_holm_correct": pair["mcnemar"]["correct"]["p_holm"],
                "mcnemar_p_holm_lenient": pair["mcnemar"]["lenient"]["p_holm"],
            }
        )
    return rows
