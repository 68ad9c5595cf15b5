"""Sessions with many systems: the ranking is computed by an "analysis.ranking" job, not in the request; the
page shows progress, then the stored ranking; exports answer 409 until it is ready; small sessions stay inline."""

from __future__ import annotations

import dataclasses

import pytest
from django.core.cache import cache
from django.urls import reverse

from analysis.models import SessionStatistics
from analysis.services import ranking
from annotation.models import JudgingSession, MatchupDesign
from annotation.services.assignment import adaptive_intervals, next_assignment
from annotation.services.judging import Submission, submit
from annotation.services.sessions import ItemData, create_session
from core.models import Job
from core.services.jobs import run_job
from tests.conftest import keep_jobs_here

pytestmark = pytest.mark.django_db(transaction=True)  # the job runs with its own heartbeat connection

SYSTEMS = [f"cell-{s}" for s in range(4)]


@pytest.fixture
def in_process(monkeypatch):
    """Ranking jobs go to a queue no worker consumes, so this test runs them itself (as the statistics job tests do)."""
    keep_jobs_here(monkeypatch, ranking.JOB_KIND)


def judged_k_session(alice, *, n: int = 4):
    """Four systems, every pair of every item judged once by alice: the lower-numbered system wins, except a tie
    where (item id + both systems) % 3 == 0, which over 4 consecutive item ids happens for every pair at least
    once, so no group of systems never lost and every strength is finite."""
    session = create_session(
        name="grid",
        system_a=SYSTEMS[0],
        system_b=SYSTEMS[1],
        more_systems=SYSTEMS[2:],
        items=[ItemData.from_answers(f"Q{i}?", [f"answer {s} {i}" for s in range(4)]) for i in range(n)],
        judges=[alice],
        matchup_design=MatchupDesign.ALL_PAIRS,
    )
    while (assignment := next_assignment(session, alice)) is not None:
        low_left = (assignment.system_a < assignment.system_b) != assignment.swapped
        tie = (assignment.item_id + assignment.system_a + assignment.system_b) % 3 == 0
        preference = "tie" if tie else ("left" if low_left else "right")
        submit(
            assignment.token, alice, Submission(left_label="correct", right_label="incorrect", preference=preference)
        )
    return session


def test_many_systems_send_the_ranking_to_a_job_and_the_page_shows_it_when_done(
    monkeypatch, in_process, alice, alice_client
):
    session = judged_k_session(alice)
    monkeypatch.setattr(ranking, "PAIR_REPLICATE_BUDGET", 6 * ranking.DEFAULT_REPLICATES - 1)  # 4 systems: too many
    url = reverse("analysis:session-ranking", args=[session.pk])
    waiting = alice_client.get(url).content.decode()
    job = Job.objects.get(kind=ranking.JOB_KIND)
    assert "Ranking 4 systems from 24 judgments in the background" in waiting
    assert f'href="{job.get_absolute_url()}"' in waiting and 'http-equiv="refresh"' in waiting
    assert 'id="ranking-table"' not in waiting
    alice_client.get(url)  # a second view while it is queued starts no second job
    assert Job.objects.filter(kind=ranking.JOB_KIND).count() == 1
    export = alice_client.get(reverse("api:session-export", args=[session.pk, "ranking", "csv"]))
    assert export.status_code == 409 and export.json()["status"] == "computing"

    assert run_job(job.pk) == "succeeded"
    # The adaptive matchup design in any other process (web workers) sees the job's intervals: they are on the
    # session row, not in a per-process cache.
    cache.clear()
    intervals = adaptive_intervals(JudgingSession.objects.get(pk=session.pk))
    assert intervals is not None and intervals.shape == (4, 2) and (intervals[:, 0] <= intervals[:, 1]).all()
    stored = SessionStatistics.objects.get(session=session, variant=ranking.variant_key(ranking.DEFAULT_REPLICATES))
    assert stored.n_judgments == 24 and stored.job_id == job.pk
    table = ranking.ranking_table(stored.result, {})
    assert sorted(row["system"] for row in table) == SYSTEMS and all(row["strength"] is not None for row in table)
    page = alice_client.get(url).content.decode()
    assert 'id="ranking-table"' in page and "in the background" not in page
    export = alice_client.get(reverse("api:session-export", args=[session.pk, "ranking", "csv"]))
    assert export.status_code == 200 and b"cell-0" in b"".join(export.streaming_content)
    again = Job.objects.create(kind=ranking.JOB_KIND, params=job.params, queue="no-worker-here")
    assert run_job(again.pk) == "succeeded"  # a retry on unchanged judgments recomputes nothing
    again.refresh_from_db()
    assert again.result["already_current"] is True
    assert SessionStatistics.objects.get(pk=stored.pk).computed_at == stored.computed_at


def test_a_small_k_session_is_ranked_inline_and_stored_once(alice, alice_client):
    session = judged_k_session(alice)
    page = alice_client.get(reverse("analysis:session-ranking", args=[session.pk])).content.decode()
    assert 'id="ranking-table"' in page and not Job.objects.filter(kind=ranking.JOB_KIND).exists()
    row = SessionStatistics.objects.get(session=session, variant=ranking.variant_key(ranking.DEFAULT_REPLICATES))
    computed_at = row.computed_at
    alice_client.get(reverse("analysis:session-ranking", args=[session.pk]))
    row.refresh_from_db()
    assert row.computed_at == computed_at  # unchanged judgments: served from the stored row


def test_the_budget_sends_fifty_systems_to_a_job_and_keeps_eight_inline():
    """The rule itself: pairs x replicates against the budget (the bench's 50 systems go to a job)."""

    @dataclasses.dataclass
    class Sized:
        n_systems: int

    assert ranking.cheap_enough(Sized(8), 1_000, 1_000)
    assert not ranking.cheap_enough(Sized(50), 1_000, 1_000)
