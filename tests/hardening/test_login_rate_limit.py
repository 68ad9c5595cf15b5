"""Guessing passwords is rate limited (django-axes): after AXES_FAILURE_LIMIT wrong passwords the account is
locked out, the right password is refused too, other accounts still log in, and an administrator's reset
(or the cool-off) lifts the lock. The test suite runs with axes off (AXES_ENABLED=0); these tests turn it on."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from axes.utils import reset
from django.test import Client
from django.urls import reverse

from tests.conftest import make_user

PASSWORD = "pw-for-tests-1"


@pytest.fixture
def axes_on(settings, db):
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    reset()
    yield
    reset()


def _login(username: str, password: str, url_name: str = "login", address: str = "203.0.113.7"):
    client = Client(raise_request_exception=False, REMOTE_ADDR=address)
    data = {"username": username, "password": password}
    if url_name == "admin:login":
        data["next"] = "/admin/"
    return client, client.post(reverse(url_name), data)


@pytest.mark.parametrize("url_name", ["login", "admin:login"])
def test_repeated_wrong_passwords_lock_the_account_and_the_right_one_is_refused(axes_on, url_name):
    make_user("dora", judge=True, staff=url_name == "admin:login")
    make_user("eve", judge=True, staff=url_name == "admin:login")
    for _ in range(2):
        _, response = _login("dora", "wrong-guess", url_name)
        assert response.status_code == 200 and "_auth_user_id" not in response.client.session
    _, locked = _login("dora", "wrong-guess", url_name)
    assert locked.status_code == 429, locked.status_code
    client, right = _login("dora", PASSWORD, url_name)
    assert right.status_code == 429 and "_auth_user_id" not in client.session
    assert AccessAttempt.objects.filter(username="dora", failures_since_start__gte=3).exists()

    # AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]: the address is locked too (for everyone behind it),
    # while other users elsewhere log in as usual.
    _, same_address = _login("eve", PASSWORD, url_name)
    assert same_address.status_code == 429
    other, ok = _login("eve", PASSWORD, url_name, address="198.51.100.9")
    assert ok.status_code == 302 and other.session.get("_auth_user_id")
    _, dora_elsewhere = _login("dora", PASSWORD, url_name, address="198.51.100.9")
    assert dora_elsewhere.status_code == 429  # and the account stays locked from any address

    reset(username="dora")
    client, after_reset = _login("dora", PASSWORD, url_name)
    assert after_reset.status_code == 302 and client.session.get("_auth_user_id")


def test_without_failures_a_login_is_not_throttled(axes_on):
    make_user("frank", judge=True)
    for _ in range(5):
        client, response = _login("frank", PASSWORD)
        assert response.status_code == 302 and client.session.get("_auth_user_id")
