"""Every URL of the URLconf (walked recursively with django.urls.get_resolver, path converters filled with
real ids), requested as an anonymous user and as a judge, GET and POST:

- anonymous users get the login page and nothing else (a redirect to it, or 401 from the API), except the
  invitation pages (``annotation:invite-*``), which refuse a wrong token or a visitor without an invitation;
- a judge gets 403 (or the admin's login page) from every staff page, job page, export, statistics page
  and API endpoint, and changes nothing by POSTing to them;
- a judge cannot open another judge's assignment or a session they are not in;
- no response a judge can get names a system, a model, a run, a corpus or another judge's comment.

A URL added later that the walk cannot fill makes the test fail with the route's name, so every new
URL gets classified here.
"""

from __future__ import annotations

import json

import pytest
from django.apps import apps
from django.test import Client

from tests.hardening.world import all_routes, build_world, url_for

pytestmark = pytest.mark.django_db

PUBLIC = {"login", "admin:login"}  # the login pages themselves
ASSETS = {"favicon"}  # the site icon: the same bytes for everyone, GET only
SIGN_OUT = {"logout", "admin:logout"}  # would end the test client's session; checked by Django's own tests
JUDGE_PAGES = {
    "home", "annotation:judge-home", "annotation:judge-next", "annotation:judge-back",
    "annotation:judge-done", "annotation:judge-item", "annotation:api-next", "annotation:api-assignment",
    "annotation:api-flag",
}  # fmt: skip
INVITE_PAGES = {
    "annotation:invite-open", "annotation:invite-continue", "annotation:invite-consent",
    "annotation:invite-instructions", "annotation:invite-qualify", "annotation:invite-finish",
    "annotation:invite-screened-out",
}  # fmt: skip
LOGIN_PAGES = ("/accounts/login/", "/admin/login/")
VALID_SUBMIT = {"left_label": "correct", "right_label": "incorrect", "preference": "left", "submission_id": "walk-1"}


@pytest.fixture
def world(bob, carol):
    return build_world(bob, carol)


def _routes():
    routes = [route for route in all_routes() if route.name is not None]
    assert len(routes) > 150, "the URL walk found too few routes"
    return routes


def _row_counts() -> dict[str, int]:
    return {
        model._meta.label: model.objects.count() for model in apps.get_models() if model._meta.app_label != "sessions"
    }


def _redirects_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(LOGIN_PAGES)


def test_anonymous_users_get_nothing_but_the_login_page(world):
    client = Client(raise_request_exception=False)
    for route in _routes():
        url = url_for(route, world)
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            where = f"{method.upper()} {url} ({route.name})"
            if route.name in PUBLIC:
                assert response.status_code == 200 if method == "get" else response.status_code in (200, 403), where
            elif route.name in ASSETS:
                assert response.status_code == (200 if method == "get" else 405), where
            elif route.name in SIGN_OUT:
                assert response.status_code in (302, 405), where
            elif route.name in INVITE_PAGES:  # a wrong token, or no invited judge signed in
                assert response.status_code in (404, 405), (where, response.status_code)
            else:
                assert _redirects_to_login(response) or response.status_code == 401, (where, response.status_code)


def test_a_judge_gets_403_from_every_staff_url_and_changes_nothing_by_posting(world, bob):
    client = Client(raise_request_exception=False)
    before = _row_counts()
    checked = 0
    for route in _routes():
        if route.name in PUBLIC | ASSETS | SIGN_OUT | JUDGE_PAGES:
            continue
        if route.name in INVITE_PAGES:  # bob was not invited by a link: nothing there for him
            client.force_login(bob)
            assert client.get(url_for(route, world)).status_code in (404, 405), route.name
            continue
        url = url_for(route, world)
        for method in ("get", "post"):
            client.force_login(bob)
            response = getattr(client, method)(url, {"name": "by a judge", "is_open": "on"})
            where = f"{method.upper()} {url} ({route.name})"
            admin_login = route.name.startswith("admin:") and _redirects_to_login(response)
            assert response.status_code == 403 or admin_login, (where, response.status_code)
            checked += 1
    assert checked > 300
    after = _row_counts()
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}


def test_a_judge_cannot_open_another_judges_assignment_or_a_session_they_are_not_in(world, bob):
    from django.urls import reverse

    client = Client(raise_request_exception=False)
    client.force_login(bob)
    for name in ("annotation:judge-item", "annotation:api-assignment"):
        url = reverse(name, args=[world.carol_token])
        for response in (
            client.get(url),
            client.post(url, VALID_SUBMIT),
            client.post(url, json.dumps(VALID_SUBMIT), content_type="application/json"),
        ):
            assert response.status_code == 410, (url, response.status_code)
            assert "carol-private-comment-xyz" not in response.content.decode()
    from annotation.models import Judgment

    assert not Judgment.objects.filter(judge=bob).exists()
    for name in ("annotation:judge-next", "annotation:judge-back", "annotation:judge-done", "annotation:api-next"):
        url = reverse(name, args=[world.other_session.pk])
        assert client.get(url).status_code in (404, 405) and client.post(url).status_code == 404, url


def test_no_response_a_judge_can_get_names_a_system_a_model_a_run_or_another_judge(world, bob):
    client = Client(raise_request_exception=False)
    seen = 0
    items_shown = 0  # the scan must see real judging pages, not only refusals
    for route in _routes():
        if route.name in SIGN_OUT:
            continue
        url = url_for(route, world)
        requests = [("get", {}), ("post", {})]
        if route.name in ("annotation:judge-item", "annotation:api-assignment"):
            requests.append(("post", VALID_SUBMIT))
        for method, data in requests:
            client.force_login(bob)
            response = getattr(client, method)(url, data, follow=route.name in JUDGE_PAGES)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode(errors="replace").lower()
            for secret in world.secrets:
                assert secret.lower() not in text, f"{secret!r} leaks into {method.upper()} {url} ({route.name})"
            seen += 1
            items_shown += "what colour is item" in text
    assert seen > 300 and items_shown >= 5
