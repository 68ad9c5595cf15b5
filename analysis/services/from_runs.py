"""A session from two evaluation runs on the same items (or from two cells of an Experiment).

Items are matched by their stable key (item_key, else item_index); each item gets links to both
Prediction rows (``analysis.ItemPrediction``: judging itself knows nothing of training) and copies their
per-item scores, so statistics can set human judgments beside EM/F1/
BLEU/BERTScore. The runs' names stay staff-only (JudgingSession.system_a/system_b).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from analysis.models import ItemPrediction
from annotation.models import JudgingSession, SessionItem
from annotation.services.sessions import ItemData, SessionError, create_session
from training.models import Prediction

METRIC_FIELDS = ("exact_match", "f1", "bleu_sentence", "bertscore_precision", "bertscore_recall", "bertscore_f1")


def _key(prediction) -> str:
    return prediction.item_key or f"index:{prediction.item_index}"


def _metrics(prediction) -> dict:
    return {name: getattr(prediction, name) for name in METRIC_FIELDS if getattr(prediction, name) is not None}


@dataclass
class RunItem:
    """An item for the session and the Prediction rows its two answers came from."""

    data: ItemData
    prediction_a_id: int
    prediction_b_id: int


def items_from_runs(run_a, run_b, *, max_items: int | None = None) -> list[RunItem]:
    """Pair the two runs' predictions item by item; refuse runs that are not on the same items."""
    if run_a.pk == run_b.pk:
        raise SessionError("Choose two different evaluation runs.")
    preds_a = {_key(p): p for p in run_a.predictions.order_by("item_index")}
    preds_b = {_key(p): p for p in run_b.predictions.order_by("item_index")}
    if not preds_a or not preds_b:
        empty = run_a if not preds_a else run_b
        raise SessionError(f"Evaluation run {empty} has no predictions yet; wait until it has run.")
    shared = [key for key in preds_a if key in preds_b]
    if not shared:
        raise SessionError(
            f"Evaluation runs {run_a} and {run_b} have no item in common: they were not run on the same items."
        )
    mismatched = [key for key in shared if preds_a[key].question.strip() != preds_b[key].question.strip()]
    if mismatched:
        raise SessionError(
            f"Evaluation runs {run_a} and {run_b} ask different questions for {len(mismatched)} item(s) "
            f"(first: {mismatched[0]}); they were not run on the same items."
        )
    only = len(preds_a) + len(preds_b) - 2 * len(shared)
    if only:
        raise SessionError(
            f"Evaluation runs {run_a} ({len(preds_a)} items) and {run_b} ({len(preds_b)} items) differ in "
            f"{only} item(s); compare runs over the same corpus split and item limit."
        )
    if max_items:
        shared = shared[:max_items]
    items = []
    for key in shared:
        a, b = preds_a[key], preds_b[key]
        data = ItemData(
            question=a.question,
            context=a.context,
            gold_answers=list(a.gold_answers or []),
            answer_a=a.prediction.strip() or "(no answer)",
            answer_b=b.prediction.strip() or "(no answer)",
            external_id=key,
            metrics_a=_metrics(a),
            metrics_b=_metrics(b),
        )
        items.append(RunItem(data, a.pk, b.pk))
    return items


def system_label(run) -> str:
    """Staff-facing name of a run's system: its name plus the model it evaluated."""
    label = getattr(run, "model_label", "") or ""
    return f"{run.name} [{label}] (evaluation run #{run.pk})" if label else f"{run.name} (evaluation run #{run.pk})"


def create_session_from_runs(
    run_a, run_b, *, name: str = "", created_by: User | None = None, max_items: int | None = None, **settings
) -> JudgingSession:
    linked = items_from_runs(run_a, run_b, max_items=max_items)
    with transaction.atomic():
        session = create_session(
            name=name or "Which answer is better?",
            system_a=system_label(run_a)[:200],
            system_b=system_label(run_b)[:200],
            items=[item.data for item in linked],
            created_by=created_by,
            source={"kind": "evaluation_runs", "evaluation_runs": [run_a.pk, run_b.pk], "max_items": max_items},
            **settings,
        )
        link_predictions(session, linked)
    return session


def link_predictions(session: JudgingSession, linked: Sequence[RunItem]) -> None:
    """Record which Prediction each regular item's answers came from (items are in ``linked`` order)."""
    items = session.items.filter(is_control=False).order_by("position").values_list("pk", flat=True)
    ItemPrediction.objects.bulk_create(
        [
            ItemPrediction(item_id=item_id, side=side, prediction_id=prediction_id)
            for item_id, run_item in zip(items, linked, strict=True)
            for side, prediction_id in (("a", run_item.prediction_a_id), ("b", run_item.prediction_b_id))
        ],
        batch_size=1000,
    )


def experiment_cells_with_runs(experiment) -> Sequence:
    """Cells of an Experiment whose evaluation has predictions: the systems one can compare."""
    return [
        cell
        for cell in experiment.cells.select_related("evaluation_run").order_by("position")
        if cell.evaluation_run_id and cell.evaluation_run.predictions.exists()
    ]


def default_pair(cells: Sequence):
    """The paper's comparison when it exists: the first synthetic cell against the human-data baseline."""
    synthetic = [cell for cell in cells if cell.kind == "synthetic"]
    human = [cell for cell in cells if cell.kind == "human"]
    if synthetic and human:
        return synthetic[0], human[0]
    if len(cells) >= 2:
        return cells[0], cells[1]
    return None


