"""An evaluation run on the real worker stores one scored prediction per item and library-equal aggregates."""

from __future__ import annotations

import bert_score
import numpy as np
import pytest
import sacrebleu

from core.models import Job
from core.services.model_registry import minilm_dir
from tests.conftest import wait_for
from tests.training.web_helpers import EVAL_PASSAGES, make_eval_corpus, minilm_entry, tiny_entry
from training.metrics.bleu import reference_streams
from training.services.evaluation_runs import create_evaluation_run

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_an_evaluation_run_through_the_worker_stores_every_item_with_its_scores(worker, alice):
    minilm_entry()
    run = create_evaluation_run(
        corpus=make_eval_corpus(),
        base_model=tiny_entry(),
        split="validation",
        user=alice,
        batch_size=2,
        max_new_tokens=8,
    )
    job = wait_for(
        lambda: (j := Job.objects.get(pk=run.job_id)).is_finished and j, timeout=180, what="the evaluation job"
    )
    assert job.status == "succeeded", job.error + job.log[-2000:]
    assert job.queue == "gpu"
    run.refresh_from_db()

    expected = [(q, golds) for _, pairs in EVAL_PASSAGES for q, golds in pairs]
    predictions = list(run.predictions.order_by("item_index"))
    assert [p.item_index for p in predictions] == list(range(len(expected)))
    assert [(p.question, p.gold_answers) for p in predictions] == expected
    assert all(p.item_key.startswith("reference:") and p.passage_id and p.context for p in predictions)
    assert all(p.latency_ms > 0 and p.output_tokens is not None for p in predictions)
    assert all(p.bertscore_f1 is not None and p.exact_match in (0.0, 1.0) and p.bleu_stats for p in predictions)
    assert run.n_items == len(expected) and run.scored_at is not None

    preds = [p.prediction for p in predictions]
    golds = [p.gold_answers for p in predictions]
    P, R, F = bert_score.score(preds, golds, model_type=str(minilm_dir()), num_layers=6)
    assert run.metrics["bertscore_f1"]["value"] == pytest.approx(F.mean().item(), abs=1e-6)
    assert run.metrics["bertscore_precision"]["value"] == pytest.approx(P.mean().item(), abs=1e-6)
    assert run.metrics["bertscore_recall"]["value"] == pytest.approx(R.mean().item(), abs=1e-6)
    np.testing.assert_allclose([p.bertscore_f1 for p in predictions], F.numpy(), atol=1e-6)
    bleu = sacrebleu.corpus_bleu(preds, reference_streams(golds), tokenize="13a")
    assert run.metrics["bleu"]["value"] == pytest.approx(bleu.score, abs=1e-6)
    for name in ("bertscore_f1", "bleu", "exact_match", "f1"):
        m = run.metrics[name]
        assert m["ci_low"] <= m["value"] + 1e-9 and m["value"] <= m["ci_high"] + 1e-9
    assert run.metrics_info["bleu_tokenize"] == "13a"
    assert {"items_per_s"} <= set(job.progress_data)
