"""Staff start a job from the admin and are taken to its live page."""

from __future__ import annotations

import pytest

from core.models import Job

pytestmark = pytest.mark.sqlite_smoke


def test_staff_create_a_countdown_job_from_the_admin(alice_client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = alice_client.post(
            "/admin/core/job/add/", {"kind": "countdown", "title": "try it", "params": '{"steps": 2}'}
        )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.kind == "countdown" and job.params == {"steps": 2} and job.created_by.username == "alice"
    assert job.status == "queued"


def test_the_admin_rejects_parameters_that_are_not_json(alice_client):
    response = alice_client.post("/admin/core/job/add/", {"kind": "countdown", "params": "{steps: 2"})
    assert response.status_code == 200
    assert b"Parameters are not valid JSON" in response.content
    assert not Job.objects.exists()
