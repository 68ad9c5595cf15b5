"""K-system statistics of a session (any K >= 2): one query over the counted judgments (judges the statistics
exclude are left out here too, by ``judge_policy.excluded_judges``) fills the engine's long arrays
(analysis.stats.ranking), and the result feeds the ranking page, its two plots and the `pairwise`/`ranking`
export tables. Results are stored in ``SessionStatistics`` (variant ``ranking;boot=N``) under a fingerprint of the
judgments; big sessions are ranked by a job of kind ``analysis.ranking``, as the two-system statistics are. A
two-system session gets the same figures (its K = 2 case, which the engine checks against the two-system
statistics)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from analysis.models import SessionStatistics
from analysis.services import statistics
from analysis.services.judge_policy import counted_judgments, excluded_judges, exclusion_key
from analysis.services.statistics import label_codes
from analysis.stats.ranking import compute_ranking_statistics
from annotation.models import ItemAnswer, JudgingSession
from core.models import FINISHED_STATUSES, Job
from core.services.jobs import JobError, create_job

METRICS = ("bertscore_f1", "bleu", "exact_match", "f1")
PREFERENCE_CODES = {"a": 0, "tie": 1, "b": 2, "": -1}
DEFAULT_REPLICATES = 1000


def ranking_arrays(session: JudgingSession) -> dict[str, object]:
    """The engine's inputs: one row per judgment (system positions, codes), per-item controls and per-answer
    metrics as (items, K) arrays (NaN where an answer has no score)."""
    rows = list(
        counted_judgments(session, excluded_judges(session))
        .order_by("pk")
        .values_list("item_id", "system_a", "system_b", "label_a", "label_b", "preference", "judge_id")
    )
    item_ids = session_item_ids(session)
    data = long_arrays(session, rows, item_ids)
    index = {int(pk): i for i, pk in enumerate(item_ids)}
    k = session.n_systems
    metrics = {name: np.full((len(index), k), np.nan) for name in METRICS}
    for item_id, system, scores in ItemAnswer.objects.filter(item__session=session).values_list(
        "item_id", "system", "metrics"
    ):
        for name in METRICS:
            value = (scores or {}).get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                metrics[name][index[item_id], system] = float(value)
    data["metrics"] = {name: values for name, values in metrics.items() if np.isfinite(values).any()}
    return data


def session_item_ids(session: JudgingSession) -> np.ndarray:
    """Every item of the session by id: the item axis of the engine's arrays."""
    return np.fromiter(session.items.order_by("pk").values_list("pk", flat=True), dtype=np.int64)


def long_arrays(session: JudgingSession, rows: list[tuple], item_ids: np.ndarray) -> dict[str, object]:
    """The engine's long arrays from rows of (item id, system a, system b, label a, label b, preference, judge),
    over ``item_ids`` (``session_item_ids``: controls flagged): the human judgments here, an LLM run's verdicts in
    ``llm_judging``, so both are ranked over the same items."""
    codes = label_codes(session)
    control_ids = set(session.items.filter(is_control=True).values_list("pk", flat=True))
    index = {int(pk): i for i, pk in enumerate(item_ids)}
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
    }


def system_names(session: JudgingSession) -> list[str]:
    return list(session.systems.order_by("position").values_list("name", flat=True))


JOB_KIND = "analysis.ranking"
PAIR_REPLICATE_BUDGET = 200_000
"""Computed while the page waits only while pairs x replicates stays under this (K <= 20 at 1,000 replicates,
well under a second here) and the judgments are under the statistics' inline limit; bigger sessions (the
bench's 50 systems: ~1 s of CPU and seconds of wall time on a loaded machine) go to a job of kind
``analysis.ranking``, and the page shows the last result, marked stale, meanwhile."""


def variant_key(n_boot: int) -> str:
    """The ``SessionStatistics.variant`` the ranking is stored under, beside the two-system variants."""
    return f"ranking;boot={n_boot}"


def _fingerprint(session: JudgingSession, n_boot: int) -> tuple[str, int]:
    """What the ranking depends on (counted judgments, who is left out, systems, labels, replicates), and the number
    of counted judgments."""
    excluded = excluded_judges(session)
    state = counted_judgments(session, excluded).aggregate(n=Count("pk"), last=Max("updated_at"), top=Max("pk"))
    config = (
        f"{session.pk}:{session.seed}:{session.label_keys}:{system_names(session)}:{n_boot}:{state}:"
        f"{exclusion_key(excluded)}"
    )
    return hashlib.sha256(config.encode()).hexdigest()[:16], int(state["n"])


def cheap_enough(session: JudgingSession, n_judgments: int, n_boot: int) -> bool:
    """Whether the page may compute the ranking while the staff member waits."""
    pairs = session.n_systems * (session.n_systems - 1) // 2
    return n_judgments <= statistics.inline_limit() and pairs * n_boot <= PAIR_REPLICATE_BUDGET


def compute_ranking(session: JudgingSession, *, n_boot: int = DEFAULT_REPLICATES) -> dict[str, object]:
    """Every K-system figure from the session's current judgments (not stored)."""
    data = ranking_arrays(session)
    metrics = data.pop("metrics")
    return compute_ranking_statistics(
        **data, system_names=system_names(session), metrics=metrics or None, n_boot=n_boot,
        seed=session.seed % 2**32,
    )  # fmt: skip


