"""50 judges at once on PostgreSQL: every item ends with exactly k judgments from k different judges."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from annotation.models import JudgmentRevision
from tests.annotation.concurrency import assert_exactly_k_per_item, drain_concurrently
from tests.annotation.helpers import make_session
from tests.conftest import make_user

pytestmark = [pytest.mark.slow]


@pytest.fixture
def on_postgres(transactional_db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL); the SQLite variant is test_concurrent_judges_sqlite")


def test_fifty_concurrent_judges_drain_a_session_with_k_3(on_postgres, caplog):
    judges = [make_user(f"judge{i:02d}", judge=True) for i in range(50)]
    session = make_session(n=60, k=3, judges=judges, block_size=10)
    with caplog.at_level(logging.WARNING, logger="annotation.services.assignment"):
        report = drain_concurrently(session, judges)
    assert report.errors == []
    assert sum(report.judged.values()) == 180
    assert_exactly_k_per_item(session, 3)
    assert JudgmentRevision.objects.filter(judgment__session=session).count() == 180
    assert max(report.judged.values()) <= 60
    assert not [r for r in caplog.records if "attempt" in r.getMessage()], "leasing needed retries"
