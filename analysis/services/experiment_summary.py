"""One table per experiment: each system's automatic metrics beside the human accuracy of its answers.

Systems are the experiment's evaluated cells. Automatic metrics (BERTScore F1, BLEU, EM, F1, with their
intervals) come from the evaluation run's stored aggregates; human accuracy from every judging session
built from that run (sessions from two runs or from the experiment record the runs in ``source``), and the
correlation between per-item BERTScore and human correctness from the same session statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.services import ranking
from analysis.services.statistics import StatisticsError, StatisticsState, statistics_for
from annotation.models import JudgingSession

AUTOMATIC_METRICS: list[tuple[str, str, int]] = [
    ("bertscore_f1", "BERTScore F1", 4),
    ("bleu", "BLEU", 2),
    ("exact_match", "EM", 1),
    ("f1", "F1", 1),
]


@dataclass
class HumanJudgment:
    """How one session's judges rated this system's answers."""

    session: JudgingSession
    side: int  # 0: the system was A in the session, 1: B
    opponent: str
    state: StatisticsState | None
    error: str = ""

    @property
    def system_name(self) -> str:
        return self.session.system_a if self.side == 0 else self.session.system_b

    @property
    def accuracy(self) -> dict | None:
        result = self.state.result if self.state else None
        return result["accuracy"][self.system_name] if result else None

    @property
    def correlation(self) -> dict | None:
        result = self.state.result if self.state else None
        return result["extras"]["systems"][self.side]["correlation"] if result else None

    @property
    def item_metrics(self) -> dict | None:
        result = self.state.result if self.state else None
        return result["extras"]["systems"][self.side]["metrics"] if result else None


@dataclass
class SystemRow:
    cell: object
    run: object
    metrics: list[dict] = field(default_factory=list)
    human: list[HumanJudgment] = field(default_factory=list)


@dataclass
class ExperimentSummary:
    experiment: object
    rows: list[SystemRow]
    sessions: list[JudgingSession]


def sessions_for_runs(run_ids: set[int]) -> list[tuple[JudgingSession, list[int]]]:
    """Sessions built from evaluation runs (``source.evaluation_runs`` = [run of A, run of B]) touching these."""
    found = []
    for session in JudgingSession.objects.filter(source__kind="evaluation_runs").order_by("created_at", "id"):
        runs = [int(r) for r in (session.source or {}).get("evaluation_runs", [])]
        if len(runs) == 2 and run_ids & set(runs):
            found.append((session, runs))
    return found


def experiment_summary(experiment, *, user=None) -> ExperimentSummary:
    cells = [
        cell
        for cell in experiment.cells.select_related("evaluation_run").order_by("position", "id")
        if cell.evaluation_run_id
    ]
    by_run = {cell.evaluation_run_id: cell for cell in cells}
    rows = {
        cell.pk: SystemRow(
            cell=cell,
            run=cell.evaluation_run,
            metrics=[
                {"key": key, "label": label, "digits": digits, "metric": (cell.evaluation_run.metrics or {}).get(key)}
                for key, label, digits in AUTOMATIC_METRICS
            ],
        )
        for cell in cells
    }
    sessions = sessions_for_runs(set(by_run))
    for session, runs in sessions:
        try:
            state, error = statistics_for(session, user=user), ""
        except StatisticsError as exc:
            state, error = None, str(exc)
        for side, run_id in enumerate(runs):
            cell = by_run.get(run_id)
            if cell is None:
                continue
            other = by_run.get(runs[1 - side])
            opponent = other.label if other else (session.system_b if side == 0 else session.system_a)
            rows[cell.pk].human.append(HumanJudgment(session, side, opponent, state, error))
    return ExperimentSummary(experiment, list(rows.values()), [session for session, _ in sessions])


@dataclass
class ExperimentRanking:
    """The human ranking of an experiment's cells from its latest "judge all cells" session, beside the metrics."""

    session: JudgingSession
    rows: list[dict]
    bertscore_tau: dict | None
    agreement: list[tuple[str, dict]]
    error: str = ""
    stale_note: str = ""
    """Set while a job computes a newer ranking and these rows are the previous one."""


def experiment_ranking(experiment) -> ExperimentRanking | None:
    """The latest K-system session built from this experiment's cells (None if there is none yet).

    Each row carries the cell label (staff-only) so the table reads beside the metric table; BERTScore's
    Kendall tau against the human strengths answers "does BERTScore rank the recipes as people do?"."""
    session = (
        JudgingSession.objects.filter(source__kind="experiment_cells", source__experiment=experiment.pk)
        .order_by("-created_at", "-id")
        .first()
    )
    if session is None:
        return None
    labels = {cell.pk: cell.label for cell in experiment.cells.all()}
    cell_of = {
        system.name: labels.get((system.source or {}).get("cell"), system.name) for system in session.systems.all()
    }
    if not session.judgments.exists():
        return ExperimentRanking(session, [], None, [], error="No judgments yet.")
    state = ranking.ranking_state(session)
    result = state.result
    if result is None:
        job = f" (job #{state.job.pk}, {state.job.get_status_display().lower()})" if state.job else ""
        return ExperimentRanking(session, [], None, [], error=f"The ranking is being computed in the background{job}.")
    rows = ranking.ranking_table(result, ranking.metric_means(session))
    for row in rows:
        row["cell"] = cell_of.get(row["system"], row["system"])
    agreement = sorted((result["ranking"].get("metric_agreement") or {}).items())
    stale = ""
    if not state.fresh and state.row is not None:
        stale = f"Previous ranking ({state.row.n_judgments} judgments); a newer one is computed in the background."
    return ExperimentRanking(session, rows, dict(agreement).get("bertscore_f1"), agreement, stale_note=stale)
