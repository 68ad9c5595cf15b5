"""Signing in reads the user with one written-out statement, and behaves exactly as Django's ModelBackend."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY, get_user, signals
from django.contrib.auth.backends import ModelBackend as DjangoModelBackend
from django.test import RequestFactory

from core.auth_backend import ModelBackend
from tests.conftest import make_user

pytestmark = pytest.mark.django_db

FIELDS = ["id", "username", "password", "email", "is_staff", "is_superuser", "is_active", "last_login",
          "date_joined", "first_name", "last_name"]  # fmt: skip


def test_the_user_it_reads_equals_the_orms_field_by_field(django_assert_num_queries):
    user = make_user("reader", staff=True)
    user.last_login = user.date_joined
    user.save()
    with django_assert_num_queries(1):
        read = ModelBackend().get_user(str(user.pk))  # sessions keep the pk as text
    expected = DjangoModelBackend().get_user(user.pk)
    assert {f: getattr(read, f) for f in FIELDS} == {f: getattr(expected, f) for f in FIELDS}
    assert read.get_session_auth_hash() == expected.get_session_auth_hash()


def test_an_inactive_missing_or_unreadable_user_is_nobody():
    user = make_user("gone")
    user.is_active = False
    user.save()
    backend = ModelBackend()
    assert backend.get_user(user.pk) is None
    assert backend.get_user(user.pk + 1000) is None
    assert backend.get_user("not-a-number") is None


def test_a_wrong_password_is_checked_once_and_still_reported_as_a_failed_login(client, monkeypatch):
    make_user("carol", password="right-password-1")
    checks, failures = [], []
    original = DjangoModelBackend.authenticate

    def counting(self, *args, **kwargs):
        checks.append(type(self).__module__)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DjangoModelBackend, "authenticate", counting)
    signals.user_login_failed.connect(receiver := lambda **kw: failures.append(kw["credentials"]["username"]))
    try:
        response = client.post("/accounts/login/", {"username": "carol", "password": "wrong-password"})
    finally:
        signals.user_login_failed.disconnect(receiver)
    assert response.status_code == 200  # the form again, with its error
    assert checks == ["core.auth_backend"]  # Django's backend, listed after it for old sessions, is not asked
    assert failures == ["carol"]
    assert client.post("/accounts/login/", {"username": "carol", "password": "right-password-1"}).status_code == 302


def test_a_session_signed_in_by_djangos_backend_before_the_switch_stays_signed_in(client):
    user = make_user("veteran")
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    request = RequestFactory().get("/")
    request.session = client.session
    assert request.session[SESSION_KEY] == str(user.pk)
    assert get_user(request) == user
