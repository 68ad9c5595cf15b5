"""An invited judge's path: consent, instructions, the qualification block (pass or be screened out), judging up
to the per-judge cap, then the completion code or URL. Idle judges give their items back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, InvitedJudge, Judgment, Qualification, QualificationAnswer
from annotation.services import invitations, recruiting
from tests.annotation.invite_helpers import (
    PROLIFIC,
    answer_qualification,
    judge_items,
    judge_of,
    open_url,
    session_with_recruitment,
    through_consent,
    visitor,
)

pytestmark = pytest.mark.django_db
CONTINUE = reverse("annotation:invite-continue")


def test_judging_waits_for_consent_then_the_instructions(client):
    session = session_with_recruitment(consent_text="## About this study\nWe store **no names**.<script>x()</script>")
    client = visitor()
    client.get(open_url(invitations.create_link(session, "personal")))
    next_url = reverse("annotation:judge-next", args=[session.pk])
    assert client.get(next_url)["Location"] == CONTINUE
    assert client.get(CONTINUE)["Location"] == reverse("annotation:invite-consent")
    page = client.get(reverse("annotation:invite-consent")).content.decode()
    assert "<strong>no names</strong>" in page and "<script>" not in page
    refused = client.post(reverse("annotation:invite-consent"), {})
    assert refused.status_code == 400 and "Tick the box" in refused.content.decode()
    assert judge_of(client).consented_at is None
    client.post(reverse("annotation:invite-consent"), {"agree": "yes"})
    assert client.get(CONTINUE)["Location"] == reverse("annotation:invite-instructions")
    assert "<strong>each answer</strong>" in client.get(reverse("annotation:invite-instructions")).content.decode()
    client.post(reverse("annotation:invite-instructions"))
    assert "/annotation/j/" in client.get(next_url)["Location"]
    judge = judge_of(client)
    assert judge.consented_at and judge.instructions_seen_at and judge.last_seen_at


def test_passing_the_qualification_leads_to_judging_and_its_answers_are_not_judgments():
    session = session_with_recruitment(qualification=4, threshold=0.75)
    client = visitor()
    client.get(open_url(invitations.create_link(session, "open")))
    through_consent(client)
    assert client.get(CONTINUE)["Location"] == reverse("annotation:invite-qualify")
    answer_qualification(client, right=True)
    judge = judge_of(client)
    assert judge.qualification == Qualification.PASSED and recruiting.qualification_score(judge) == (4, 4)
    assert not Judgment.objects.exists() and not Assignment.objects.filter(judge=judge.user).exists()
    assert judge_items(client, session, 2)[0].startswith("/annotation/j/")
    assert Judgment.objects.filter(judge=judge.user).count() == 2


def test_failing_the_qualification_screens_the_judge_out_with_a_code_and_stops_them():
    session = session_with_recruitment(qualification=4, threshold=0.75)
    link = invitations.create_link(session, "open", platform="prolific", screened_out_code="SCREENED9",
                                   completion_code="DONE1")  # fmt: skip
    client = visitor()
    client.get(open_url(link, PROLIFIC))
    through_consent(client)
    answer_qualification(client, right=False)
    judge = judge_of(client)
    assert judge.qualification == Qualification.FAILED
    assert client.get(CONTINUE)["Location"] == reverse("annotation:invite-screened-out")
    page = client.get(reverse("annotation:invite-screened-out")).content.decode()
    assert "SCREENED9" in page and "DONE1" not in page
    assert client.get(reverse("annotation:judge-next", args=[session.pk]))["Location"] == CONTINUE
    assert client.get(reverse("annotation:invite-finish"))["Location"] == CONTINUE
    again = visitor("192.0.2.99")  # coming back as the same worker changes nothing
    again.get(open_url(link, PROLIFIC), follow=True)
    assert judge_of(again) == judge and not Assignment.objects.filter(judge=judge.user).exists()


def test_a_screened_out_judge_may_be_sent_back_to_the_platform():
    session = session_with_recruitment(qualification=2, threshold=1.0)
    back = "https://app.prolific.com/submissions/complete?cc=NOPE"
    link = invitations.create_link(session, "open", platform="prolific", screened_out_url=back)
    client = visitor()
    client.get(open_url(link, PROLIFIC))
    through_consent(client)
    answer_qualification(client, right=False)
    response = client.get(reverse("annotation:invite-screened-out"))
    assert response.status_code == 302 and response["Location"].endswith("cc=NOPE")


def test_the_per_judge_cap_ends_on_the_completion_url_and_leaves_no_item_leased():
    session = session_with_recruitment(n=6, k=2, max_items_per_judge=3)
    url = "https://app.prolific.com/submissions/complete?cc=C0DE42"
    link = invitations.create_link(session, "open", platform="prolific", completion_url=url)
    client = visitor()
    client.get(open_url(link, PROLIFIC))
    through_consent(client)
    visited = judge_items(client, session, 3)
    judge = judge_of(client)
    assert Judgment.objects.filter(judge=judge.user).count() == 3
    finish = client.get(visited[-1])  # the item leased after the third submit is given back
    assert finish["Location"] == reverse("annotation:invite-finish")
    assert client.get(finish["Location"])["Location"] == url
    assert not Assignment.objects.filter(judge=judge.user, submitted_at__isnull=True).exists()
    judge.refresh_from_db()
    assert judge.finished_at is not None
    assert client.get(reverse("annotation:judge-next", args=[session.pk]))["Location"] == CONTINUE
    assert client.get(CONTINUE)["Location"] == reverse("annotation:invite-finish")


def test_running_out_of_items_shows_the_completion_code():
    session = session_with_recruitment(n=2, k=1)
    link = invitations.create_link(session, "personal", completion_code="THANKS-7")
    client = visitor()
    client.get(open_url(link))
    through_consent(client)
    visited = judge_items(client, session, 2)
    assert visited[-1] == reverse("annotation:judge-done", args=[session.pk])
    finished = client.get(visited[-1], follow=True)
    assert "THANKS-7" in finished.content.decode() and judge_of(client).finished_at is not None


def test_an_idle_judge_gives_the_leased_item_back():
    session = session_with_recruitment(idle_timeout_seconds=120)
    client = visitor()
    client.get(open_url(invitations.create_link(session, "open")))
    through_consent(client)
    client.get(reverse("annotation:judge-next", args=[session.pk]))
    judge = judge_of(client)
    assert Assignment.objects.filter(judge=judge.user, submitted_at__isnull=True).count() == 1
    assert recruiting.release_idle(timezone.now() + timedelta(seconds=60)) == 0
    assert recruiting.release_idle(timezone.now() + timedelta(seconds=180)) == 1
    assert not Assignment.objects.filter(judge=judge.user).exists()


def test_the_qualification_block_cannot_change_once_answered():
    session = session_with_recruitment(qualification=2)
    client = visitor()
    client.get(open_url(invitations.create_link(session, "open")))
    through_consent(client)
    client.get(reverse("annotation:invite-qualify"))
    assert QualificationAnswer.objects.count() == 1
    with pytest.raises(recruiting.QualificationError, match="already answered"):
        recruiting.build_qualification(session, 3)
    assert InvitedJudge.objects.get().qualification == ""
