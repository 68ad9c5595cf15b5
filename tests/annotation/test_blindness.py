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


# --- every state of the judge pages -------------------------------------------------------------------

MODEL_NAME = "SmolLM2-135M-Instruct"
SERVER_PATH = "/srv/qasynth/var/models/converted/smollm2"
DEMO_LEAKS = [MODEL_NAME, SERVER_PATH, "zero-shot", "one-shot", "Convert ", "var/models"]


def assert_says_nothing_of_models(text: str, session=None) -> None:
    assert_blind(text, session)
    for word in DEMO_LEAKS:
        assert word.lower() not in text.lower(), f"{word!r} leaks into a judge's page"


def _preparing_demo(alice, *, conversion_status: str, demo_running: bool):
    from django.utils import timezone

    from core.models import Job, ModelEntry, ModelKind, ModelRole
    from core.services.jobs import create_job
    from firstrun.bootstrap import queue_demo

    entry = ModelEntry.objects.create(
        name=MODEL_NAME, kind=ModelKind.GGUF, role=ModelRole.GENERATOR, is_default=True, path=SERVER_PATH + ".gguf"
    )
    conversion = create_job("convert_model", {"model_id": entry.pk}, user=alice, title=f"Convert {MODEL_NAME}")
    Job.objects.filter(pk=conversion.pk).update(
        status=conversion_status,
        started_at=timezone.now(),
        progress_done=1,
        progress_total=3,
        progress_message=f"writing {SERVER_PATH}/model.safetensors",
    )
    job = queue_demo(alice)
    if demo_running:
        Job.objects.filter(pk=job.pk).update(
            status="running",
            started_at=timezone.now(),
            progress_done=10,
            progress_total=40,
            progress_message=f"zero-shot: 10 of 20 answers ({MODEL_NAME})",
        )
    return job


@pytest.mark.parametrize(
    ("conversion_status", "demo_running"), [("queued", False), ("running", False), ("succeeded", True)]
)
def test_while_the_demo_is_prepared_a_judge_sees_only_that_it_is_being_prepared_and_about_how_long(
    bob_client, alice, conversion_status, demo_running
):
    _preparing_demo(alice, conversion_status=conversion_status, demo_running=demo_running)
    html = bob_client.get(reverse("annotation:judge-home")).content.decode()
    assert_says_nothing_of_models(html)
    status = html.split('id="demo-status"')[1].split("</div>")[0]
    assert re.search(r"being prepared</strong>, about \d+ minutes?\.", status), status
    assert "/jobs/" not in status  # no link to the job either


def test_staff_still_see_what_the_demo_waits_for(client, alice):
    _preparing_demo(alice, conversion_status="running", demo_running=False)
    client.force_login(alice)
    html = client.get(reverse("annotation:judge-home")).content.decode()
    assert f"Convert {MODEL_NAME}" in html and "writing" in html


def test_a_failed_demo_tells_a_judge_nothing_of_the_model_or_the_error(bob_client, alice):
    from core.models import Job

    job = _preparing_demo(alice, conversion_status="succeeded", demo_running=False)
    Job.objects.filter(pk=job.pk).update(status="failed", error=f"{MODEL_NAME} at {SERVER_PATH} is not loadable")
    html = bob_client.get(reverse("annotation:judge-home")).content.decode()
    assert "could not be prepared" in html
    assert_says_nothing_of_models(html)


def test_empty_finished_revisited_and_closed_states_name_no_system(client, bob):
    client.force_login(bob)
    assert_says_nothing_of_models(client.get(reverse("annotation:judge-home")).content.decode())  # nothing yet
    session = make_session(n=2, k=1, judges=[bob])
    tokens = []
    while (a := assigning.next_assignment(session, bob)) is not None:
        judging.submit(a.token, bob, answer())
        tokens.append(a.token)
    # finished: the done page, the home row and the earlier items revisited
    done = client.get(reverse("annotation:judge-done", args=[session.pk]))
    assert done.status_code == 200
    assert_says_nothing_of_models(done.content.decode(), session)
    assert_says_nothing_of_models(client.get(reverse("annotation:judge-home")).content.decode(), session)
    for token in tokens:
        page = client.get(reverse("annotation:judge-item", args=[token]))
        assert page.status_code == 200 and "checked" in page.content.decode()
        assert_says_nothing_of_models(page.content.decode(), session)
    # closed: every way in says "closed" and nothing else
    session.is_open = False
    session.save()
    closed = client.get(reverse("annotation:judge-next", args=[session.pk]))
    assert closed.status_code == 409
    assert_says_nothing_of_models(closed.content.decode(), session)
    late = client.post(
        reverse("annotation:judge-item", args=[tokens[0]]),
        {"left_label": "incorrect", "right_label": "incorrect", "preference": "tie"},
    )
    assert late.status_code == 409
    assert_says_nothing_of_models(late.content.decode(), session)
    assert_says_nothing_of_models(client.get(reverse("annotation:judge-home")).content.decode(), session)
    gone = client.get(reverse("annotation:judge-item", args=["no-such-token-000000000"]))
    assert gone.status_code == 410
    assert_says_nothing_of_models(gone.content.decode(), session)
