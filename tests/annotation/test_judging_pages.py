"""The judge's pages: home, next item, submit, back and edit, progress, thank-you, access rules."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotation.models import Assignment, Judgment, JudgmentRevision
from tests.annotation.helpers import make_session
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def form_fields(html: str) -> dict:
    return {
        "submission_id": re.search(r'name="submission_id" value="([0-9a-f]+)"', html).group(1),
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1),
    }


def open_next(client, session):
    response = client.get(reverse("annotation:judge-next", args=[session.pk]))
    assert response.status_code == 302
    return response["Location"]


def test_the_judge_home_lists_sessions_with_progress(bob_client, bob):
    session = make_session(n=3, k=1, judges=[bob], name="Blue items")
    response = bob_client.get(reverse("annotation:judge-home"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Blue items" in html and "0 judged" in html and "Start" in html
    assert reverse("annotation:judge-next", args=[session.pk]) in html


def test_core_home_sends_judges_to_their_home(bob_client):
    response = bob_client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("annotation:judge-home")


def test_a_judge_judges_goes_back_changes_a_judgment_and_sees_the_thank_you_page(bob_client, bob):
    session = make_session(n=2, k=1, judges=[bob], name="Two items")
    url = open_next(bob_client, session)
    page = bob_client.get(url).content.decode()
    assert "1 of 2" in page
    response = bob_client.post(url, {"left_label": "correct", "right_label": "partial", "preference": "left",
                                     **form_fields(page)})  # fmt: skip
    second_url = response["Location"]
    assert second_url.startswith("/annotation/j/") and second_url != url
    page = bob_client.get(second_url).content.decode()
    assert "2 of 2" in page
    # Back to the first item: the form shows the earlier choices.
    back = bob_client.get(reverse("annotation:judge-back", args=[session.pk]) + "?from=" + second_url.split("/")[-2])
    assert back["Location"] == url
    page = bob_client.get(url).content.decode()
    assert re.search(r'value="partial" data-keys="5 w" checked', page)
    response = bob_client.post(url, {"left_label": "incorrect", "right_label": "partial", "preference": "right",
                                     **form_fields(page)})  # fmt: skip
    assert response["Location"] == second_url  # on to the item still in hand
    page = bob_client.get(second_url).content.decode()
    response = bob_client.post(second_url, {"left_label": "correct", "right_label": "correct", "preference": "tie",
                                            **form_fields(page)})  # fmt: skip
    assert response["Location"] == reverse("annotation:judge-done", args=[session.pk])
    assert "Thank you" in bob_client.get(response["Location"]).content.decode()
    assert Judgment.objects.count() == 2
    assert JudgmentRevision.objects.count() == 3
    first = Judgment.objects.get(assignment__token=url.split("/")[-2])
    assert first.revisions_count == 2
    assert {first.label_a, first.label_b} == {"incorrect", "partial"}


def test_a_double_click_stores_one_judgment(bob_client, bob):
    session = make_session(n=3, k=1, judges=[bob])
    url = open_next(bob_client, session)
    fields = form_fields(bob_client.get(url).content.decode())
    data = {"left_label": "correct", "right_label": "partial", "preference": "left", **fields}
    first = bob_client.post(url, data)
    second = bob_client.post(url, data)
    assert first.status_code == second.status_code == 302
    assert Judgment.objects.count() == 1 and JudgmentRevision.objects.count() == 1


def test_an_incomplete_form_is_shown_again_with_the_problem(bob_client, bob):
    session = make_session(n=1, k=1, judges=[bob])
    url = open_next(bob_client, session)
    fields = form_fields(bob_client.get(url).content.decode())
    response = bob_client.post(url, {"left_label": "correct", **fields})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Choose a label for answer B" in html and re.search(r'value="correct" data-keys="1" checked', html)
    assert Judgment.objects.count() == 0


def test_the_page_shows_keyboard_help_and_gold_only_when_the_session_says_so(bob_client, bob):
    session = make_session(n=1, k=1, judges=[bob], show_gold=False)
    html = bob_client.get(open_next(bob_client, session)).content.decode()
    assert "Backspace" in html and "<kbd>4</kbd>" in html and "<kbd>a</kbd>" in html
    assert "blue 1" not in html
    shown = make_session(n=1, k=1, judges=[bob], show_gold=True)
    assert "blue 1" in bob_client.get(open_next(bob_client, shown)).content.decode()


def test_instructions_are_rendered_from_markdown_and_sanitised(bob_client, bob):
    session = make_session(
        n=1, k=1, judges=[bob], instructions="**Be fair.**\n\n<script>alert(1)</script>[x](javascript:alert(2))"
    )
    html = bob_client.get(open_next(bob_client, session)).content.decode()
    assert "<strong>Be fair.</strong>" in html
    assert "<script>alert" not in html and "javascript:alert" not in html


def test_japanese_items_are_marked_as_japanese(bob_client, bob):
    session = make_session(n=1, k=1, judges=[bob], japanese=True)
    html = bob_client.get(open_next(bob_client, session)).content.decode()
    assert '<html lang="ja">' in html and "富士山" in html


def test_judges_outside_a_session_and_anonymous_users_get_nothing(client, bob, carol):
    session = make_session(n=1, k=1, judges=[bob])
    assert client.get(reverse("annotation:judge-next", args=[session.pk])).status_code == 302  # to login
    client.force_login(carol)
    assert client.get(reverse("annotation:judge-next", args=[session.pk])).status_code == 404
    assert not Assignment.objects.filter(judge=carol).exists()
    plain = make_user("plain")
    client.force_login(plain)
    assert client.get(reverse("annotation:judge-next", args=[session.pk])).status_code == 403


def test_a_closed_session_says_so(bob_client, bob):
    session = make_session(n=1, k=1, judges=[bob], is_open=False)
    response = bob_client.get(reverse("annotation:judge-next", args=[session.pk]))
    assert response.status_code == 409 and "closed" in response.content.decode()
