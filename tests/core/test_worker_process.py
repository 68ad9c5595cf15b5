"""What a real worker process does with its machine and its jobs: each pool process takes its share of the
cores (from the worker's real `-c`), a warm shutdown hands running jobs back without spending an attempt, and
periodic messages that piled up while the worker was busy are dropped instead of run one by one."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from kombu import Connection

from core.models import Job, JobStatus
from core.services.jobs import create_job, publish
from tests.conftest import start_worker, wait_for

pytestmark = [pytest.mark.slow]


def private_job(queue: str, **params) -> Job:
    """A countdown job on a queue only this test's worker reads (the shared worker never sees it)."""
    job = create_job("countdown", params, enqueue=False)
    Job.objects.filter(pk=job.pk).update(queue=queue)
    return job


def status(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


# --- torch threads --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("concurrency", [1, 2])
def test_each_pool_process_gets_the_cores_divided_by_the_workers_real_pool_size(transactional_db, concurrency):
    worker = start_worker(f"threads-c{concurrency}", queues="threads-probe", concurrency=concurrency,
                          QASYNTH_TORCH_THREADS="")  # fmt: skip
    try:
        lines = wait_for(
            lambda: (
                (found := re.findall(r"torch threads (\d+) \(cores (\d+), pool size (\d+)\)", worker.log()))
                and len(found) >= concurrency
                and found
            ),
            timeout=60,
            what="every pool process to report its threads",
        )
    finally:
        worker.stop()
    cores = os.cpu_count() or 1
    assert {(int(t), int(c), int(p)) for t, c, p in lines} == {(max(1, cores // concurrency), cores, concurrency)}


# --- warm shutdown --------------------------------------------------------------------------------------------


def test_a_warm_shutdown_hands_running_jobs_back_without_spending_an_attempt(transactional_db):
    queue = "worker-shutdown"
    worker = start_worker("shutdown-first", queues=queue, concurrency=2)
    try:
        checking = private_job(queue, steps=40, step_seconds=0.2)  # checks between short steps
        busy = private_job(queue, steps=1, step_seconds=6)  # one long step: handed back by the heartbeat
        for job in (checking, busy):
            publish(job.pk)
        wait_for(lambda: status(checking).progress_done >= 3 and status(busy).status == JobStatus.RUNNING,
                 timeout=60, what="both jobs running")  # fmt: skip
        os.kill(worker.process.pid, signal.SIGTERM)  # as ./run stops its worker (Ctrl-C reaches it the same way)
        wait_for(lambda: all(status(job).status == JobStatus.QUEUED for job in (checking, busy)), timeout=30,
                 what="both jobs back in the queue")  # fmt: skip
    finally:
        worker.kill()  # ./run kills what did not stop within 10 s
    kept = status(checking).progress_done
    for job in (checking, busy):
        row = status(job)
        assert row.attempts == 0 and row.lease_owner == "", row.log
        assert "handed back, attempt not counted" in row.log
    assert "(the handler was still busy)" in status(busy).log
    assert 3 <= kept < 40

    # Its beat's sweep (run from the default queue) publishes the handed-back jobs again.
    successor = start_worker("shutdown-second", queues=f"default,{queue}", concurrency=2, beat=True)
    try:
        wait_for(lambda: all(status(job).is_finished for job in (checking, busy)), timeout=60,
                 what="the next worker to finish both jobs")  # fmt: skip
    finally:
        successor.stop()
    for job in (checking, busy):
        row = status(job)
        assert row.status == JobStatus.SUCCEEDED and row.attempts == 1, row.log
    assert f"step {kept} of 40" in status(checking).log or status(checking).progress_done == 40


# --- periodic backlog ----------------------------------------------------------------------------------------


def test_sweeps_that_piled_up_behind_a_busy_worker_are_dropped_not_run(transactional_db, tmp_path):
    """One pool process, busy for 4 s, while beat sends a sweep and an experiment tick every 0.2 s.

    The worker gets its own filesystem broker under tmp_path even when the suite runs on Redis: the shared
    worker reads the same Redis queues and would take the job (and the piled-up messages) away from it."""
    worker = start_worker("backlog", queues="default", concurrency=1, beat=True, QASYNTH_DATA_DIR=str(tmp_path),
                          QASYNTH_SWEEP_SECONDS="0.2", CELERY_BROKER_URL="filesystem://")  # fmt: skip
    try:
        job = private_job("backlog-private", steps=8, step_seconds=0.5)
        send_to_private_broker(tmp_path, job)
        wait_for(lambda: status(job).status == JobStatus.SUCCEEDED, timeout=60, what="the job")
        wait_for(lambda: worker.log().count("Discarding revoked task") >= 10, timeout=30,
                 what="the piled-up periodic messages to be dropped")  # fmt: skip
    finally:
        worker.stop()
    log = worker.log()
    sent = log.count("Sending due task")
    ran = len(re.findall(r"(sweep_jobs|advance_experiments)\[[^\]]+\] succeeded", log))
    assert ran < sent / 2, f"{ran} of {sent} periodic messages ran"


def send_to_private_broker(data_dir: Path, job: Job) -> None:
    """Publish through the worker's own broker folder (under its QASYNTH_DATA_DIR), as its beat does."""
    from core.tasks import execute_job
    from qasynth_web.filesystem_broker import Transport

    folder = data_dir / "broker" / "queue"
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder),
               "control_folder": str(data_dir / "broker" / "control")}  # fmt: skip
    with Connection("filesystem://", transport=Transport, transport_options=options) as conn:
        execute_job.apply_async(args=[job.pk], queue="default", connection=conn)
