"""CSRF protection on every form and every state-changing URL: each POST form on every page staff or a
judge can open carries the CSRF token, and every URL refuses a POST without it (403) — for staff and for
judges, pages and the judges' JSON API alike — while the same POST with the token goes through."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from annotation.models import Judgment
from tests.hardening.world import all_routes, build_world, url_for

pytestmark = pytest.mark.django_db

SIGN_OUT = {"logout", "admin:logout"}
FORM = re.compile(r"<form\b[^>]*>.*?</form>", re.S | re.I)


@pytest.fixture
def world(bob, carol):
    return build_world(bob, carol)


def _pages(client: Client, world, user):
    for route in all_routes():
        if route.name is None or route.name in SIGN_OUT:
            continue
        url = url_for(route, world)
        client.force_login(user)
        response = client.get(url)
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            yield url, response.content.decode()


def test_every_post_form_on_every_page_carries_the_csrf_token(world, alice, bob):
    client = Client(raise_request_exception=False)
    forms = 0
    for user in (alice, bob):
        for url, html in _pages(client, world, user):
            for form in FORM.findall(html):
                if re.search(r'method=["\']?post', form, re.I):
                    forms += 1
                    assert 'name="csrfmiddlewaretoken"' in form, f"a POST form on {url} has no CSRF token"
    assert forms >= 20


def test_every_url_refuses_a_post_without_the_csrf_token(world, alice, bob):
    strict = Client(enforce_csrf_checks=True, raise_request_exception=False)
    refused = 0
    for user in (alice, bob):
        for route in all_routes():
            if route.name is None or route.name in SIGN_OUT or route.name.startswith("api:"):
                continue
            url = url_for(route, world)
            strict.force_login(user)
            response = strict.post(url, {"name": "x"})
            if response.status_code == 405:  # GET-only view: nothing to forge
                continue
            assert response.status_code == 403, (
                f"POST {url} ({route.name}) as {user} without a token: {response.status_code}"
            )
            assert b"CSRF" in response.content or route.name.startswith("admin:"), url
            refused += 1
    assert refused > 150


def test_the_judging_api_needs_the_token_too_and_accepts_it(world, bob):
    strict = Client(enforce_csrf_checks=True, raise_request_exception=False)
    strict.force_login(bob)
    url = reverse("annotation:api-assignment", args=[world.bob_token])
    body = json.dumps({"left_label": "correct", "right_label": "incorrect", "preference": "left"})

    forged = strict.post(url, body, content_type="application/json")
    assert forged.status_code == 403 and not Judgment.objects.filter(judge=bob).exists()

    token = strict.get(reverse("annotation:judge-item", args=[world.bob_token])).cookies["csrftoken"].value
    sent = strict.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert sent.status_code == 200 and Judgment.objects.filter(judge=bob).count() == 1


def test_the_read_only_api_has_no_state_changing_method(world, alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    for route in all_routes():
        if route.name and route.name.startswith("api:"):
            url = url_for(route, world)
            for method in ("post", "put", "patch", "delete"):
                assert getattr(client, method)(url).status_code in (403, 405), f"{method.upper()} {url}"
