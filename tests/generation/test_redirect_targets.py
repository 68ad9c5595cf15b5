"""A redirect target taken from the request (`next`) is followed only when it stays on this site.

`/\\evil.example` is the case a hand-written "starts with / but not //" check let through: browsers treat the
backslash as a slash and go to http://evil.example/.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import PairStatus, SyntheticPair
from tests.generation.synth_helpers import finished_run, make_corpus

pytestmark = pytest.mark.django_db

HOSTILE = ["/\\evil.example", "//evil", "https://evil", "javascript:alert(1)", "http://evil.example/x", "\\\\evil"]


@pytest.fixture
def run():
    return finished_run(make_corpus(passages=["Kyoto was the capital of Japan for a thousand years."]))


def accepted_pair(run) -> SyntheticPair:
    return SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).first()


@pytest.mark.parametrize("target", HOSTILE)
def test_rejecting_a_pair_never_redirects_off_site(alice_client, run, target):
    response = alice_client.post(reverse("generation:pair-reject", args=[accepted_pair(run).pk]), {"next": target})

    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()


@pytest.mark.parametrize("target", HOSTILE)
def test_editing_a_pair_never_redirects_off_site(alice_client, run, target):
    pair = accepted_pair(run)
    url = reverse("generation:pair-edit", args=[pair.pk])
    data = {"question": "Which city was the capital?", "answer": "Kyoto", "status": PairStatus.ACCEPTED, "next": target}

    response = alice_client.post(f"{url}?next={target}", data)

    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()


@pytest.mark.parametrize("target", HOSTILE)
def test_the_edit_form_does_not_carry_a_hostile_target_along(alice_client, run, target):
    pair = accepted_pair(run)
    html = alice_client.get(reverse("generation:pair-edit", args=[pair.pk]), {"next": target}).content.decode()

    assert 'name="next" value=""' in html


def test_a_same_site_target_is_followed(alice_client, run):
    pair = accepted_pair(run)
    target = f"{run.get_absolute_url()}?page=2"

    response = alice_client.post(reverse("generation:pair-reject", args=[pair.pk]), {"next": target})

    assert response["Location"] == target


@pytest.mark.parametrize("target", HOSTILE)
def test_logging_in_never_redirects_off_site(client, alice, target):
    response = client.post(reverse("login"), {"username": "alice", "password": "pw-for-tests-1", "next": target})

    assert response.status_code == 302 and "evil" not in response["Location"]
    assert not response["Location"].startswith("javascript")
