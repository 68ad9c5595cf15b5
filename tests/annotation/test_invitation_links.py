"""Invitation links: a personal link admits one judge once, an open link anyone up to its cap, a crowd link one
judge per worker; revoked, expired, used and forged links get a clear page; guessing tokens is throttled."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import InvitationLink, InvitedJudge
from annotation.services import invitations
from tests.annotation.invite_helpers import PROLIFIC, judge_of, open_url, session_with_recruitment, visitor

pytestmark = pytest.mark.django_db


@pytest.fixture
def session():
    return session_with_recruitment()


def test_the_token_is_signed_and_carries_at_least_128_random_bits(session):
    link = invitations.create_link(session, "personal")
    token = invitations.token_for(link)
    secret, signature = token.split(".")
    assert secret == link.secret and len(secret) * 6 >= 128 and signature
    assert invitations.secret_from(token) == link.secret
    assert invitations.secret_from(secret + ".x" + signature[2:]) is None  # a forged signature: no lookup at all
    assert invitations.secret_from(link.secret) is None


def test_a_personal_link_admits_one_judge_once_and_the_same_browser_resumes(session):
    link = invitations.create_link(session, "personal", email="dora@example.org")
    first = visitor()
    response = first.get(open_url(link))
    assert response.status_code == 302 and response["Location"] == reverse("annotation:invite-continue")
    judge = judge_of(first)
    assert judge.session == session and judge.link == link and not judge.user.has_usable_password()
    assert first.get(open_url(link)).status_code == 302 and judge_of(first) == judge  # same browser: resumes
    other = visitor("192.0.2.11")
    refused = other.get(open_url(link))
    assert refused.status_code == 410 and "already been used" in refused.content.decode()
    assert InvitedJudge.objects.count() == 1


def test_resending_a_personal_link_gives_a_new_address_for_the_same_judge(session):
    link = invitations.create_link(session, "personal")
    first = visitor()
    first.get(open_url(link))
    old = open_url(link)
    judge = judge_of(first)
    invitations.resend(link)
    assert visitor("192.0.2.12").get(old).status_code == 404  # the old address is dead
    second = visitor("192.0.2.13")
    assert second.get(open_url(link)).status_code == 302
    assert judge_of(second) == judge and InvitationLink.objects.get(pk=link.pk).times_sent == 2


def test_a_revoked_personal_link_gets_a_clear_page_and_stops_its_judge(session):
    link = invitations.create_link(session, "personal")
    client = visitor()
    client.get(open_url(link))
    invitations.revoke(link)
    again = visitor("192.0.2.14").get(open_url(link))
    assert again.status_code == 410 and "withdrawn" in again.content.decode()
    continued = client.get(reverse("annotation:judge-next", args=[session.pk]), follow=True)
    assert "withdrawn" in continued.content.decode()
    assert "_auth_user_id" not in client.session  # signed out


def test_an_open_link_admits_up_to_its_cap_then_refuses_clearly(session):
    link = invitations.create_link(session, "open", max_judges=2)
    for address in ("192.0.2.20", "192.0.2.21"):
        assert visitor(address).get(open_url(link)).status_code == 302
    full = visitor("192.0.2.22").get(open_url(link))
    assert full.status_code == 409 and "This study is full" in full.content.decode()
    assert InvitedJudge.objects.filter(link=link).count() == 2


def test_the_session_cap_counts_judges_of_every_link():
    session = session_with_recruitment(max_judges=1)
    invitations.create_link(session, "open")
    assert visitor("192.0.2.30").get(open_url(session.invitations.get())).status_code == 302
    second = invitations.create_link(session, "personal")
    assert visitor("192.0.2.31").get(open_url(second)).status_code == 409


def test_an_expired_link_and_a_closed_session_are_refused(session):
    link = invitations.create_link(session, "open", expires_at=timezone.now() + timedelta(hours=1))
    InvitationLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert "expired" in visitor().get(open_url(link)).content.decode()
    fresh = invitations.create_link(session, "open")
    session.is_open = False
    session.save()
    closed = visitor().get(open_url(fresh))
    assert closed.status_code == 409 and "closed" in closed.content.decode()
    assert not InvitedJudge.objects.exists()


def test_a_prolific_link_stores_the_ids_and_the_same_worker_resumes_in_any_browser(session):
    link = invitations.create_link(session, "open", platform="prolific", completion_code="C0DE42")
    assert (link.worker_param, link.study_param, link.session_param) == ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")
    first = visitor()
    first.get(open_url(link, PROLIFIC))
    judge = judge_of(first)
    assert (judge.worker_id, judge.study_id, judge.platform_session_id) == tuple(PROLIFIC.values())
    second = visitor("192.0.2.40")
    second.get(open_url(link, {**PROLIFIC, "SESSION_ID": "sess-2"}))
    assert judge_of(second) == judge and InvitedJudge.objects.count() == 1
    third = visitor("192.0.2.41")  # another worker in the first browser's place
    third.get(open_url(link, {**PROLIFIC, "PROLIFIC_PID": "another-worker"}))
    assert judge_of(third) != judge and InvitedJudge.objects.count() == 2


def test_a_crowd_link_without_the_worker_id_is_refused_with_the_parameter_named(session):
    link = invitations.create_link(session, "open", platform="custom", worker_param="workerId")
    response = visitor().get(open_url(link))
    assert response.status_code == 400 and "workerId" in response.content.decode()


def test_staff_signed_in_are_not_turned_into_a_judge(session, alice):
    link = invitations.create_link(session, "open")
    client = visitor()
    client.force_login(alice)
    response = client.get(open_url(link))
    assert response.status_code == 409 and "private window" in response.content.decode()
    assert int(client.session["_auth_user_id"]) == alice.pk and not InvitedJudge.objects.exists()


@pytest.mark.parametrize(
    ("kind", "options", "problem"),
    [("personal", {"platform": "prolific"}, "open link"), ("open", {"email": "x@example.org"}, "personal"),
     ("open", {"platform": "custom"}, "worker id"), ("open", {"platform": "custom", "worker_param": "a b"}, "letters"),
     ("weird", {}, "Unknown link kind")],
)  # fmt: skip
def test_links_that_make_no_sense_are_refused_with_the_setting_named(session, kind, options, problem):
    with pytest.raises(invitations.InvitationError, match=problem):
        invitations.create_link(session, kind, **options)


def test_guessing_tokens_is_throttled_per_address_and_logged(session, settings, caplog):
    settings.QASYNTH_INVITE_FAILURE_LIMIT = 5
    link = invitations.create_link(session, "open")
    guesser = visitor("198.51.100.66")
    caplog.set_level(logging.WARNING, logger="annotation.services.invitations")
    statuses = [guesser.get(f"/annotation/i/guess{i}.{'A' * 43}/").status_code for i in range(7)]
    assert statuses[:5] == [404] * 5 and statuses[5:] == [429, 429]
    assert guesser.get(open_url(link)).status_code == 429  # even the right link waits now
    assert visitor("198.51.100.67").get(open_url(link)).status_code == 302  # others are not affected
    logged = [r.getMessage() for r in caplog.records if "invitation refused" in r.getMessage()]
    assert len(logged) >= 7 and "198.51.100.66" in logged[0] and "guess0" in logged[0]
    assert link.secret not in caplog.text
