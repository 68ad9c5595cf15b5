"""A job goes queued -> running -> succeeded through the real worker; cancel and retry work on it."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import transaction

from core.models import Job
from core.services.jobs import cancel_job, create_job, retry_job

pytestmark = [pytest.mark.worker, pytest.mark.sqlite_smoke]


def queue(kind: str, **params) -> Job:
    with transaction.atomic():
        return create_job(kind, params, title=f"test {kind}")


def status_of(job: Job) -> str:
    return Job.objects.values_list("status", flat=True).get(pk=job.pk)


def test_a_job_is_seen_queued_then_running_then_succeeded(worker, wait):
    with transaction.atomic():
        job = create_job("countdown", {"steps": 4, "step_seconds": 0.3}, title="test countdown")
        # Read before the commit publishes it: after it, a worker may start the job before this test runs again.
        seen = [status_of(job)]
    wait(lambda: status_of(job) != "queued", timeout=30, what="the worker to pick the job up")
    seen.append(status_of(job))
    wait(lambda: status_of(job) == "succeeded", timeout=30, what="the job to finish")
    seen.append(status_of(job))
    job.refresh_from_db()
    assert seen[0] == "queued"
    assert seen[1] in ("running", "succeeded")
    assert seen[-1] == "succeeded"
    assert job.progress_done == 4 and job.progress_total == 4
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    assert job.lease_owner and job.heartbeat_at is not None
    assert "succeeded" in job.log


def test_progress_is_visible_while_the_job_runs(worker, wait):
    job = queue("countdown", steps=8, step_seconds=0.4)
    wait(lambda: 0 < Job.objects.get(pk=job.pk).progress_done < 8, timeout=30, what="partial progress")
    assert status_of(job) == "running"
    wait(lambda: status_of(job) == "succeeded", timeout=30, what="the job to finish")


def test_cancelling_a_running_job_stops_it_between_steps(worker, wait):
    job = queue("countdown", steps=100, step_seconds=0.2)
    wait(lambda: Job.objects.get(pk=job.pk).progress_done >= 2, timeout=30, what="the job to start")
    cancel_job(job)
    wait(lambda: status_of(job) == "cancelled", timeout=15, what="the cancel to take effect")
    job.refresh_from_db()
    assert job.progress_done < 100
    assert "cancel requested" in job.log


def test_cancelling_a_queued_job_means_it_never_runs(db):
    job = queue("countdown", steps=1, step_seconds=0)
    cancel_job(job)
    job.refresh_from_db()
    assert job.status == "cancelled" and job.started_at is None


def test_a_failed_job_records_the_error_and_a_retry_finishes_it(worker, wait):
    job = queue("countdown", steps=3, step_seconds=0.1, fail_at_step=2)
    wait(lambda: status_of(job) == "failed", timeout=30, what="the job to fail")
    job.refresh_from_db()
    assert job.error == "countdown was told to fail at step 2"
    assert job.progress_done == 1
    Job.objects.filter(pk=job.pk).update(params={"steps": 3, "step_seconds": 0.1})
    retry_job(job)
    wait(lambda: status_of(job) == "succeeded", timeout=30, what="the retried job to finish")
    job.refresh_from_db()
    assert job.progress_done == 3 and job.error == ""


def test_the_worker_uses_the_configured_broker(worker):
    scheme = settings.CELERY_BROKER_URL.split("://")[0]
    # The embedded broker is kombu's filesystem transport with atomic publish/claim (qasynth_web.filesystem_broker).
    expected = "qasynth_web.filesystem_broker:Transport://" if scheme == "filesystem" else f"{scheme}://"
    assert f"transport:   {expected}" in worker.log()
