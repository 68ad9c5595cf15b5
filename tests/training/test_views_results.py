"""The results table: one row per evaluation run, sorting, CSV download, paired bootstrap between two runs."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from tests.training.web_helpers import make_dataset, make_eval_corpus, minilm_entry, tiny_entry
from training.metrics import compare_runs
from training.models import EvaluationRun, Prediction, TrainingRun
from training.services import evaluation_runs, results
from training.services.evaluation_runs import evaluation_items, score_run

GOOD = ["Fuji", "through Brazil and Peru", "at night", "owls", "Rome"]
POOR = ["a volcano", "South America", "in the dark", "birds", "Italy"]


@pytest.fixture
def scored_runs(db, minilm_scorer, monkeypatch):
    """Two scored runs on the same five items: an adapter that answers well and the base model that does not."""
    minilm_entry()
    # The same encoder the run would load (MiniLM, layer 6), loaded once per session instead of per run.
    monkeypatch.setattr(evaluation_runs, "make_scorer", lambda run: minilm_scorer)
    corpus, entry = make_eval_corpus(), tiny_entry()
    training = TrainingRun.objects.create(name="tuned", base_model=entry, dataset=make_dataset("human set"))
    runs = []
    for name, answers, trained in (("good", GOOD, training), ("poor", POOR, None)):
        run = EvaluationRun.objects.create(name=name, base_model=entry, training_run=trained, corpus=corpus)
        for item, answer in zip(evaluation_items(corpus, "validation"), answers, strict=True):
            Prediction.objects.create(
                evaluation_run=run,
                item_index=item.index,
                item_key=item.key,
                context=item.context,
                question=item.question,
                gold_answers=item.gold_answers,
                prediction=answer,
            )
        score_run(run)
        run.refresh_from_db()
        runs.append(run)
    return runs


def test_the_table_has_one_row_per_run_with_intervals(alice_client, scored_runs):
    good, poor = scored_runs
    html = alice_client.get(reverse("training:results")).content.decode()

    assert html.count('<span class="status status-') == 2
    assert "human set v1" in html and "tiny-llama (no adapter)" in html
    em = good.metrics["exact_match"]
    assert f"{em['value']:.1f}" in html and f"[{em['ci_low']:.1f}, {em['ci_high']:.1f}]" in html
    assert "not comparable with the paper" in html  # MiniLM is not bert-score's default English encoder


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sorting_by_a_metric_orders_the_rows(alice_client, scored_runs, direction):
    good, poor = scored_runs
    response = alice_client.get(reverse("training:results"), {"sort": "f1", "dir": direction})
    rows = [r.run.pk for r in response.context["rows"]]
    assert rows == ([poor.pk, good.pk] if direction == "asc" else [good.pk, poor.pk])
    assert good.metrics["f1"]["value"] > poor.metrics["f1"]["value"]


def test_the_csv_holds_the_stored_values_and_intervals(alice_client, scored_runs):
    good, poor = scored_runs
    response = alice_client.get(reverse("training:results-csv"), {"sort": "id", "dir": "asc"})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert [int(r["evaluation_run"]) for r in rows] == [good.pk, poor.pk]
    for row, run in zip(rows, (good, poor), strict=True):
        assert int(row["items"]) == 5
        for key in ("bertscore_f1", "bleu", "exact_match", "f1"):
            assert float(row[key]) == run.metrics[key]["value"]
            assert float(row[f"{key}_ci_low"]) == run.metrics[key]["ci_low"]
    assert rows[0]["source"] == "human reference pairs" and rows[1]["source"] == "base model"


def test_the_paired_test_compares_two_runs_item_by_item(alice_client, scored_runs):
    good, poor = scored_runs
    response = alice_client.get(reverse("training:results"), {"a": good.pk, "b": poor.pk})
    comparison = response.context["comparison"]

    assert comparison.n_items == 5 and comparison.only_a == comparison.only_b == 0
    by_key = {m["key"]: m for m in comparison.metrics}
    expected = compare_runs(
        results._item_scores(list(good.predictions.order_by("item_index"))),
        results._item_scores(list(poor.predictions.order_by("item_index"))),
        metrics=["bertscore_f1", "bleu", "exact_match", "f1"],
    )
    for key, result in expected.items():
        assert by_key[key]["delta"] == pytest.approx(result.delta)
        assert by_key[key]["p_value"] == pytest.approx(result.p_value)
    assert by_key["exact_match"]["delta"] == pytest.approx(good.metrics["exact_match"]["value"])
    assert "significant at 5%" in response.content.decode() or "not significant" in response.content.decode()


def test_comparing_runs_without_common_items_says_so(alice_client, scored_runs):
    good, poor = scored_runs
    poor.predictions.update(item_key="other")
    response = alice_client.get(reverse("training:results"), {"a": good.pk, "b": poor.pk})
    assert response.context["comparison"] is None
    assert "have no evaluation items in common" in response.content.decode()


def test_the_evaluation_page_lists_predictions_and_their_csv(alice_client, scored_runs):
    good, _ = scored_runs
    html = alice_client.get(good.get_absolute_url()).content.decode()
    assert "through Brazil and Peru" in html and "BERTScore" in html
    response = alice_client.get(reverse("training:evaluation-predictions-csv", args=[good.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["prediction"] for r in rows] == GOOD
    assert rows[1]["gold_answers"] == '["through Brazil and Peru", "Brazil"]'
    assert float(rows[0]["bertscore_f1"]) == good.predictions.get(item_index=0).bertscore_f1
