"""SIGKILL of a worker in the middle of an evaluation run.

Predictions are stored per batch; the re-queued job answers only the items without a prediction, then
scores all of them once. Every item ends with exactly one scored prediction. (Prefetched messages lost
with a worker are shown by the generation and import kill tests: an evaluation costs tens of seconds of
model loading on a shared CPU, so this test runs one.)
"""

from __future__ import annotations

import pytest
from django.db import transaction

from core.models import Job, JobStatus
from generation.models import Corpus, Passage, ReferenceQA
from tests.hardening.helpers import describe, start_prefetching_worker, to_queue, wait_at_gate, wait_finished
from tests.training.web_helpers import minilm_entry, tiny_entry
from training.models import EvaluationRun, Prediction
from training.services.evaluation_runs import create_evaluation_run

pytestmark = [pytest.mark.worker, pytest.mark.slow]

QUEUE = "hardening-evaluation"
ITEMS = 20
KILLED_AFTER = 3  # batches of one item stored before the kill


def _corpus(name: str, n: int) -> Corpus:
    corpus = Corpus.objects.create(name=name, language="en")
    for i in range(n):
        passage = Passage.objects.create(
            corpus=corpus, text=f"Lighthouse {i} stands on island number {i}.", split="validation"
        )
        ReferenceQA.objects.create(
            passage=passage, question=f"Where does lighthouse {i} stand?", answers=[f"island {i}"]
        )
    return corpus


def test_a_killed_evaluation_answers_only_missing_items_and_scores_each_once(worker):
    minilm_entry()
    corpus = _corpus("lighthouses", ITEMS)
    doomed = start_prefetching_worker("hardening-evaluation", QUEUE, concurrency=1, stop_at_batch=KILLED_AFTER)
    try:
        with transaction.atomic():
            run = create_evaluation_run(
                corpus=corpus, base_model=tiny_entry(), split="validation", batch_size=1, max_new_tokens=12
            )
            to_queue([run.job_id], QUEUE)
        assert wait_at_gate(doomed, timeout=90)["job"] == run.job_id
        doomed.kill()
    finally:
        doomed.stop()
    before = dict(run.predictions.values_list("item_index", "pk"))
    assert len(before) == KILLED_AFTER  # (the decoder answers items in its own order: by prompt length)
    assert Job.objects.get(pk=run.job_id).status == JobStatus.RUNNING  # as the dead worker left it

    to_queue([run.job_id], "gpu")
    (job,) = wait_finished([run.job_id], timeout=120, what="the evaluation to finish after the kill")

    assert job.status == JobStatus.SUCCEEDED, describe(job)
    assert "stopped sending heartbeats" in job.log and job.attempts == 2
    run = EvaluationRun.objects.get(pk=run.pk)
    stored = Prediction.objects.filter(evaluation_run=run).order_by("item_index")
    assert list(stored.values_list("item_index", flat=True)) == list(range(ITEMS))
    assert {i: pk for i, pk in stored.values_list("item_index", "pk") if i in before} == before  # kept, not redone
    assert not stored.filter(bertscore_f1__isnull=True).exists()
    assert run.n_items == ITEMS and run.scored_at is not None and "bertscore_f1" in run.metrics
