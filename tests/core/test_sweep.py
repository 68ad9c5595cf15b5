"""The sweep: stale heartbeats are re-queued (then failed past the retry limit), lost messages re-sent."""

from __future__ import annotations

import os
from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone

from core.models import Job
from core.services import jobs

pytestmark = pytest.mark.sqlite_smoke


def running_job(**fields) -> Job:
    defaults = dict(kind="countdown", status="running", lease_owner="dead-host:1", attempts=1, max_attempts=3)
    defaults.update(fields)
    return Job.objects.create(**defaults)


@pytest.fixture
def no_broker():
    with mock.patch("core.services.jobs.publish", return_value=True) as publish:
        yield publish


def test_a_running_job_with_a_stale_heartbeat_is_requeued(db, no_broker):
    job = running_job(heartbeat_at=timezone.now() - timedelta(minutes=5))
    report = jobs.sweep()
    job.refresh_from_db()
    assert report.requeued_stale == [job.pk]
    assert job.status == "queued" and job.lease_owner == ""
    assert "stopped sending heartbeats" in job.log
    no_broker.assert_any_call(job.pk)


def test_a_stale_job_past_its_retry_limit_fails_with_a_clear_error(db, no_broker):
    job = running_job(heartbeat_at=timezone.now() - timedelta(minutes=5), attempts=3)
    report = jobs.sweep()
    job.refresh_from_db()
    assert report.failed_stale == [job.pk]
    assert job.status == "failed"
    assert "stopped sending heartbeats" in job.error and "presumably killed" in job.error
    assert job.finished_at is not None


def test_a_job_with_a_fresh_heartbeat_is_left_alone(db, no_broker):
    job = running_job(heartbeat_at=timezone.now())
    jobs.sweep()
    job.refresh_from_db()
    assert job.status == "running" and job.lease_owner == "dead-host:1"


def test_on_an_overloaded_machine_a_late_heartbeat_is_not_taken_for_a_dead_worker(db, no_broker, settings):
    settings.QASYNTH_STALE_AFTER_SECONDS = 60
    job = running_job(heartbeat_at=timezone.now() - timedelta(seconds=150))
    cores = os.cpu_count() or 1
    with mock.patch("os.getloadavg", return_value=(4.0 * cores, 0.0, 0.0)):  # 4 runnable tasks per core
        assert jobs.stale_after_seconds() == pytest.approx(240)
        jobs.sweep()
    job.refresh_from_db()
    assert job.status == "running"
    with mock.patch("os.getloadavg", return_value=(0.5 * cores, 0.0, 0.0)):  # quiet again: 150 s is too late
        assert jobs.stale_after_seconds() == 60
        jobs.sweep()
    job.refresh_from_db()
    assert job.status == "queued"


def test_the_stretch_for_load_is_capped_so_a_dead_worker_is_still_found(db, settings):
    settings.QASYNTH_STALE_AFTER_SECONDS = 60
    with mock.patch("os.getloadavg", return_value=(1000.0, 0.0, 0.0)):
        assert jobs.stale_after_seconds() == 60 * jobs.MAX_STALE_STRETCH


def test_a_queued_job_whose_message_may_be_lost_is_published_again(db, no_broker):
    old = Job.objects.create(kind="countdown", enqueued_at=timezone.now() - timedelta(hours=1))
    fresh = Job.objects.create(kind="countdown", enqueued_at=timezone.now())
    report = jobs.sweep()
    assert report.republished == [old.pk]
    assert fresh.pk not in report.republished
    old.refresh_from_db()
    assert old.requeue_count == 1


def test_republishing_backs_off_so_a_busy_queue_does_not_fill_the_broker(db, no_broker, settings):
    two_waits_ago = timezone.now() - timedelta(seconds=settings.QASYNTH_REQUEUE_AFTER_SECONDS * 2)
    job = Job.objects.create(kind="countdown", requeue_count=3, enqueued_at=two_waits_ago)
    assert jobs.sweep().republished == []
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(hours=2))
    assert jobs.sweep().republished == [job.pk]


def test_a_second_worker_cannot_claim_a_job_already_leased(db):
    job = Job.objects.create(kind="countdown", params={"steps": 0})
    assert jobs.claim(job.pk, "w1:1") is not None
    assert jobs.claim(job.pk, "w2:2") is None
    job.refresh_from_db()
    assert job.lease_owner == "w1:1" and job.attempts == 1


def test_running_a_finished_job_again_does_nothing(db):
    job = Job.objects.create(kind="countdown", status="succeeded", params={"steps": 1})
    assert jobs.run_job(job.pk, owner="w:1") is None
    job.refresh_from_db()
    assert job.status == "succeeded" and job.attempts == 0


def test_a_killed_worker_handler_resumes_from_stored_progress(db):
    job = Job.objects.create(kind="countdown", params={"steps": 5, "step_seconds": 0}, progress_done=3)
    assert jobs.run_job(job.pk, owner="w:1") == "succeeded"
    job.refresh_from_db()
    assert job.progress_done == 5 and "started on w:1" in job.log


def test_a_dependent_job_waits_for_its_dependency(db, no_broker):
    first = Job.objects.create(kind="countdown", params={"steps": 0})
    second = Job.objects.create(kind="countdown", params={"steps": 0})
    second.depends_on.add(first)
    assert jobs.claim(second.pk, "w:1") is None
    assert jobs.run_job(first.pk, owner="w:1") == "succeeded"
    assert jobs.claim(second.pk, "w:1") is not None
