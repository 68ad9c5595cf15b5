"""Cutting this process's PostgreSQL connection from the server side, as a restart, a failover or an
idle-session killer would: `pg_terminate_backend` run from a second connection."""

from __future__ import annotations

import pytest
from django.db import connection


def require_postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("pg_terminate_backend needs PostgreSQL (DATABASE_URL=postgres://...)")


def terminate_current_backend() -> int:
    """Kill the server process behind Django's connection in this thread; returns its pid."""
    import psycopg

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        host=db.get("HOST") or "127.0.0.1",
        port=db.get("PORT") or 5432,
        user=db.get("USER") or "postgres",
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=True,
    ) as admin:
        killed = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    assert killed, f"backend {pid} was not terminated"
    return pid
