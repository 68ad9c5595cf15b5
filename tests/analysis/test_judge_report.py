"""The judges' report: active time from the server's time on item (capped at the lease) plus the qualification,
items done, control accuracy, estimated pay at the staff-set rate; a CSV with worker ids pseudonymised; and the
one switch that leaves judges below the control threshold out of every statistic (screened-out judges never
count)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from analysis.services import judge_policy, judge_report, statistics
from annotation.models import Judgment
from tests.analysis.recruit_world import recruited_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(bob):
    return recruited_world(bob)


def test_the_report_has_time_items_control_accuracy_status_and_pay(world):
    session, good, sloppy, screened = world
    report = judge_report.judge_report(session)
    rows = {row.user_id: row for row in report.rows}
    g, s, x = rows[good.user_id], rows[sloppy.user_id], rows[screened.user_id]
    n_good = Judgment.objects.filter(judge=good.user).count()
    assert g.items_done + g.control_items_done == n_good and g.control_items_done >= 1
    qualification_seconds = sum((a.answered_at - a.shown_at).total_seconds() for a in good.qualification_answers.all())
    assert g.active_seconds == pytest.approx(30 * n_good + qualification_seconds, abs=0.01)
    assert g.pay == (Decimal(str(g.active_seconds)) / 3600 * 12).quantize(Decimal("0.01"))
    n_sloppy = Judgment.objects.filter(judge=sloppy.user).count()
    assert s.active_seconds >= 600 * n_sloppy and s.active_seconds < 600 * n_sloppy + 60
    assert g.control_accuracy == 1.0 and not g.flagged
    assert s.control_accuracy == 0.0 and s.flagged and not s.excluded_reason
    assert x.status == "screened out" and x.excluded_reason.startswith("screened out") and x.qualification == (0, 2)
    assert g.qualification == (2, 2) and g.worker_id == "W-GOOD" and g.source == "open link (crowd)"
    assert report.total_pay == g.pay + s.pay + x.pay


def test_the_csv_pseudonymises_worker_ids_unless_staff_ask(world, alice_client):
    session = world[0]
    url = reverse("analysis:judge-report-csv", args=[session.pk])
    text = alice_client.get(url).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 4 and "W-GOOD" not in text and "invited-" not in text and "bob" not in text
    assert all(row["judge"].startswith("judge-") for row in rows)
    assert sum(row["worker"].startswith("worker-") for row in rows) == 3 and "study-77" not in text
    named = alice_client.get(url + "?judges=usernames").content.decode()
    assert "W-GOOD" in named and "study-77" in named and "bob" in named
    page = alice_client.get(reverse("analysis:judge-report", args=[session.pk])).content.decode()
    assert "W-SLOPPY" in page and "screened out" in page


def test_the_switch_leaves_judges_below_the_threshold_out_of_every_statistic(world, alice_client):
    session, good, sloppy, screened = world
    before = statistics.statistics_for(session, statistics.Variant(n_boot=50), inline=True).result
    assert {row["judge"] for row in before["judges"]} == {good.user_id, sloppy.user_id}
    assert [row["judge"] for row in before["excluded_judges"]] == [screened.user_id]
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    assert "screened out by the qualification block" in page and "flagged, not excluded" in page

    response = alice_client.post(reverse("analysis:judge-report", args=[session.pk]),
                                 {"exclude_below_threshold": "on", "hourly_rate": "12", "currency": "GBP"})  # fmt: skip
    assert response.status_code == 302 and judge_policy.policy_for(session).exclude_below_threshold
    after = statistics.statistics_for(session, statistics.Variant(n_boot=50)).result
    assert {row["judge"] for row in after["judges"]} == {good.user_id}
    reasons = {row["judge"]: row["reason"] for row in after["excluded_judges"]}
    assert reasons[sloppy.user_id].startswith("control accuracy 0/") and screened.user_id in reasons
    assert after["counts"]["n_judgments"] < before["counts"]["n_judgments"]
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    assert "control accuracy 0/" in page and "below the threshold" in page
