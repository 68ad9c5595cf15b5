"""The PostgreSQL connection dies in the middle of a judge's submit (after the judgment row was inserted,
before its revision): the judge gets a clear 503 page or JSON error, nothing of the submit is stored, and
sending the same form again stores it exactly once."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Judgment, JudgmentRevision
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import make_session
from tests.hardening.dbfaults import require_postgres, terminate_current_backend


class _DropBeforeRevision:
    """Stands in for JudgmentRevision in the judging service: the first create() finds its connection gone."""

    def __init__(self) -> None:
        self.fired = 0
        real = JudgmentRevision.objects
        outer = self

        class Manager:
            def __getattr__(self, name):
                return getattr(real, name)

            def create(self, **kwargs):
                if not outer.fired:
                    outer.fired += 1
                    terminate_current_backend()
                return real.create(**kwargs)

        self.objects = Manager()


@pytest.fixture
def judge_world(transactional_db, bob):
    require_postgres()
    session = make_session(n=2, k=1, judges=[bob])
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    return session, client


FORM = {"left_label": "correct", "right_label": "incorrect", "preference": "left", "submission_id": "retry-me"}


def test_a_page_submit_that_loses_the_database_gets_a_clear_503_and_stores_nothing(judge_world, bob, monkeypatch):
    session, client = judge_world
    token = assigning.next_assignment(session, bob).token
    monkeypatch.setattr(judging, "JudgmentRevision", _DropBeforeRevision())

    response = client.post(reverse("annotation:judge-item", args=[token]), FORM)

    assert response.status_code == 503
    body = response.content.decode()
    assert "database" in body.lower() and "try again" in body.lower()
    assert "Traceback" not in body and "OperationalError" not in body
    assert response["Retry-After"]
    assert Judgment.objects.count() == 0 and JudgmentRevision.objects.count() == 0  # the insert was rolled back

    monkeypatch.undo()
    again = client.post(reverse("annotation:judge-item", args=[token]), FORM)
    assert again.status_code == 302
    assert Judgment.objects.filter(assignment__token=token).count() == 1
    assert JudgmentRevision.objects.filter(submission_id="retry-me").count() == 1


def test_an_api_submit_that_loses_the_database_gets_a_json_503_and_a_retry_stores_once(judge_world, bob, monkeypatch):
    session, client = judge_world
    token = assigning.next_assignment(session, bob).token
    monkeypatch.setattr(judging, "JudgmentRevision", _DropBeforeRevision())
    url = reverse("annotation:api-assignment", args=[token])

    response = client.post(url, json.dumps(FORM), content_type="application/json")

    assert response.status_code == 503
    assert "database" in response.json()["error"].lower()
    assert Judgment.objects.count() == 0

    monkeypatch.undo()
    for _ in range(2):  # the judge's client retries, perhaps twice: one judgment, one revision
        again = client.post(url, json.dumps(FORM), content_type="application/json")
        assert again.status_code == 200 and again.json()["stored"] is True
    assert Judgment.objects.filter(assignment__token=token).count() == 1
    assert JudgmentRevision.objects.filter(submission_id="retry-me").count() == 1