def create_session_from_experiment(
    experiment, cell_a=None, cell_b=None, *, created_by: User | None = None, **settings
) -> JudgingSession:
    """One click: compare two cells of an experiment (default: synthetic vs human) on their evaluation items."""
    if cell_a is None or cell_b is None:
        pair = default_pair(experiment_cells_with_runs(experiment))
        if pair is None:
            raise SessionError(
                f"Experiment {experiment} has fewer than two evaluated cells; wait until two evaluations have run."
            )
        cell_a, cell_b = pair
    for cell in (cell_a, cell_b):
        if cell.experiment_id != experiment.pk:
            raise SessionError(f"Cell {cell} is not part of experiment {experiment}.")
        if not cell.evaluation_run_id:
            raise SessionError(f"Cell {cell} has not been evaluated yet.")
    session = create_session_from_runs(
        cell_a.evaluation_run,
        cell_b.evaluation_run,
        created_by=created_by,
        name=settings.pop("name", ""),  # neutral default: judges see the name, so it names no system
        **settings,
    )
    session.source = {**session.source, "experiment": experiment.pk, "cells": [cell_a.pk, cell_b.pk]}
    session.system_a = f"{experiment.name}: {cell_a.label} — {session.system_a}"[:200]
    session.system_b = f"{experiment.name}: {cell_b.label} — {session.system_b}"[:200]
    session.save(update_fields=["source", "system_a", "system_b"])
    return session


def linked_prediction(item: SessionItem, side: str) -> Prediction | None:
    """The Prediction row a session item's answer for system ``side`` ("a"/"b") came from, if any."""
    link = ItemPrediction.objects.filter(item=item, side=side).select_related("prediction").first()
    return link.prediction if link else None


# --- K systems: every evaluated cell of an experiment (or a chosen subset) -------------------------------


def system_key(position: int) -> str:
    """The ItemPrediction.side of system ``position``: "a", "b" as in two-system sessions, then "c", "d", ..."""
    return chr(ord("a") + position) if position < 26 else f"s{position}"


@dataclass
class ManyRunItem:
    """An item for a K-system session and the Prediction row of each system's answer, in system order."""

    data: ItemData
    prediction_ids: list[int]


def items_from_many_runs(runs: Sequence, *, max_items: int | None = None) -> list[ManyRunItem]:
    """Match K runs' predictions item by item, with the same checks as two runs (each run against the first)."""
    if len({run.pk for run in runs}) != len(runs):
        raise SessionError("Each evaluation run may appear only once; two chosen cells share one run.")
    for other in runs[1:]:
        items_from_runs(runs[0], other, max_items=1)  # raises the two-run message naming the pair that differs
    by_run = [{_key(p): p for p in run.predictions.order_by("item_index")} for run in runs]
    keys = list(by_run[0])[:max_items] if max_items else list(by_run[0])
    items = []
    for key in keys:
        predictions = [preds[key] for preds in by_run]
        first = predictions[0]
        data = ItemData.from_answers(
            first.question,
            [p.prediction.strip() or "(no answer)" for p in predictions],
            [_metrics(p) for p in predictions],
            context=first.context,
            gold_answers=list(first.gold_answers or []),
            external_id=key,
        )
        items.append(ManyRunItem(data, [p.pk for p in predictions]))
    return items


def create_session_from_cells(
    experiment, cells: Sequence | None = None, *, created_by: User | None = None, max_items: int | None = None,
    **settings,
) -> JudgingSession:  # fmt: skip
    """One click "judge all cells": every evaluated cell of the experiment (or ``cells``) as one K-system session.

    System i is cell i (in cell order); its name (staff-only) is the cell label and run, and each answer links
    to its Prediction through ItemPrediction(side=system_key(i))."""
    evaluated = experiment_cells_with_runs(experiment)
    chosen = sorted(cells if cells is not None else evaluated, key=lambda cell: cell.position)
    for cell in chosen:
        if cell.experiment_id != experiment.pk:
            raise SessionError(f"Cell {cell} is not part of experiment {experiment}.")
        if cell.pk not in {c.pk for c in evaluated}:
            raise SessionError(f"Cell {cell.label} has no evaluated predictions yet.")
    if len(chosen) < 2:
        raise SessionError(
            f"Experiment {experiment} needs at least two evaluated cells to compare; {len(chosen)} chosen or ready."
        )
    runs = [cell.evaluation_run for cell in chosen]
    linked = items_from_many_runs(runs, max_items=max_items)
    names = [
        f"{experiment.name}: {cell.label} — {system_label(run)}"[:200] for cell, run in zip(chosen, runs, strict=True)
    ]
    with transaction.atomic():
        session = create_session(
            name=settings.pop("name", "") or "Which answer is better?",  # judges see it: it names no system
            system_a=names[0],
            system_b=names[1],
            more_systems=names[2:],
            system_sources=[
                {"kind": "experiment_cell", "cell": cell.pk, "evaluation_run": run.pk}
                for cell, run in zip(chosen, runs, strict=True)
            ],
            items=[item.data for item in linked],
            created_by=created_by,
            source={
                "kind": "experiment_cells",
                "experiment": experiment.pk,
                "cells": [cell.pk for cell in chosen],
                "evaluation_runs": [run.pk for run in runs],
                "max_items": max_items,
            },
            **settings,
        )
        items = session.items.filter(is_control=False).order_by("position").values_list("pk", flat=True)
        ItemPrediction.objects.bulk_create(
            [
                ItemPrediction(item_id=item_id, side=system_key(position), prediction_id=prediction_id)
                for item_id, run_item in zip(items, linked, strict=True)
                for position, prediction_id in enumerate(run_item.prediction_ids)
            ],
            batch_size=1000,
        )
    return session
