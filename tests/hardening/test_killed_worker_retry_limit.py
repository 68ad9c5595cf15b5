"""A job whose worker is killed on its last allowed attempt ends failed with a clear error; jobs that were
waiting in the dead worker's prefetch still run; a retry resumes the failed one from its stored progress."""

from __future__ import annotations

import pytest
from django.db import transaction

from core.models import Job, JobStatus
from core.services.jobs import create_job, retry_job
from tests.conftest import wait_for
from tests.hardening.helpers import describe, start_prefetching_worker, to_queue, wait_finished

pytestmark = [pytest.mark.worker]

QUEUE = "hardening-countdown"
STEPS = 30


def test_a_job_killed_on_its_last_attempt_fails_clearly_and_a_retry_resumes_it(worker):
    doomed = start_prefetching_worker("hardening-countdown", QUEUE, concurrency=1, prefetch=3)
    try:
        with transaction.atomic():
            last_try = create_job("countdown", {"steps": STEPS, "step_seconds": 0.2}, max_attempts=1)
            waiting = [create_job("countdown", {"steps": 2, "step_seconds": 0.1}) for _ in range(2)]
            to_queue([last_try.pk, *[job.pk for job in waiting]], QUEUE)
        # Redis hands the worker all three; kombu's filesystem transport only two (one running, one waiting).
        wait_for(lambda: doomed.log().count("] received") >= 2, timeout=30, what="prefetched messages in the worker")
        wait_for(lambda: Job.objects.get(pk=last_try.pk).progress_done >= 3, timeout=30, what="a few steps")
        doomed.kill()
    finally:
        doomed.stop()
    killed_at = Job.objects.get(pk=last_try.pk).progress_done
    assert killed_at < STEPS
    to_queue([last_try.pk, *[job.pk for job in waiting]], "default")

    failed, *others = wait_finished([last_try.pk, *[job.pk for job in waiting]], timeout=60)

    assert failed.status == JobStatus.FAILED, describe(failed)
    assert "stopped sending heartbeats" in failed.error and "presumably killed" in failed.error
    assert "Gave up after 1 attempts" in failed.error and "Retry to resume" in failed.error
    assert failed.progress_done == killed_at  # what it finished is kept
    for job in others:
        assert job.status == JobStatus.SUCCEEDED and job.attempts == 1, describe(job)

    retry_job(failed)
    (resumed,) = wait_finished([failed.pk], timeout=60, what="the retried job")
    assert resumed.status == JobStatus.SUCCEEDED, describe(resumed)
    assert resumed.progress_done == STEPS and resumed.error == "" and "retry requested" in resumed.log
