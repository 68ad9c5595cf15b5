"""The experiment summary: each system's BERTScore, BLEU, EM/F1 beside its human accuracy and the
correlation between per-item BERTScore and human correctness."""

from __future__ import annotations

import re

import numpy as np
import pytest
from django.urls import reverse

from analysis.services import from_runs
from annotation.models import SessionItem
from core.models import ModelEntry, ModelKind, ModelRole
from generation.models import Corpus
from tests.analysis.stats_helpers import judge_session, make_judges
from training.models import EvaluationRun, Experiment, ExperimentCell, Prediction

pytestmark = pytest.mark.django_db

N = 12


def metric(value: float, low: float, high: float, scale: str) -> dict:
    return {"value": value, "ci_low": low, "ci_high": high, "scale": scale}


def make_run(name: str, bertscores: list[float], bleu: float) -> EvaluationRun:
    model, _ = ModelEntry.objects.get_or_create(
        name="qa-base", defaults={"kind": ModelKind.HF, "role": ModelRole.QA_BASE, "path": "/tmp/q"}
    )
    corpus, _ = Corpus.objects.get_or_create(name="Summary corpus")
    run = EvaluationRun.objects.create(
        name=name,
        base_model=model,
        corpus=corpus,
        metrics={
            "bertscore_f1": metric(float(np.mean(bertscores)), 0.8, 0.9, "0-1"),
            "bleu": metric(bleu, bleu - 3, bleu + 3, "0-100"),
            "exact_match": metric(41.5, 30.0, 50.0, "0-100"),
            "f1": metric(55.25, 45.0, 65.0, "0-100"),
        },
    )
    for index, score in enumerate(bertscores):
        Prediction.objects.create(
            evaluation_run=run, item_index=index, item_key=f"reference:{index}", context=f"Context {index}.",
            question=f"Question {index}?", gold_answers=[f"gold {index}"], prediction=f"{name} answer {index}",
            exact_match=float(score > 0.9), f1=score - 0.1, bleu_sentence=100 * score - 60, bertscore_f1=score,
        )  # fmt: skip
    return run


@pytest.fixture
def experiment_with_session():
    rng = np.random.default_rng(3)
    corpus, _ = Corpus.objects.get_or_create(name="Summary corpus")
    base, _ = ModelEntry.objects.get_or_create(
        name="qa-base", defaults={"kind": ModelKind.HF, "role": ModelRole.QA_BASE, "path": "/tmp/q"}
    )
    experiment = Experiment.objects.create(name="Paper grid", corpus=corpus, qa_base=base)
    scores_a = np.round(rng.uniform(0.8, 0.95, N), 4).tolist()
    scores_b = np.round(rng.uniform(0.8, 0.95, N), 4).tolist()
    synthetic = ExperimentCell.objects.create(
        experiment=experiment, position=0, kind="synthetic", context_source="passage", shots=1, pairs_per_passage=3,
        evaluation_run=make_run("synthetic", scores_a, 21.5),
    )  # fmt: skip
    human = ExperimentCell.objects.create(
        experiment=experiment, position=1, kind="human", evaluation_run=make_run("human", scores_b, 18.25)
    )
    judges = make_judges(3)
    session = from_runs.create_session_from_experiment(experiment, synthetic, human, judges_per_item=3, judges=judges)
    harsh = judges[-1]

    def decide(item, judge):
        # Answers with a high BERTScore are judged correct (the harsh judge disagrees on A's answers).
        a = "correct" if from_runs.linked_prediction(item, "a").bertscore_f1 > 0.87 and judge != harsh else "incorrect"
        b = "correct" if from_runs.linked_prediction(item, "b").bertscore_f1 > 0.9 else "partial"
        return (a, b, "a" if a == "correct" else "b")

    judge_session(session, judges, decide)
    return experiment, session, synthetic, human


