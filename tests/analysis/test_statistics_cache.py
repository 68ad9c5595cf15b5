"""Stored statistics are reused until the judgments change: a new judgment or an edit makes them stale."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analysis.models import SessionStatistics
from analysis.services import statistics
from annotation.models import Judgment
from tests.analysis.stats_helpers import judge_session, make_judges, rejudge
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def computations(monkeypatch):
    """Counts real computations (the stored result is served without one)."""
    calls = []
    original = statistics.compute

    def counting(session, variant, progress=None):
        calls.append(session.pk)
        return original(session, variant, progress)

    monkeypatch.setattr(statistics, "compute", counting)
    return calls


def test_the_page_reuses_stored_statistics_until_a_new_judgment_arrives(alice_client, computations):
    judges = make_judges(3)
    session = make_session(n=4, k=3, judges=judges)
    judge_session(session, judges[:2], lambda item, judge: ("correct", "incorrect", "a"))
    url = reverse("analysis:session-stats", args=[session.pk])
    first = alice_client.get(url).content.decode()
    alice_client.get(url)
    assert len(computations) == 1
    assert "Computed from all 8 current judgments" in first
    stored = SessionStatistics.objects.get(session=session)
    assert stored.n_judgments == 8 and stored.fingerprint == statistics.fingerprint(session).key

    judge_session(session, judges[2:], lambda item, judge: ("partial", "incorrect", "tie"))  # 4 more
    after = alice_client.get(url).content.decode()
    assert len(computations) == 2
    assert "Computed from all 12 current judgments" in after
    stored.refresh_from_db()
    assert stored.n_judgments == 12 and SessionStatistics.objects.count() == 1


def test_an_edited_judgment_makes_the_stored_statistics_stale(computations):
    judges = make_judges(2)
    session = make_session(n=3, k=2, judges=judges)
    judge_session(session, judges, lambda item, judge: ("correct", "correct", "tie"))
    before = statistics.statistics_for(session).row.fingerprint
    assert statistics.statistics_for(session).fresh and len(computations) == 1
    rejudge(Judgment.objects.filter(session=session).first(), "incorrect", "correct", "b")
    after = statistics.statistics_for(session)
    assert len(computations) == 2 and after.fresh
    assert after.row.fingerprint != before  # same number of judgments, a later update
    assert after.result["accuracy"][session.system_a]["by_judgment"]["correct"]["successes"] == 5


def test_renaming_a_system_or_adding_items_changes_the_fingerprint():
    session = make_session(n=2, k=1)
    first = statistics.fingerprint(session)
    session.system_a = "a better name"
    session.save()
    renamed = statistics.fingerprint(session)
    assert renamed.key != first.key
    from annotation.services.sessions import add_items
    from tests.annotation.helpers import items

    add_items(session, items(1))
    assert statistics.fingerprint(session).key != renamed.key
