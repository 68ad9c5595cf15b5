"""Staff run the lab; judges get 403 on staff pages; anonymous users are sent to log in."""

from __future__ import annotations

import pytest

from core.models import Job

pytestmark = pytest.mark.sqlite_smoke


@pytest.fixture
def job(db) -> Job:
    return Job.objects.create(kind="countdown", params={"steps": 1})


def staff_urls(job: Job) -> list[str]:
    return ["/jobs/", f"/jobs/{job.pk}/", f"/jobs/{job.pk}/status.json"]


def test_a_judge_gets_403_on_job_pages(bob_client, job):
    for url in staff_urls(job):
        assert bob_client.get(url).status_code == 403, url


def test_a_judge_cannot_cancel_or_retry_a_job(bob_client, job):
    assert bob_client.post(f"/jobs/{job.pk}/cancel/").status_code == 403
    assert bob_client.post(f"/jobs/{job.pk}/retry/").status_code == 403
    job.refresh_from_db()
    assert job.status == "queued" and not job.cancel_requested


def test_a_judge_is_sent_away_from_the_admin(bob_client):
    response = bob_client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert bob_client.get("/admin/core/job/").status_code == 302


def test_an_anonymous_user_is_sent_to_log_in(client, job):
    for url in staff_urls(job):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_staff_see_job_pages_and_live_status(alice_client, job):
    assert alice_client.get("/jobs/").status_code == 200
    page = alice_client.get(f"/jobs/{job.pk}/")
    assert page.status_code == 200 and b"data-job-status-url" in page.content
    status = alice_client.get(f"/jobs/{job.pk}/status.json").json()
    assert status["status"] == "queued" and status["id"] == job.pk


def test_staff_cancel_a_queued_job_from_the_job_page(alice_client, job):
    response = alice_client.post(f"/jobs/{job.pk}/cancel/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"


def test_a_judge_landing_on_home_is_not_shown_the_staff_dashboard(bob_client):
    response = bob_client.get("/", follow=True)
    assert response.status_code == 200
    assert b"Active jobs" not in response.content


def test_forms_are_csrf_protected(alice, job):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(f"/jobs/{job.pk}/cancel/").status_code == 403
