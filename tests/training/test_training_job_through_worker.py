"""Training runs as jobs on the real worker: the loss goes down, cancel/kill resume from the checkpoint."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.models import Job
from core.services import jobs
from tests.conftest import start_worker, wait_for
from tests.training.web_helpers import TRAIN_TRIPLES, make_dataset, tiny_entry
from training.models import TrainingRun
from training.services.training_runs import create_training_run

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def _finished(job_id: int) -> Job | None:
    job = Job.objects.get(pk=job_id)
    return job if job.is_finished else None


def _steps(run: TrainingRun) -> list[int]:
    return list(run.loss_points.order_by("step").values_list("step", flat=True))


def test_a_training_run_through_the_worker_lowers_the_loss_and_stores_every_step(worker, alice):
    from training.engine.predict import load_for_inference
    from training.engine.trainer import dataset_loss

    run = create_training_run(
        base_model=tiny_entry(),
        dataset=make_dataset(),
        user=alice,
        max_steps=20,
        batch_size=3,
        learning_rate=3e-2,
        warmup_ratio=0.0,
        lora_dropout=0.0,
        checkpoint_every=10,
    )
    job = wait_for(lambda: _finished(run.job_id), timeout=180, what="the training job")

    assert job.status == "succeeded", job.error + job.log[-2000:]
    assert job.queue == "gpu"
    run.refresh_from_db()
    assert _steps(run) == list(range(1, 21))
    assert run.steps_done == run.total_steps == 20 and run.has_adapter
    assert run.device_used == "cpu" and run.dtype_used == "float32"
    assert run.resolved_target_modules == ["q_proj", "v_proj"]
    assert {"loss", "learning_rate", "tokens_per_s", "eta_s"} <= set(job.progress_data)
    assert job.progress_done == 20 and job.progress_total == 20
    examples = [{"context": c, "question": q, "answer": a} for c, q, a in TRAIN_TRIPLES]
    base_dir = run.base_model.path
    base, tokenizer = load_for_inference(base_dir)
    tuned, _ = load_for_inference(base_dir, run.adapter_dir)
    before = dataset_loss(base, tokenizer, examples, _template(run))
    after = dataset_loss(tuned, tokenizer, examples, _template(run))
    assert after < before - 0.1, (before, after)
    assert run.final_loss == pytest.approx(run.loss_points.get(step=20).loss)


def _template(run: TrainingRun):
    from training.engine.formatting import PromptTemplate

    return PromptTemplate.from_dict(run.template)


def test_a_cancelled_run_resumes_on_retry_and_finishes_every_step_once(worker, alice):
    run = create_training_run(
        base_model=tiny_entry(),
        dataset=make_dataset(),
        user=alice,
        max_steps=200,
        batch_size=3,
        learning_rate=1e-2,
        checkpoint_every=1000,  # only the stop itself writes a checkpoint
    )
    wait_for(lambda: run.loss_points.count() >= 5, timeout=120, what="a few training steps")
    jobs.cancel_job(Job.objects.get(pk=run.job_id))
    job = wait_for(lambda: _finished(run.job_id), timeout=60, what="the cancelled job to stop")
    assert job.status == "cancelled", job.error
    run.refresh_from_db()
    stopped_at = run.steps_done
    assert 5 <= stopped_at < 200
    assert (run.output_dir / "checkpoints" / f"step-{stopped_at:08d}" / "state.json").is_file()

    jobs.retry_job(job)
    job = wait_for(lambda: _finished(run.job_id), timeout=240, what="the retried job")

    assert job.status == "succeeded", job.error + job.log[-2000:]
    assert job.result["resumed_from_step"] == stopped_at
    run.refresh_from_db()
    assert _steps(run) == list(range(1, 201))
    assert run.steps_done == 200 and run.has_adapter
    assert f"resumed from checkpoint step-{stopped_at:08d}" in job.log


def test_a_killed_worker_run_continues_from_the_last_checkpoint_on_another_worker(worker, alice):
    # Only the doomed worker listens on this queue, so it (not the shared worker) starts the run; the queue
    # is set in the creating transaction so the sweep never sees the job on the normal queue.
    with transaction.atomic():
        run = create_training_run(
            base_model=tiny_entry(),
            dataset=make_dataset(),
            user=alice,
            max_steps=300,
            batch_size=3,
            learning_rate=1e-2,
            checkpoint_every=20,
            enqueue=False,
        )
        Job.objects.filter(pk=run.job_id).update(queue="trainweb-doomed")
    doomed = start_worker("trainweb-doomed", queues="trainweb-doomed", concurrency=1)
    try:
        jobs.publish(run.job_id)  # the sweep may have published it already: either message will do
        wait_for(lambda: run.loss_points.filter(step__gte=45).exists(), timeout=180, what="steps past a checkpoint")
        doomed.kill()
    finally:
        doomed.stop()
    run.refresh_from_db()
    killed_at = run.steps_done
    assert killed_at < 300, "the run finished before the worker was killed"
    # The shared worker's sweep notices the stale heartbeat and re-queues the job on the normal queue.
    Job.objects.filter(pk=run.job_id).update(queue="gpu")
    job = wait_for(lambda: _finished(run.job_id), timeout=240, what="the resumed job")

    assert job.status == "succeeded", job.error + job.log[-2000:]
    resumed_from = job.result["resumed_from_step"]
    assert resumed_from % 20 == 0 and 40 <= resumed_from <= killed_at
    assert "stopped sending heartbeats" in job.log
    run.refresh_from_db()
    assert _steps(run) == list(range(1, 301))
    assert run.steps_done == 300 and run.has_adapter
