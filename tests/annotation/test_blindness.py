"""Judges never learn which system wrote which answer, nor see other judges' labels."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from annotation.models import Assignment
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import SYSTEM_A, SYSTEM_B, answer, make_session

pytestmark = pytest.mark.django_db


ALLOWED_ITEM_KEYS = {
    "token", "question", "context", "gold_answers", "answers", "labels", "ask_preference", "ask_comment",
    "instructions_html",
}  # fmt: skip
IDENTIFIERS = [SYSTEM_A, SYSTEM_B, "zeroshot", "oneshot", "run-4711", "run-4712", "system_a", "system_b"]


def assert_blind(text: str, session) -> None:
    lowered = text.lower()
    for word in IDENTIFIERS:
        assert word.lower() not in lowered, f"{word!r} leaks into a judge's response"
    # Judges address assignments by random tokens only: no sequential ids in judge URLs.
    for path in re.findall(r"/annotation/(?:api/)?j/([^/\"]+)/", text):
        assert not path.isdigit() and len(path) >= 20


def test_pages_and_api_responses_name_no_system(bob_client, bob):
    session = make_session(n=6, k=1, judges=[bob])
    seen = []
    home = bob_client.get(reverse("annotation:judge-home")).content.decode()
    assert_blind(home, session)
    while True:
        response = bob_client.post(reverse("annotation:api-next", args=[session.pk]))
        data = response.json()
        assert_blind(response.content.decode(), session)
        if not data["done"]:
            assert set(data["item"]) == ALLOWED_ITEM_KEYS
        if data["done"]:
            break
        token = data["token"]
        assert not token.isdigit() and len(token) >= 20
        page = bob_client.get(data["url"])
        assert_blind(page.content.decode(), session)
        assert 'name="left_label"' in page.content.decode()
        stored = bob_client.post(
            reverse("annotation:api-assignment", args=[token]),
            json.dumps({"left_label": "correct", "right_label": "incorrect", "preference": "left",
                        "submission_id": "x1"}),
            content_type="application/json",
        )  # fmt: skip
        assert stored.status_code == 200 and stored.json()["judgment"]["preference"] == "left"
        assert_blind(stored.content.decode(), session)
        got = bob_client.get(reverse("annotation:api-assignment", args=[token]))
        assert_blind(got.content.decode(), session)
        seen.append(data["item"]["answers"]["left"])
    assert len(seen) == 6
    done = bob_client.get(reverse("annotation:judge-done", args=[session.pk]))
    assert_blind(done.content.decode(), session)


def test_the_two_placements_render_identically_apart_from_the_answers(bob):
    session = make_session(n=30, k=1, judges=[bob])
    pages = {}
    from django.test import Client

    client = Client()
    client.force_login(bob)
    while (a := assigning.next_assignment(session, bob)) is not None:
        html = client.get(reverse("annotation:judge-item", args=[a.token])).content.decode()
        skeleton = html
        for text in (a.item.answer_a, a.item.answer_b, a.item.question, a.item.context, a.token):
            skeleton = skeleton.replace(text, "")
        skeleton = re.sub(r'value="[^"]*"', "", skeleton)
        skeleton = re.sub(r"\d+ of \d+|aria-value\w+=\S+|width: \d+%", "", skeleton)
        pages.setdefault(a.swapped, skeleton)
        judging.submit(a.token, bob, answer())
    assert set(pages) == {True, False}
    assert pages[True] == pages[False]


def test_a_judge_cannot_open_another_judges_assignment_or_see_their_labels(bob, carol, client):
    session = make_session(n=1, k=2, judges=[bob, carol])
    bobs = assigning.next_assignment(session, bob)
    judging.submit(bobs.token, bob, answer(comment="bob's private note"))
    client.force_login(carol)
    assert client.get(reverse("annotation:judge-item", args=[bobs.token])).status_code == 410
    assert client.get(reverse("annotation:api-assignment", args=[bobs.token])).status_code == 410
    carols = assigning.next_assignment(session, carol)
    html = client.get(reverse("annotation:judge-item", args=[carols.token])).content.decode()
    assert "bob&#x27;s private note" not in html and "checked" not in html
    assert Assignment.objects.get(token=carols.token).item_id == bobs.item_id
