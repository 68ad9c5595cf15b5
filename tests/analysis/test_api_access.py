"""API and exports: staff tokens read everything, a judge's token gets 403, no credentials get 401."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.analysis.stats_helpers import judge_session, make_judges
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def session():
    judges = make_judges(2)
    session = make_session(n=3, k=2, judges=judges)
    judge_session(session, judges, lambda item, judge: ("correct", "incorrect", "a"))
    return session


def urls(pk: int) -> list[str]:
    return [
        reverse("api:session-list"),
        reverse("api:session-detail", args=[pk]),
        reverse("api:session-judgments", args=[pk]),
        reverse("api:session-items", args=[pk]),
        reverse("api:session-statistics", args=[pk]),
        reverse("api:session-export", args=[pk, "judgments", "csv"]),
        reverse("api:session-export", args=[pk, "judgments", "parquet"]),
        reverse("api:session-export", args=[pk, "summary", "jsonl"]),
    ]


def test_a_judges_token_cannot_read_the_api_or_exports(session, bob):
    client = token_client(bob)
    for url in urls(session.pk):
        response = client.get(url)
        assert response.status_code == 403, url
        assert b"judge-" not in response.content and b"correct" not in response.content


def test_requests_without_credentials_are_refused(session):
    for url in urls(session.pk):
        assert APIClient().get(url).status_code == 401, url


def test_a_staff_token_reads_everything(session, alice):
    client = token_client(alice)
    for url in urls(session.pk):
        response = client.get(url)
        assert response.status_code == 200, (url, response.content[:300])
    listing = client.get(reverse("api:session-list")).json()
    assert listing["count"] == 1 and listing["results"][0]["n_judgments"] == 6
    assert listing["results"][0]["links"]["statistics"].endswith(f"/api/sessions/{session.pk}/statistics/")
    stats = client.get(reverse("api:session-statistics", args=[session.pk])).json()
    assert stats["status"] == "ready"
    assert stats["statistics"]["accuracy"][session.system_a]["by_majority"]["correct"]["rate"] == 1.0
    assert all(row["judge"].startswith("judge-") and len(row["judge"]) >= 10 for row in stats["statistics"]["judges"])


def test_an_accept_header_for_csv_does_not_break_the_export(session, alice):
    response = token_client(alice).get(
        reverse("api:session-export", args=[session.pk, "judgments", "csv"]), HTTP_ACCEPT="text/csv"
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content).startswith(b"judgment_id,")


def test_the_api_token_command_prints_a_staff_token_and_refuses_judges(alice, bob, capsys):
    call_command("api_token", "alice")
    key = capsys.readouterr().out.strip()
    assert key == Token.objects.get(user=alice).key
    call_command("api_token", "alice")
    assert capsys.readouterr().out.strip() == key  # the same token again
    call_command("api_token", "alice", "--reset")
    assert capsys.readouterr().out.strip() != key
    with pytest.raises(CommandError, match="not an active staff user"):
        call_command("api_token", "bob")
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("api_token", "nobody")
    assert not Token.objects.filter(user=bob).exists()
