"""API pages: judgments and items come in pages of PAGE_SIZE, in id order, every row exactly once."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.models import Judgment
from tests.analysis.stats_helpers import judge_session, make_judges
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def small_pages(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "PAGE_SIZE": 4}


def collect(client: APIClient, url: str, **params) -> tuple[list[dict], int, int]:
    rows, pages = [], 0
    response = client.get(url, params).json()
    count = response["count"]
    while True:
        pages += 1
        rows += response["results"]
        if not response["next"]:
            return rows, count, pages
        response = client.get(response["next"]).json()


def test_judgments_and_items_are_paginated_without_gaps_or_repeats(small_pages, alice):
    judges = make_judges(2, prefix="rater")
    session = make_session(n=7, k=2, judges=judges)
    judge_session(session, judges, lambda item, judge: ("partial", "correct", "b"))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")

    rows, count, pages = collect(client, reverse("api:session-judgments", args=[session.pk]))
    assert count == 14 and pages == 4 and len(rows) == 14
    assert [row["judgment_id"] for row in rows] == list(
        Judgment.objects.filter(session=session).order_by("pk").values_list("pk", flat=True)
    )
    assert {row["label_a"] for row in rows} == {"partial"} and {row["preference"] for row in rows} == {"b"}
    assert all(row["judge"].startswith("judge-") for row in rows)  # pseudonyms, not the "rater-" usernames

    named, _, _ = collect(client, reverse("api:session-judgments", args=[session.pk]), judges="usernames")
    assert {row["judge"] for row in named} == {judge.username for judge in judges}

    items, count, pages = collect(client, reverse("api:session-items", args=[session.pk]))
    assert count == 7 and pages == 2
    assert [row["item_id"] for row in items] == list(session.items.order_by("pk").values_list("pk", flat=True))
    assert all(row["n_judgments"] == 2 for row in items)


def test_the_default_page_size_is_500(alice):
    judges = make_judges(1)
    session = make_session(n=3, k=1, judges=judges)
    client = APIClient()
    client.force_authenticate(alice)
    from django.conf import settings

    assert settings.REST_FRAMEWORK["PAGE_SIZE"] == 500
    response = client.get(reverse("api:session-items", args=[session.pk])).json()
    assert response["count"] == 3 and response["next"] is None and len(response["results"]) == 3


def test_a_notebook_may_ask_for_bigger_pages_up_to_a_limit(small_pages, alice):
    judges = make_judges(1)
    session = make_session(n=9, k=1, judges=judges)
    client = APIClient()
    client.force_authenticate(alice)
    url = reverse("api:session-items", args=[session.pk])
    assert len(client.get(url).json()["results"]) == 4
    assert len(client.get(url, {"page_size": 9}).json()["results"]) == 9
