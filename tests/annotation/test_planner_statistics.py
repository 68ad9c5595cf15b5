"""A big session's slots are followed by ANALYZE on PostgreSQL, so the judging queries are planned with
statistics that know them (without, the K-system progress count ran a nested loop per open slot)."""

from __future__ import annotations

import pytest
from django.db import connection

from annotation.models import Assignment
from annotation.services import sessions
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db(transaction=True)


def _estimated_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [Assignment._meta.db_table])
        return cursor.fetchone()[0]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("ANALYZE is PostgreSQL's; SQLite plans these queries without statistics")


def test_a_bulk_load_of_slots_is_analyzed_once_committed(monkeypatch):
    monkeypatch.setattr(sessions, "ANALYZE_AFTER_SLOTS", 40)
    make_session(n=5, k=2)  # 10 slots: under the threshold
    small = _estimated_rows()
    make_session(n=20, k=2)  # 40 more
    assert _estimated_rows() >= 50 > small  # the estimate counts both sessions' slots: ANALYZE ran