def compute_and_store(session: JudgingSession, *, n_boot: int = DEFAULT_REPLICATES) -> SessionStatistics:
    """Compute and store the ranking under the fingerprint of the judgments it came from."""
    started = time.perf_counter()
    key, n_judgments = _fingerprint(session, n_boot)
    result = compute_ranking(session, n_boot=n_boot)
    row, _ = SessionStatistics.objects.update_or_create(
        session=session,
        variant=variant_key(n_boot),
        defaults={
            "fingerprint": key,
            "n_judgments": n_judgments,
            "result": result,
            "plots": {},
            "seconds": time.perf_counter() - started,
            "computed_at": timezone.now(),
        },
    )
    _share_intervals(session, result)
    return row


def _share_intervals(session: JudgingSession, result: dict) -> None:
    """Put the headline strength intervals on the session row, where the adaptive matchup design reads them
    (annotation.services.assignment.adaptive_intervals) in every process; written only when they changed."""
    intervals = _headline_intervals(result, session.n_systems)
    if intervals is not None and intervals != session.ranking_intervals:
        JudgingSession.objects.filter(pk=session.pk).update(ranking_intervals=intervals)
        session.ranking_intervals = intervals


@dataclass
class RankingState(statistics.StoredResultState):
    """The K-system ranking's stored result and the job computing a newer one: the same states as the two-system
    statistics."""


def _stored(session: JudgingSession, n_boot: int) -> SessionStatistics | None:
    return SessionStatistics.objects.filter(session=session, variant=variant_key(n_boot)).select_related("job").first()


def ranking_state(
    session: JudgingSession, *, n_boot: int = DEFAULT_REPLICATES, user=None, inline: bool | None = None
) -> RankingState:
    """The session's ranking: stored if still current, else computed now (small sessions, or ``inline=True``)
    or by a job (``cheap_enough`` says no), in which case the last stored result is returned as stale."""
    row = _stored(session, n_boot)
    key, n_judgments = _fingerprint(session, n_boot)
    if row is not None and row.result is not None and row.fingerprint == key:
        _share_intervals(session, row.result)
        return RankingState(session, row, True, row.job, n_judgments)
    if inline if inline is not None else cheap_enough(session, n_judgments, n_boot):
        row = compute_and_store(session, n_boot=n_boot)
        return RankingState(session, row, True, row.job, row.n_judgments)
    job = ensure_job(session, n_boot, key, n_judgments, user=user)
    return RankingState(session, _stored(session, n_boot), False, job, n_judgments)


def ensure_job(session: JudgingSession, n_boot: int, key: str, n_judgments: int, *, user=None) -> Job:
    """The job computing this ranking: the one in flight, else a new one. A job that failed on the same
    judgments is returned rather than repeated on every page view (staff retry it from the job page)."""
    SessionStatistics.objects.get_or_create(session=session, variant=variant_key(n_boot))
    with transaction.atomic():
        row = SessionStatistics.objects.select_for_update().get(session=session, variant=variant_key(n_boot))
        job = Job.objects.filter(pk=row.job_id).first() if row.job_id else None
        in_flight = job is not None and job.status not in FINISHED_STATUSES
        failed_on_same = job is not None and job.status != "succeeded" and job.params.get("fingerprint") == key
        if job is not None and (in_flight or failed_on_same):
            return job
        job = create_job(
            JOB_KIND,
            {"session_id": session.pk, "n_boot": n_boot, "fingerprint": key},
            user=user,
            title=f"Ranking of session “{session.name}” ({session.n_systems} systems, {n_judgments:,} judgments)",
        )
        row.job = job
        row.save(update_fields=["job"])
    return job


def run_job(ctx) -> dict:  # noqa: ANN001 - core.services.jobs.JobContext
    """Body of the ``analysis.ranking`` job. Idempotent: a retried job whose ranking is already stored for the
    current judgments stops at once; otherwise it recomputes and replaces the one stored row."""
    session = JudgingSession.objects.filter(pk=ctx.params.get("session_id")).first()
    if session is None:
        raise JobError(f"Judging session {ctx.params.get('session_id')} no longer exists.")
    n_boot = int(ctx.params.get("n_boot", DEFAULT_REPLICATES))
    row = _stored(session, n_boot)
    key, n_judgments = _fingerprint(session, n_boot)
    if row is not None and row.result is not None and row.fingerprint == key:
        return {"session_id": session.pk, "n_judgments": n_judgments, "already_current": True}
    ctx.progress(0, 1, f"ranking {session.n_systems} systems from {n_judgments:,} judgments")
    ctx.check_cancelled()
    try:
        row = compute_and_store(session, n_boot=n_boot)
    except ValueError as exc:  # the engine names the bad row or value
        raise JobError(str(exc)) from exc
    ctx.progress(1, 1, f"{row.n_judgments:,} judgments in {row.seconds:.1f} s")
    return {"session_id": session.pk, "n_judgments": row.n_judgments, "seconds": round(row.seconds or 0, 3)}


def session_ranking(session: JudgingSession, *, n_boot: int = DEFAULT_REPLICATES) -> dict[str, object]:
    """The current K-system result, computed now if the stored one is stale, whatever the size (tests, and
    callers that must have figures; pages and exports use ``ranking_state``)."""
    result = ranking_state(session, n_boot=n_boot, inline=True).result
    if result is None:  # cannot happen: inline=True stores a result before returning
        raise RuntimeError(f"no ranking stored for session {session.pk}")
    return result


def _headline_intervals(result: dict, k: int) -> list[list[float | None]] | None:
    ranking = result.get("ranking") or {}
    headline = ranking.get("headline")
    rows = ranking.get("systems") or []
    if not headline or len(rows) != k:
        return None
    out = []
    for row in rows:
        ci = (row.get(headline) or {}).get("strength_ci")
        out.append([float(ci[0]), float(ci[1])] if ci and None not in ci else [None, None])  # JSON has no NaN
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
