"""Raw exports follow the statistics' rule on excluded judges (``judge_policy.excluded_judges``): judges the
figures leave out (screened out, or below the control threshold once staff flip the switch) are left out of
the judgments table, the API's judgment pages, the items' judgment counts and the K-system ranking tables;
``?excluded=include`` brings their judgment rows back, each flagged with ``counted`` false and the reason."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from analysis.services import judge_policy, ranking
from annotation.models import Judgment
from tests.analysis.recruit_world import recruited_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(bob):
    session, good, sloppy, _screened = recruited_world(bob)
    return session, good.user, sloppy.user


def _exclude_below_threshold(session) -> None:
    policy = judge_policy.policy_for(session)
    policy.exclude_below_threshold = True
    policy.save()


def _csv(client, session, table: str, query: str = "") -> tuple[list[dict], object]:
    response = client.get(reverse("api:session-export", args=[session.pk, table, "csv"]) + query)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text))), response


def _api_judgments(client, session, query: str = "") -> list[dict]:
    response = client.get(reverse("api:session-judgments", args=[session.pk]) + query)
    assert response.status_code == 200
    return json.loads(response.content)["results"]


def test_with_the_switch_off_every_judgment_is_exported_and_counted(world, alice_client):
    session, good, sloppy = world

    rows, response = _csv(alice_client, session, "judgments")

    assert len(rows) == Judgment.objects.filter(session=session).count()
    assert {row["counted"] for row in rows} == {"True"} and {row["excluded_reason"] for row in rows} == {""}
    assert response["X-Excluded-Judges"] == "1 left out, as in the statistics"  # the screened-out judge


def test_judges_the_statistics_exclude_are_left_out_of_the_raw_exports(world, alice_client):
    session, good, sloppy = world
    _exclude_below_threshold(session)
    n_good = Judgment.objects.filter(session=session, judge=good).count()
    assert Judgment.objects.filter(session=session, judge=sloppy).exists()

    rows, response = _csv(alice_client, session, "judgments", "?judges=usernames")
    assert len(rows) == n_good and {row["judge"] for row in rows} == {good.username}
    assert response["X-Excluded-Judges"] == "2 left out, as in the statistics"
    for fmt in ("jsonl", "parquet"):
        assert alice_client.get(reverse("api:session-export", args=[session.pk, "judgments", fmt])).status_code == 200

    api_rows = _api_judgments(alice_client, session, "?judges=usernames")
    assert [row["judge"] for row in api_rows] == [good.username] * n_good

    items, _ = _csv(alice_client, session, "items")
    assert sum(int(row["n_judgments"]) for row in items) == n_good

    arrays = ranking.ranking_arrays(session)
    assert len(arrays["item"]) == n_good and set(arrays["judge"].tolist()) == {0}


def test_the_sessions_judgment_count_in_the_api_counts_what_the_statistics_count(world, alice_client):
    session, good, sloppy = world
    detail = reverse("api:session-detail", args=[session.pk])
    screened = Judgment.objects.filter(session=session).exclude(judge__in=[good, sloppy]).count()
    every = Judgment.objects.filter(session=session).count()

    row = json.loads(alice_client.get(detail).content)
    assert (row["n_judgments"], row["n_excluded_judges"]) == (every - screened, 1)  # the screened-out judge

    _exclude_below_threshold(session)
    row = json.loads(alice_client.get(detail).content)
    n_good = Judgment.objects.filter(session=session, judge=good).count()
    assert (row["n_judgments"], row["n_excluded_judges"]) == (n_good, 2)
    listed = json.loads(alice_client.get(reverse("api:session-list")).content)["results"]
    assert [(r["n_judgments"], r["n_excluded_judges"]) for r in listed if r["id"] == session.pk] == [(n_good, 2)]


def test_asking_for_excluded_judges_brings_their_rows_back_flagged(world, alice_client):
    session, good, sloppy = world
    _exclude_below_threshold(session)

    rows, response = _csv(alice_client, session, "judgments", "?judges=usernames&excluded=include")

    assert len(rows) == Judgment.objects.filter(session=session).count()
    by_judge = {row["judge"]: (row["counted"], row["excluded_reason"]) for row in rows}
    assert by_judge[good.username] == ("True", "")
    counted, reason = by_judge[sloppy.username]
    assert counted == "False" and reason.startswith("control accuracy 0/") and "below the threshold" in reason
    assert response["X-Excluded-Judges"] == "2 included, flagged (counted=false)"
    assert "-with-excluded.csv" in response["Content-Disposition"]
    api_rows = _api_judgments(alice_client, session, "?judges=usernames&excluded=include")
    assert {(row["judge"], row["counted"]) for row in api_rows} == {(good.username, True), (sloppy.username, False)}


def test_the_statistics_page_offers_the_flagged_download(world, alice_client):
    session = world[0]
    html = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    assert "?excluded=include" in html and "with excluded judges" in html


def test_the_per_item_table_marks_excluded_judges_and_leaves_them_out_of_the_majority(world, alice_client):
    session, good, sloppy = world
    _exclude_below_threshold(session)

    response = alice_client.get(reverse("analysis:session-item-table", args=[session.pk]))

    table = response.context["table"]
    assert f"{sloppy.username} (left out)" in table.judges and good.username in table.judges
    labels = {j.item_id: j.label_a for j in Judgment.objects.filter(session=session, judge=good)}
    counted = Judgment.objects.filter(session=session).exclude(judge=sloppy)
    for row in table.rows:
        assert row.n_judgments == counted.filter(item=row.item).count()
        if row.item.pk in labels:
            assert row.majority_a == labels[row.item.pk] and not row.disagreement
