"""20 judges at once on the SQLite default: no "database is locked", no duplicate, nothing lost."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from annotation.models import JudgmentRevision
from tests.annotation.concurrency import assert_exactly_k_per_item, drain_concurrently
from tests.annotation.helpers import make_session
from tests.conftest import make_user

pytestmark = [pytest.mark.sqlite_smoke, pytest.mark.slow]


@pytest.fixture
def on_sqlite(transactional_db):
    if connection.vendor != "sqlite":
        pytest.skip("runs on the SQLite default (no DATABASE_URL); PostgreSQL has test_concurrent_judges_postgres")


def test_twenty_concurrent_judges_on_sqlite_get_no_lock_errors_and_no_duplicates(on_sqlite, caplog):
    judges = [make_user(f"judge{i:02d}", judge=True) for i in range(20)]
    session = make_session(n=30, k=3, judges=judges, block_size=10)
    with caplog.at_level(logging.WARNING, logger="annotation.services.assignment"):
        report = drain_concurrently(session, judges)
    assert report.errors == []
    assert sum(report.judged.values()) == 90
    assert_exactly_k_per_item(session, 3)
    assert JudgmentRevision.objects.filter(judgment__session=session).count() == 90
    assert not [r for r in caplog.records if "locked" in r.getMessage()], "SQLite reported 'database is locked'"