def expected_point_biserial(session, side: str) -> float:
    scores, outcome = [], []
    for item in SessionItem.objects.filter(session=session):
        labels = list(item.judgments.values_list(f"label_{side}", flat=True))
        top = max(set(labels), key=labels.count)
        if labels.count(top) * 2 > len(labels) or len(set(labels)) == 1:  # strict plurality with 3 judges
            scores.append(from_runs.linked_prediction(item, side).bertscore_f1)
            outcome.append(top == "correct")
    return float(np.corrcoef(scores, outcome)[0, 1])


def test_the_summary_table_sets_human_accuracy_beside_bertscore_bleu_em_f1(alice_client, experiment_with_session):
    experiment, session, synthetic, human = experiment_with_session
    response = alice_client.get(reverse("analysis:experiment-stats", args=[experiment.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    rows = re.findall(
        r"<tr>(.*?)</tr>",
        re.search(r'<table id="experiment-summary">.*?<tbody>(.*?)</tbody>', page, re.S).group(1),
        re.S,
    )
    assert len(rows) == 2
    synthetic_row, human_row = rows
    assert "passage, 1-shot, N=3" in synthetic_row and "21.50" in synthetic_row and "41.5" in synthetic_row
    assert "18.25" in human_row and "55.3" in human_row, human_row
    mean_a = np.mean([p.bertscore_f1 for p in synthetic.evaluation_run.predictions.all()])
    assert f"{mean_a:.4f}" in synthetic_row

    api = alice_client.get(reverse("api:experiment-summary", args=[experiment.pk])).json()
    by_cell = {system["cell_id"]: system for system in api["systems"]}
    judged_a = by_cell[synthetic.pk]["human"][0]
    judged_b = by_cell[human.pk]["human"][0]
    assert judged_a["session"] == session.pk and judged_a["as_system"] == "A" and judged_b["as_system"] == "B"
    # Human accuracy: majority label per item; A is correct exactly where its BERTScore > 0.87.
    predictions_a = list(synthetic.evaluation_run.predictions.order_by("item_index"))
    expected_a = sum(p.bertscore_f1 > 0.87 for p in predictions_a) / N
    assert judged_a["accuracy"]["by_majority"]["correct"]["rate"] == pytest.approx(expected_a)
    assert f"{100 * expected_a:.1f}%" in synthetic_row
    r = judged_a["bertscore_vs_human"]["correct"]["point_biserial"]["r"]
    assert r == pytest.approx(expected_point_biserial(session, "a")) and r > 0.5
    assert judged_a["bertscore_vs_human"]["correct"]["auc"]["auc"] == 1.0  # the threshold separates them
    assert f"{r:.3f}" in synthetic_row
    assert by_cell[human.pk]["automatic"]["bleu"]["value"] == 18.25


def test_the_session_page_shows_per_item_metrics_beside_human_accuracy(alice_client, experiment_with_session):
    _, session, synthetic, _ = experiment_with_session
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    table = re.search(r'<table id="metrics-table">(.*?)</table>', page, re.S).group(1)
    mean_a = np.mean([p.bertscore_f1 for p in synthetic.evaluation_run.predictions.all()])
    assert f"{mean_a:.4f}" in table
    assert "Both systems&#x27; answers pooled" in table or "Both systems' answers pooled" in table
    assert reverse("analysis:experiment-stats", args=[session.source["experiment"]]) in page


def test_an_experiment_without_sessions_says_so(alice_client):
    corpus = Corpus.objects.create(name="Lonely corpus")
    base = ModelEntry.objects.create(name="m", kind=ModelKind.HF, role=ModelRole.QA_BASE, path="/tmp/m")
    experiment = Experiment.objects.create(name="Lonely", corpus=corpus, qa_base=base)
    ExperimentCell.objects.create(
        experiment=experiment, position=0, kind="human", evaluation_run=make_run("h", [0.9], 1.0)
    )
    page = alice_client.get(reverse("analysis:experiment-stats", args=[experiment.pk])).content.decode()
    assert "No judging session includes this system yet." in page
