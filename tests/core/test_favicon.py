"""/favicon.ico answers (browsers ask for it on every page), logged in or not, and pages link the icon."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_favicon_is_served_without_login(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200 and response["Content-Type"] == "image/x-icon"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO header, not an HTML error page
    assert "max-age" in response["Cache-Control"]


def test_pages_link_the_icon(client):
    html = client.get("/accounts/login/").content.decode()

    assert 'rel="icon"' in html and "favicon.ico" in html
