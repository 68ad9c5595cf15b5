"""The PostgreSQL connection dies in the middle of a judge's submit (as its write runs: the one statement that
closes the slot and inserts the judgment and its revision): the judge gets a clear 503 page or JSON error,
nothing of the submit is stored, and sending the same form again stores it exactly once."""

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


def lose_the_connection_at_the_write(monkeypatch) -> None:
    """The connection dies as the submit writes: on PostgreSQL the write is one statement (close the slot, insert
    the judgment and its first revision), and the backend is terminated just before it runs."""
    real = judging._single_statement
    fired = []

    def dying(sql: str, params: dict) -> list[tuple]:
        if not fired:
            fired.append(sql)
            terminate_current_backend()
        return real(sql, params)

    monkeypatch.setattr(judging, "_single_statement", dying)


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
    lose_the_connection_at_the_write(monkeypatch)

    response = client.post(reverse("annotation:judge-item", args=[token]), FORM)

    assert response.status_code == 503
    body = response.content.decode()
    assert "database" in body.lower() and "try again" in body.lower()
    assert "Traceback" not in body and "OperationalError" not in body
    assert response["Retry-After"]
    assert Judgment.objects.count() == 0 and JudgmentRevision.objects.count() == 0  # nothing half-written

    monkeypatch.undo()
    again = client.post(reverse("annotation:judge-item", args=[token]), FORM)
    assert again.status_code == 302
    assert Judgment.objects.filter(assignment__token=token).count() == 1
    assert JudgmentRevision.objects.filter(submission_id="retry-me").count() == 1


def test_an_api_submit_that_loses_the_database_gets_a_json_503_and_a_retry_stores_once(judge_world, bob, monkeypatch):
    session, client = judge_world
    token = assigning.next_assignment(session, bob).token
    lose_the_connection_at_the_write(monkeypatch)
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
