"""A job page offers only the actions that apply to the job's status, and every action answers in words.

Cancel applies to queued and running jobs, Retry to failed and cancelled ones; a succeeded job offers
neither. A click that changes nothing (the job finished meanwhile) still says why.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core.models import Job, JobStatus
from tests.support.layout import CHROMIUM, LAPTOP, chromium, log_in

APPLIES = {
    JobStatus.QUEUED: {"Cancel"},
    JobStatus.RUNNING: {"Cancel"},
    JobStatus.SUCCEEDED: set(),
    JobStatus.FAILED: {"Retry"},
    JobStatus.CANCELLED: {"Retry"},
}


def make_job(status: str) -> Job:
    return Job.objects.create(kind="core.noop", title=f"a {status} job", status=status)


def said(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.mark.django_db
def test_cancelling_a_queued_job_says_it_was_cancelled(alice_client):
    job = make_job(JobStatus.QUEUED)

    response = alice_client.post(reverse("job-cancel", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert said(response) == [f"Job #{job.pk} was cancelled before it started."]


@pytest.mark.django_db
def test_cancelling_a_running_job_says_it_stops_at_its_next_check(alice_client):
    job = make_job(JobStatus.RUNNING)

    response = alice_client.post(reverse("job-cancel", args=[job.pk]))

    job.refresh_from_db()
    assert job.cancel_requested and job.status == JobStatus.RUNNING
    assert "stops at its next check" in said(response)[0]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED])
def test_cancelling_a_finished_job_says_there_is_nothing_to_cancel(alice_client, status):
    job = make_job(status)

    response = alice_client.post(reverse("job-cancel", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == status and not job.cancel_requested
    assert said(response) == [f"Job #{job.pk} has already finished ({status}); there is nothing to cancel."]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.CANCELLED])
def test_retrying_a_failed_or_cancelled_job_queues_it_and_says_so(alice_client, status):
    job = make_job(status)

    response = alice_client.post(reverse("job-retry", args=[job.pk]))

    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert said(response) == [f"Job #{job.pk} is queued again; it resumes from what it stored."]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.SUCCEEDED])
def test_retrying_any_other_job_says_why_not(alice_client, status):
    job = make_job(status)

    response = alice_client.post(reverse("job-retry", args=[job.pk]))

    assert said(response) == [f"Job #{job.pk} is {status}; only a failed or cancelled job can be retried."]


@pytest.mark.django_db
def test_an_action_returns_to_the_page_it_was_clicked_on_if_that_is_on_this_site(alice_client):
    job = make_job(JobStatus.QUEUED)

    back = alice_client.post(reverse("job-cancel", args=[job.pk]), {"next": "/generation/runs/7/"})
    off_site = alice_client.post(reverse("job-retry", args=[job.pk]), {"next": "/\\evil.example"})

    assert back["Location"] == "/generation/runs/7/"
    assert off_site["Location"] == job.get_absolute_url()


@pytest.mark.django_db
def test_the_json_answer_carries_the_message(alice_client):
    job = make_job(JobStatus.SUCCEEDED)

    data = alice_client.post(reverse("job-retry", args=[job.pk]), HTTP_ACCEPT="application/json").json()

    assert data["status"] == "succeeded" and not data["action_ok"]
    assert "only a failed or cancelled job can be retried" in data["action_message"]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium")
@pytest.mark.django_db(transaction=True)
def test_the_browser_shows_only_the_buttons_that_apply(live_server, alice, settings):
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    jobs = {status: make_job(status) for status in APPLIES}
    with chromium() as browser:
        page = browser.new_page(viewport=LAPTOP)
        page.set_default_timeout(15_000)
        log_in(page, live_server.url, "alice")
        shown = {}
        for status, job in jobs.items():
            page.goto(f"{live_server.url}{job.get_absolute_url()}")
            page.wait_for_function("() => document.querySelector('[data-field=status]').textContent.trim() !== ''")
            shown[status] = {name for name in ("Cancel", "Retry") if page.get_by_role("button", name=name).is_visible()}

        assert shown == APPLIES

        page.goto(f"{live_server.url}{jobs[JobStatus.SUCCEEDED].get_absolute_url()}")
        page.evaluate("() => document.querySelector('form[action$=\"/retry/\"]').submit()")  # a stale page's click
        page.wait_for_selector("ul.messages li")
        assert "only a failed or cancelled job can be retried" in page.inner_text("ul.messages")
