"""On PostgreSQL the judging hot path's hand-written statements are prepared on their connection (issue 12:
planning them was about half of the database's CPU per judged item at saturation); the ORM's statements are
not, and a threshold of None (DB_PREPARE_THRESHOLD=off, for a pooler that drops prepared statements) leaves
every statement unprepared."""

from __future__ import annotations

import json

import psycopg
import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.sql_rows import hot_cursor
from tests.annotation.helpers import make_session
from tests.conftest import make_user

VOTE = {"left_label": "correct", "right_label": "incorrect", "preference": "left"}


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's; SQLite's hot path has none to skip planning for")


def _prepared() -> list[str]:
    """This connection's prepared statements (psycopg prepares at the protocol level: pg_prepared_statements
    lists them for the backend that holds them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _judge_items(client, judge, n: int) -> None:
    session = make_session(n=n + 2, k=1, judges=[judge])
    next_url = reverse("annotation:api-next", args=[session.pk])
    for _ in range(n):
        shown = client.post(next_url).json()
        url = reverse("annotation:api-assignment", args=[shown["token"]])
        response = client.post(url, data=json.dumps(VOTE), content_type="application/json")
        assert response.status_code == 200, response.content


@pytest.fixture
def judge_client(transactional_db, client):
    connection.close()  # a fresh connection: nothing prepared on it yet
    judge = make_user("prepared-judge", judge=True)
    client.force_login(judge)
    yield client, judge
    connection.close()  # the next test's connection comes with the configured threshold again


def test_the_lease_page_and_submit_statements_are_prepared_after_a_few_judged_items(judge_client):
    client, judge = judge_client
    _judge_items(client, judge, 4)
    for _ in range(4):  # an ORM query run as often
        assert User.objects.filter(username="prepared-judge").count() == 1
    prepared = _prepared()
    assert any("UPDATE" in s and "annotation_assignment" in s for s in prepared), prepared  # the lease
    assert any(s.lstrip().startswith("WITH") and "annotation_judgment" in s for s in prepared), prepared  # submit
    # only the hand-written ones: the ORM's statements bind on the client and never prepare
    assert not any('"auth_user"."username"' in s for s in prepared), prepared
    # and preparing is on only while a hot statement runs: with it on, psycopg would keep the text of every ORM
    # statement, values included (the last 100 per connection)
    assert connection.connection.prepare_threshold is None


def test_a_threshold_of_none_prepares_nothing(judge_client, settings):
    client, judge = judge_client
    settings.DB_PREPARE_THRESHOLD = None
    with hot_cursor() as cursor:
        assert isinstance(cursor.cursor, psycopg.ClientCursor)  # as the ORM's: parameters bound on the client
    _judge_items(client, judge, 4)
    assert _prepared() == []


def test_a_prepared_statement_is_still_logged_with_its_values(judge_client):
    """Django asks psycopg what it last sent, and a prepared execution leaves nothing to ask: the log (DEBUG,
    query counting) would read None. It reads the statement as a client-side cursor would have sent it."""
    client, judge = judge_client
    _judge_items(client, judge, 3)  # the statements are prepared by now
    with CaptureQueriesContext(connection) as captured:
        _judge_items(client, judge, 1)
    logged = [q["sql"] for q in captured.captured_queries]
    assert None not in logged and all(isinstance(sql, str) and sql for sql in logged), logged
    assert any("annotation_assignment" in sql and "%(" not in sql for sql in logged), logged
