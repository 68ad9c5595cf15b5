"""The judging page is a Jinja2 template (core/jinja2.py says why) with its own copy of the layout: that copy must
print what templates/base.html prints, for every kind of visitor, or the judging page drifts from the rest."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import add_message, constants
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.signed_cookies import SessionStore
from django.template.loader import render_to_string
from django.test import RequestFactory

from tests.annotation.helpers import make_session

TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+"')


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    return request


def _both(request) -> tuple[str, str]:
    django_html = render_to_string("base.html", request=request)
    jinja_html = render_to_string("base.html", request=request, using="jinja2")
    return TOKEN.sub(r"\1T", django_html), TOKEN.sub(r"\1T", jinja_html)


def _normalised(html: str) -> str:
    return re.sub(r"\s+", " ", html).replace("> <", "><").strip()


@pytest.mark.parametrize("who", ["anonymous", "judge", "staff"])
def test_the_jinja2_layout_prints_what_the_django_layout_prints(who, alice, bob):
    user = {"anonymous": AnonymousUser(), "judge": bob, "staff": alice}[who]
    request = _request(user)
    add_message(request, constants.INFO, "Saved <your> changes.")

    django_html, jinja_html = _both(request)

    assert _normalised(jinja_html) == _normalised(django_html)
    assert "Saved &lt;your&gt; changes." in jinja_html  # messages, escaped
    assert ("Log out" in jinja_html) is (who != "anonymous")
    assert ("/admin/" in jinja_html) is (who == "staff")


def test_a_judging_page_prints_one_csrf_token_for_all_its_forms(bob, bob_client):
    session = make_session(n=2, k=1, judges=[bob])
    response = bob_client.get(f"/annotation/s/{session.pk}/next/", follow=True)

    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert response.status_code == 200
    assert len(tokens) == 3  # the judgment, the flag and the log-out forms
    assert len(set(tokens)) == 1


def test_the_remembered_asset_and_page_urls_follow_a_settings_change(settings):
    from core.jinja2 import static, url

    assert static("css/app.css") == "/static/css/app.css"
    assert url("annotation:judge-back", 7) == "/annotation/s/7/back/"
    settings.STATIC_URL = "/assets/"

    assert static("css/app.css") == "/assets/css/app.css"
