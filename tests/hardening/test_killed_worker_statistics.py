"""SIGKILL of a worker in the middle of a session-statistics job: the sweep re-queues it, the next attempt
computes from the current judgments and stores the one statistics row of the session (no second row, no
half-written result), and it is then served as fresh."""

from __future__ import annotations

import pytest
from django.db import transaction

from analysis.models import SessionStatistics
from analysis.services import statistics
from core.models import Job, JobStatus
from tests.analysis.stats_helpers import judge_session, make_judges
from tests.annotation.helpers import make_session
from tests.hardening.helpers import describe, start_prefetching_worker, to_queue, wait_at_gate, wait_finished

pytestmark = [pytest.mark.worker, pytest.mark.slow]

QUEUE = "hardening-statistics"
LABELS = ("correct", "partial", "incorrect")


def test_a_killed_statistics_job_stores_one_current_result_after_the_sweep_requeues_it(worker):
    judges = make_judges(3)
    session = make_session(n=40, k=3, judges=judges)
    stored = judge_session(
        session, judges, lambda item, judge: (LABELS[item.pk % 3], LABELS[(item.pk + judge.pk) % 3], "a")
    )
    variant = statistics.Variant()
    # Stopped at its first progress report, after the computation began and before anything is stored.
    doomed = start_prefetching_worker("hardening-statistics", QUEUE, concurrency=1, stop_at_batch=1)
    try:
        with transaction.atomic():
            state = statistics.statistics_for(session, variant, inline=False)
            to_queue([state.job.pk], QUEUE)
        job_id = state.job.pk
        assert wait_at_gate(doomed, timeout=60)["job"] == job_id
        doomed.kill()
    finally:
        doomed.stop()
    assert Job.objects.get(pk=job_id).status == JobStatus.RUNNING  # as the dead worker left it
    assert SessionStatistics.objects.get(session=session, variant=variant.key).result is None

    to_queue([job_id], "default")
    (job,) = wait_finished([job_id], timeout=120, what="the statistics job to finish after the kill")

    assert job.status == JobStatus.SUCCEEDED, describe(job)
    assert "stopped sending heartbeats" in job.log and job.attempts == 2
    rows = SessionStatistics.objects.filter(session=session, variant=variant.key)
    assert rows.count() == 1
    row = rows.get()
    assert row.fingerprint == statistics.fingerprint(session).key and row.n_judgments == stored == 120
    assert row.result is not None and row.job_id == job_id
    fresh = statistics.statistics_for(session, variant)
    assert fresh.status == "ready" and Job.objects.filter(kind=statistics.JOB_KIND).count() == 1
