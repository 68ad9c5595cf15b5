"""SQLite's one-statement submit (migration 0013): an INSERT into a view whose trigger writes the slot, the
judgment and its revision. What it must keep: all or nothing, the guard, and surviving Django's table rebuilds
(which drop a table's own triggers; these belong to the views)."""

from __future__ import annotations

import importlib

import pytest
from django.db import IntegrityError, OperationalError, connection

from annotation.models import Assignment, Judgment, JudgmentRevision
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer, make_session

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sqlite_smoke]


@pytest.fixture(autouse=True)
def _sqlite_only():
    if connection.vendor != "sqlite":
        pytest.skip("the view and its trigger exist on SQLite only (PostgreSQL uses a data-modifying CTE)")


def _migration_0013():
    return importlib.import_module("annotation.migrations.0013_sqlite_submit_in_one_statement")


def test_a_table_rebuild_under_the_trigger_fails_loudly_and_works_between_drop_and_create(bob):
    """Django rebuilds a SQLite table to alter it, and SQLite then re-checks every trigger: a later migration
    must drop the submit's views first and create them after (0013's DROP and VIEWS_AND_TRIGGERS)."""
    session = make_session(n=2, k=1, judges=[bob])
    migration = _migration_0013()
    with pytest.raises(OperationalError, match="annotation_submit_first_writes"), connection.schema_editor() as editor:
        editor._remake_table(Assignment)
    with connection.schema_editor() as editor:
        for statement in migration.DROP:
            editor.execute(statement)
        for model in (Assignment, Judgment, JudgmentRevision):
            editor._remake_table(model)
        for statement in migration.VIEWS_AND_TRIGGERS:
            editor.execute(statement)
    slot = assigning.next_assignment(session, bob)
    result = judging.submit(slot.token, bob, answer(submission_id="after-rebuild"))
    assert result.created
    slot.refresh_from_db()
    assert slot.submitted_at is not None and slot.lease_expires_at is None
    assert JudgmentRevision.objects.get().judgment_id == result.judgment.pk == Judgment.objects.get().pk


def test_a_failed_insert_undoes_the_slot_it_closed(bob):
    session = make_session(n=2, k=1, judges=[bob])
    slot = assigning.next_assignment(session, bob)
    change = judging._Change(slot, bob, "correct", "incorrect", "a", answer(submission_id="x"), 5, slot.assigned_at)
    params = change.params(1)
    with connection.cursor() as cursor:  # the last of the trigger's three writes fails
        cursor.execute("CREATE TEMP TRIGGER fail_revision BEFORE INSERT ON annotation_judgmentrevision "
                       "BEGIN SELECT RAISE(ABORT, 'refused for the test'); END")  # fmt: skip
    try:
        with pytest.raises(IntegrityError):
            judging._single_statement(judging._FIRST_SQLITE.format(**judging._tables()), params)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER fail_revision")
    slot.refresh_from_db()
    assert slot.submitted_at is None and slot.lease_expires_at is not None
    assert not Judgment.objects.exists() and not JudgmentRevision.objects.exists()


def test_the_guard_writes_nothing_for_a_token_that_is_no_longer_the_judges(bob):
    session = make_session(n=2, k=1, judges=[bob])
    slot = assigning.next_assignment(session, bob)
    change = judging._Change(slot, bob, "correct", "incorrect", "a", answer(submission_id="x"), 5, slot.assigned_at)
    params = {**change.params(1), "token": "someone-elses"}
    rows = judging._single_statement(judging._FIRST_SQLITE.format(**judging._tables()), params)
    assert rows == []
    slot.refresh_from_db()
    assert slot.submitted_at is None
    assert not Judgment.objects.exists() and not JudgmentRevision.objects.exists()
