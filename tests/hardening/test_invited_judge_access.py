"""A judge who came through an invitation link, walked over every URL of the URLconf (GET and POST):

- they reach their own session's judging pages and the invitation pages, and get 403/404 from everything
  else (staff pages, exports, the API, the admin, other sessions) without changing a row by POSTing;
- another judge's assignment is 410, another session 404;
- no response names a system, a model, a run, another judge's comment or another worker's platform id;
- once their personal link is revoked, every judging URL ends on a clear "withdrawn" page.
"""

from __future__ import annotations

import dataclasses

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Assignment
from annotation.services import invitations
from tests.annotation.invite_helpers import PROLIFIC, judge_of, open_url, through_consent
from tests.hardening.test_url_access import INVITE_PAGES, JUDGE_PAGES, SIGN_OUT, VALID_SUBMIT, _routes, _row_counts
from tests.hardening.world import build_world, url_for

pytestmark = pytest.mark.django_db
OTHER_WORKER = "W-OTHER-WORKER-SECRET-1234"


@pytest.fixture
def invited(bob, carol):
    """The world, an invited crowd worker with an item in hand, and a second worker whose ids must not leak."""
    world = build_world(bob, carol)
    link = world.objects["invitation"]
    other = Client(REMOTE_ADDR="192.0.2.50")
    other.get(open_url(link, {**PROLIFIC, "PROLIFIC_PID": OTHER_WORKER, "STUDY_ID": "study-secret-88"}))
    client = Client(raise_request_exception=False, REMOTE_ADDR="192.0.2.51")
    client.get(open_url(link, PROLIFIC))
    through_consent(client)
    location = client.get(reverse("annotation:judge-next", args=[world.session.pk]))["Location"]
    token = location.rstrip("/").split("/")[-1]
    assert Assignment.objects.filter(token=token, judge=judge_of(client).user).exists()
    world = dataclasses.replace(world, bob_token=token, secrets=[*world.secrets, OTHER_WORKER, "study-secret-88",
                                                                   "secret-link-note-psi"])  # fmt: skip
    return world, client


def test_an_invited_judge_reaches_only_their_sessions_judging_pages_and_changes_nothing_elsewhere(invited):
    world, client = invited
    before = _row_counts()
    checked = 0
    for route in _routes():
        if route.name in SIGN_OUT | JUDGE_PAGES | INVITE_PAGES:
            continue
        url = url_for(route, world)
        for method in ("get", "post"):
            response = getattr(client, method)(url, {"name": "by an invited judge", "is_open": "on"})
            assert response.status_code in (403, 404), (f"{method.upper()} {url} ({route.name})", response.status_code)
            checked += 1
    assert checked > 300
    assert _row_counts() == before


def test_an_invited_judge_cannot_open_another_judges_assignment_or_another_session(invited):
    world, client = invited
    for name in ("annotation:judge-item", "annotation:api-assignment"):
        url = reverse(name, args=[world.carol_token])
        assert client.get(url).status_code == 410
        assert client.post(url, VALID_SUBMIT).status_code == 410
    for name in ("annotation:judge-next", "annotation:judge-back", "annotation:judge-done", "annotation:api-next"):
        assert client.get(reverse(name, args=[world.other_session.pk])).status_code == 404, name
    assert client.get(reverse("annotation:judge-home"))["Location"] == reverse("annotation:invite-continue")
    assert client.get("/")["Location"] == reverse("annotation:invite-continue")


def test_no_response_an_invited_judge_can_get_names_a_system_a_model_or_another_worker(invited):
    world, client = invited
    items_shown = 0
    for route in _routes():
        if route.name in SIGN_OUT:
            continue
        url = url_for(route, world)
        requests = [("get", {}), ("post", {})]
        if route.name in ("annotation:judge-item", "annotation:api-assignment"):
            requests.append(("post", VALID_SUBMIT))
        for method, data in requests:
            follow = route.name in JUDGE_PAGES | INVITE_PAGES and route.name != "annotation:invite-finish"
            response = getattr(client, method)(url, data, follow=follow)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode(errors="replace").lower()
            for secret in world.secrets:
                assert secret.lower() not in text, f"{secret!r} leaks into {method.upper()} {url} ({route.name})"
            items_shown += "what colour is item" in text
    assert items_shown >= 5


def test_a_revoked_personal_link_ends_every_judging_url_on_a_clear_page(bob, carol):
    world = build_world(bob, carol)
    link = invitations.create_link(world.session, "personal", email="dora@example.org")
    client = Client(raise_request_exception=False, REMOTE_ADDR="192.0.2.60")
    client.get(open_url(link))
    through_consent(client)
    item = client.get(reverse("annotation:judge-next", args=[world.session.pk]))["Location"]
    invitations.revoke(link)
    response = client.get(item, follow=True)
    assert response.status_code == 410 and "withdrawn by the study team" in response.content.decode()
    assert client.get(item).status_code == 302  # signed out now: the login page
    reused = Client(REMOTE_ADDR="192.0.2.61").get(open_url(link))
    assert reused.status_code == 410 and "withdrawn" in reused.content.decode()
