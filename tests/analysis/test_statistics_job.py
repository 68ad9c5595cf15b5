"""Large sessions: computed by an "analysis.statistics" job, the page shows progress, then the result."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis.models import SessionStatistics
from analysis.services import statistics
from core.models import Job
from core.services.jobs import run_job
from tests.analysis.stats_helpers import judge_session, make_judges
from tests.annotation.helpers import make_session
from tests.conftest import keep_jobs_here

pytestmark = pytest.mark.django_db(transaction=True)  # the job runs with its own heartbeat connection


@pytest.fixture
def small_inline_limit(settings):
    settings.QASYNTH_STATS_INLINE_MAX_JUDGMENTS = 5
    settings.QASYNTH_STATS_REPLICATES = 500


@pytest.fixture
def in_process(monkeypatch):
    """Statistics jobs go to a queue no worker consumes, so this test runs them itself even while the suite's
    shared worker (started by other tests) is up: its beat would otherwise publish them and win the lease."""
    keep_jobs_here(monkeypatch, statistics.JOB_KIND)


def judged(n_items: int = 6, n_judges: int = 2):
    judges = make_judges(n_judges)
    session = make_session(n=n_items, k=n_judges, judges=judges)
    judge_session(session, judges, lambda item, judge: ("correct", "partial", "a"))
    return session, judges


def test_a_large_session_goes_through_the_job_and_the_page_shows_progress_then_the_result(
    small_inline_limit, in_process, alice_client
):
    session, _ = judged()
    url = reverse("analysis:session-stats", args=[session.pk])
    waiting = alice_client.get(url).content.decode()
    job = Job.objects.get(kind=statistics.JOB_KIND)
    assert "Computing the statistics of 12 judgments in the background" in waiting
    assert f'href="{job.get_absolute_url()}"' in waiting and 'http-equiv="refresh"' in waiting
    assert job.params["session_id"] == session.pk and job.params["variant"]["n_boot"] == 500
    alice_client.get(url)  # a second view while it is queued starts no second job
    assert Job.objects.filter(kind=statistics.JOB_KIND).count() == 1
    assert SessionStatistics.objects.get(session=session).result is None

    api = alice_client.get(reverse("api:session-statistics", args=[session.pk]))
    assert api.status_code == 202 and api.json()["status"] == "computing" and api.json()["job"]["id"] == job.pk

    assert run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result["n_judgments"] == 12 and job.progress_done == job.progress_total == 3
    done = alice_client.get(url).content.decode()
    assert "Computed from all 12 current judgments" in done and 'http-equiv="refresh"' not in done
    assert Job.objects.filter(kind=statistics.JOB_KIND).count() == 1
    assert alice_client.get(reverse("api:session-statistics", args=[session.pk])).status_code == 200


def test_a_new_judgment_starts_a_new_job_and_the_old_result_is_shown_as_stale(
    small_inline_limit, in_process, alice_client
):
    judges = make_judges(3)
    session = make_session(n=6, k=3, judges=judges)
    judge_session(session, judges[:2], lambda item, judge: ("correct", "partial", "a"))
    url = reverse("analysis:session-stats", args=[session.pk])
    alice_client.get(url)
    assert run_job(Job.objects.get(kind=statistics.JOB_KIND).pk) == "succeeded"
    judge_session(session, judges[2:], lambda item, judge: ("incorrect", "partial", "b"))
    page = alice_client.get(url).content.decode()
    assert Job.objects.filter(kind=statistics.JOB_KIND).count() == 2
    assert "Shown below: the previous result, computed from 12 judgments (stale)" in page
    newest = Job.objects.filter(kind=statistics.JOB_KIND).order_by("-pk").first()
    assert run_job(newest.pk) == "succeeded"
    assert "Computed from all 18 current judgments" in alice_client.get(url).content.decode()


def test_a_retried_job_for_unchanged_judgments_stores_nothing_twice(small_inline_limit, in_process):
    session, _ = judged()
    state = statistics.statistics_for(session)
    assert state.status == "computing"
    assert run_job(state.job.pk) == "succeeded"
    row = SessionStatistics.objects.get(session=session)
    again = Job.objects.create(kind=statistics.JOB_KIND, params=state.job.params, queue="no-worker-here")
    assert run_job(again.pk) == "succeeded"
    again.refresh_from_db()
    assert again.result["already_current"] is True
    assert SessionStatistics.objects.filter(session=session).count() == 1
    assert SessionStatistics.objects.get(session=session).computed_at == row.computed_at


@pytest.mark.worker
def test_the_real_worker_computes_a_large_sessions_statistics(small_inline_limit, worker, wait, alice_client):
    session, _ = judged()
    url = reverse("analysis:session-stats", args=[session.pk])
    assert "in the background" in alice_client.get(url).content.decode()
    job = Job.objects.get(kind=statistics.JOB_KIND)
    wait(lambda: Job.objects.get(pk=job.pk).status in ("succeeded", "failed"), timeout=180, what="the statistics job")
    job.refresh_from_db()
    assert job.status == "succeeded", (job.error, job.log[-2000:])
    assert "Computed from all 12 current judgments" in alice_client.get(url).content.decode()


def test_many_judges_send_even_a_small_session_to_the_job(settings, in_process):
    settings.QASYNTH_STATS_REPLICATES = 10_000  # 7 judges: 21 pairs, each with its own bootstrapped kappa
    session, _ = judged(n_items=2, n_judges=7)
    state = statistics.statistics_for(session)
    assert state.status == "computing" and state.job.kind == statistics.JOB_KIND
    settings.QASYNTH_STATS_REPLICATES = 1_000  # 22 x 1,000 replicates is cheap: inline
    assert statistics.statistics_for(session).status == "ready"
