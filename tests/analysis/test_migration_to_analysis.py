"""Moving statistics and prediction links out of annotation loses nothing: a database populated at the old
layout (annotation 0004: SessionItem.prediction_a/b, annotation.SessionStatistics, job kind
"annotation.statistics") migrates forward with every row, every judgment revision, every link and the stored
statistics intact."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analysis.models import ItemPrediction, SessionStatistics
from annotation.models import Assignment, JudgingSession, Judgment, JudgmentRevision, SessionItem
from core.models import Job

# core rewound too: ModelEntry's later columns have no database default for the old layout's inserts.
OLD_LAYOUT = [("annotation", "0004_session_statistics"), ("analysis", None), ("core", "0001_initial")]

pytestmark = pytest.mark.django_db(transaction=True)


def _populate_old_layout(apps) -> dict:
    """Two sessions (one from evaluation runs, one uploaded), judgments with revisions, stored statistics."""
    User = apps.get_model("auth", "User")
    ModelEntry = apps.get_model("core", "ModelEntry")
    Job = apps.get_model("core", "Job")
    Corpus = apps.get_model("generation", "Corpus")
    EvaluationRun = apps.get_model("training", "EvaluationRun")
    Prediction = apps.get_model("training", "Prediction")
    Session = apps.get_model("annotation", "JudgingSession")
    Item = apps.get_model("annotation", "SessionItem")
    Slot = apps.get_model("annotation", "Assignment")
    Judgment = apps.get_model("annotation", "Judgment")
    Revision = apps.get_model("annotation", "JudgmentRevision")
    Statistics = apps.get_model("annotation", "SessionStatistics")

    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    judges = [User.objects.create(username=f"old-judge-{i}") for i in range(2)]
    model = ModelEntry.objects.create(name="old-model", kind="hf", role="generator", path="/old")
    corpus = Corpus.objects.create(name="old corpus", language="en")
    runs = [EvaluationRun.objects.create(name=f"run {s}", base_model=model, corpus=corpus) for s in "ab"]
    from_runs = Session.objects.create(name="from runs", system_a="run a", system_b="run b", judges_per_item=2)
    uploaded = Session.objects.create(name="uploaded", system_a="x", system_b="y", judges_per_item=2)
    links = {}
    for session in (from_runs, uploaded):
        for position in range(3):
            predictions = {}
            if session is from_runs:
                for side, run in zip("ab", runs, strict=True):
                    predictions[f"prediction_{side}"] = Prediction.objects.create(
                        evaluation_run=run, item_index=position, context="c", question=f"q{position}",
                        prediction=f"{side}{position}", bertscore_f1=0.5 + position / 10,
                    )  # fmt: skip
            item = Item.objects.create(
                session=session, position=position, question=f"q{position}", answer_a="A", answer_b="B",
                **predictions,
            )  # fmt: skip
            if predictions:
                links[item.pk] = {side[-1]: p.pk for side, p in predictions.items()}
            for slot, judge in enumerate(judges):
                assignment = Slot.objects.create(
                    session=session, item=item, slot=slot, judge=judge, token=f"t{session.pk}-{item.pk}-{slot}",
                    submitted_at=now,
                )  # fmt: skip
                judgment = Judgment.objects.create(
                    assignment=assignment, session=session, item=item, judge=judge, label_a="correct",
                    label_b="partial", preference="a", time_on_item_ms=1000, revisions_count=2, created_at=now,
                    updated_at=now,
                )  # fmt: skip
                for number, label in ((1, "incorrect"), (2, "correct")):
                    Revision.objects.create(
                        judgment=judgment, assignment=assignment, number=number, submission_id=f"s{number}",
                        label_a=label, label_b="partial", preference="a", swapped=bool(slot), ms_since_assigned=900,
                        submitted_at=now,
                    )  # fmt: skip
    job = Job.objects.create(kind="annotation.statistics", title="old statistics job", params={})
    Statistics.objects.create(session=from_runs, variant="boot=10", result={"n": 6}, n_judgments=6, job=job)
    return {"links": links, "job": job.pk, "sessions": [from_runs.pk, uploaded.pk]}


def test_a_database_at_the_old_layout_migrates_forward_without_losing_a_row():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(OLD_LAYOUT)
    try:
        executor.loader.build_graph()
        made = _populate_old_layout(executor.loader.project_state(OLD_LAYOUT[:1]).apps)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    assert JudgingSession.objects.filter(pk__in=made["sessions"]).count() == 2
    assert SessionItem.objects.count() == 6 and Assignment.objects.count() == 12
    assert Judgment.objects.count() == 12 and JudgmentRevision.objects.count() == 24
    assert list(JudgmentRevision.objects.order_by("pk").values_list("label_a", flat=True)[:2]) == [
        "incorrect",
        "correct",
    ]
    moved = {(link.item_id, link.side): link.prediction_id for link in ItemPrediction.objects.all()}
    expected = {(item, side): pk for item, sides in made["links"].items() for side, pk in sides.items()}
    assert moved == expected and len(moved) == 6  # both sides of the 3 run items; none for the upload
    stored = SessionStatistics.objects.get()
    assert stored.result == {"n": 6} and stored.session_id == made["sessions"][0] and stored.job_id == made["job"]
    assert Job.objects.get(pk=made["job"]).kind == "analysis.statistics"
