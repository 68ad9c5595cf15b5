"""Judgments per system pair of a session, for the adaptive matchup design, kept in memory per process and
brought up to date from the judgments newer than the last one counted.

Why: the adaptive rule (qasynth_lib.matchups.next_pair) needs the counts at every first lease of a slot, and
counting all of a session's judgments each time grew with the session: with K = 8 systems a judged item cost
1.8-2.2x the CPU of a two-system session on PostgreSQL. A delta read (judgments with a larger id) costs the
same whatever the session's size, and on PostgreSQL folds into the adaptive lease's one statement
(hot_queries.lease_new_adaptive).

How stale: a judgment committed after a larger id was already counted (two submits racing), or one deleted
later, is missed or kept until the entry is rebuilt from scratch, at most REBUILD_SECONDS after it was built.
The counts steer which pair is shown next; statistics never read them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from django.db import connection
from django.db.models import Count, Max

from annotation.models import JudgingSession, Judgment

REBUILD_SECONDS = 60.0
# How old counts may be for the adaptive rule to decide with them as they are; older ones are brought up to
# date by a read first. On PostgreSQL each adaptive lease reads the judgments newer than its watermark in the
# lease statement itself, so a process that leases often decides with counts at most one of its leases old.
FRESH_SECONDS = 1.0


@dataclass
class _Entry:
    key: tuple[object, ...]
    watermark: int
    counts: np.ndarray
    built: float
    updated: float = 0.0


_entries: dict[int, _Entry] = {}
_lock = threading.Lock()


def _key(session: JudgingSession) -> tuple[object, ...]:
    # A test database, or a session deleted and its id reused, must not inherit another session's counts.
    return (connection.settings_dict.get("NAME"), session.pk, session.created_at, session.n_systems)


def watermark(session: JudgingSession) -> int:
    """Count the judgments with an id above this (0: all of them, when there is no fresh entry)."""
    with _lock:
        entry = _entries.get(session.pk)
        if entry is None or entry.key != _key(session) or time.monotonic() - entry.built > REBUILD_SECONDS:
            return 0
        return entry.watermark


def recent(session: JudgingSession, max_age: float | None = None) -> tuple[int, np.ndarray] | None:
    """(watermark, counts) if this process brought the counts up to date less than `max_age` seconds ago
    (default FRESH_SECONDS), else None."""
    max_age = FRESH_SECONDS if max_age is None else max_age
    with _lock:
        entry = _entries.get(session.pk)
        now = time.monotonic()
        if entry is None or entry.key != _key(session) or now - entry.built > REBUILD_SECONDS:
            return None
        if now - entry.updated >= max_age:
            return None
        return entry.watermark, entry.counts.copy()


def up_to_date(
    session: JudgingSession, read: Callable[[int], Iterable[tuple[int, int, int, int]]], max_age: float | None = None
) -> tuple[int, np.ndarray]:
    """(watermark, counts): recent() ones, else brought up to date first by `read(after)`, which returns the
    (system_a, system_b, count, newest id) of the judgments with id > after."""
    known = recent(session, max_age)
    if known is not None:
        return known
    after = watermark(session)
    counts = counts_after(session, after, read(after))
    return recent(session, float("inf")) or (0, counts)


def counts_after(session: JudgingSession, after: int, rows: Iterable[tuple[int, int, int, int]]) -> np.ndarray:
    """The session's symmetric (K, K) counts, given `rows` = (system_a, system_b, count, newest id) of its
    judgments with id > `after` (the value watermark() gave); a copy the caller may keep."""
    k = session.n_systems
    with _lock:
        entry = _entries.get(session.pk)
        if after == 0:  # rows hold every judgment: (re)build
            entry = _entries[session.pk] = _Entry(_key(session), 0, np.zeros((k, k)), time.monotonic())
        elif entry is None or entry.key != _key(session) or entry.watermark != after:
            # Another thread of this process moved the entry on (or dropped it) between the two calls: its
            # counts are as fresh as this delta, which may overlap them, so they stand unchanged.
            if entry is not None and entry.key == _key(session):
                return entry.counts.copy()
            return count_all(session)  # dropped meanwhile (forget()): count once, the slow way
        entry.watermark = max(entry.watermark, _add(entry.counts, rows))
        entry.updated = time.monotonic()
        return entry.counts.copy()


def _add(counts: np.ndarray, rows: Iterable[tuple[int, int, int, int]]) -> int:
    """Add (system_a, system_b, count, newest id) rows to the symmetric counts; the newest id seen (0: none)."""
    newest_seen = 0
    for a, b, n, newest in rows:
        counts[a, b] += n
        counts[b, a] += n
        newest_seen = max(newest_seen, int(newest))
    return newest_seen


def _rows_after(session: JudgingSession, after: int) -> list[tuple[int, int, int, int]]:
    """Through the ORM, what hot_queries.judgments_by_pair_after reads in SQL: judgments with id > after, by pair."""
    rows = (
        Judgment.objects.filter(session=session, pk__gt=after)
        .values_list("system_a", "system_b")
        .annotate(n=Count("pk"), newest=Max("pk"))
        .order_by()
    )
    return list(rows)


def count_all(session: JudgingSession) -> np.ndarray:
    """Every judgment of the session counted by pair (what the entries must equal; also the fallback)."""
    k = session.n_systems
    counts = np.zeros((k, k))
    _add(counts, _rows_after(session, 0))
    return counts


def forget() -> None:
    """Drop every entry (tests that rewrite judgments behind the service's back)."""
    with _lock:
        _entries.clear()


def session_counts(session: JudgingSession) -> np.ndarray:
    """The counts through the ORM (the long path's lease, which holds no token yet): a delta read after the
    watermark, as on the hot path."""
    after = watermark(session)
    return counts_after(session, after, _rows_after(session, after))
