"""With CELERY_BROKER_URL=redis://..., the same code runs on Redis with a real worker process."""

from __future__ import annotations

import os

import pytest
from django.db import transaction

from core.models import Job
from core.services.jobs import create_job

pytestmark = pytest.mark.skipif(
    not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"),
    reason="CELERY_BROKER_URL is not a redis:// URL (CI sets it; .ci/run starts Redis)",
)


def test_a_real_worker_on_redis_takes_a_job_from_queued_to_succeeded(worker, wait):
    assert "redis://" in worker.log()
    with transaction.atomic():
        job = create_job("countdown", {"steps": 2, "step_seconds": 0.5})
        # Read before the commit publishes it: after it, the worker may start the job before this test runs again.
        statuses = {Job.objects.get(pk=job.pk).status}
    wait(lambda: statuses.add(Job.objects.get(pk=job.pk).status) or "succeeded" in statuses, timeout=30,
         interval=0.05, what="the job to succeed on Redis")  # fmt: skip
    assert {"queued", "running", "succeeded"} <= statuses
