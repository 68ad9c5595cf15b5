"""Builders for the invitation tests: a session with gold answers, links, and a browser-like client."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from annotation.models import InvitedJudge
from annotation.services import invitations
from tests.annotation.helpers import make_session

PROLIFIC = {"PROLIFIC_PID": "5f1a2b3c4d5e6f7a8b9c0d1e", "STUDY_ID": "study-77", "SESSION_ID": "sess-1"}


def session_with_recruitment(n: int = 6, k: int = 2, *, qualification: int = 0, threshold: float = 0.5, **settings):
    """A session whose items have gold answers, with its Recruitment row set as asked."""
    from annotation.services import recruiting

    session = make_session(n=n, k=k, instructions="Judge **each answer** on its own.")
    recruitment = invitations.recruitment_for(session)
    recruitment.qualification_size = qualification
    recruitment.qualification_threshold = threshold
    for name, value in settings.items():
        setattr(recruitment, name, value)
    recruitment.save()
    recruiting.build_qualification(session, qualification)
    return session


def open_url(link, query: dict | None = None) -> str:
    from urllib.parse import urlencode

    path = invitations.link_path(link)
    return f"{path}?{urlencode(query)}" if query else path


def visitor(address: str = "192.0.2.10") -> Client:
    return Client(raise_request_exception=False, REMOTE_ADDR=address)


def judge_of(client: Client) -> InvitedJudge:
    return InvitedJudge.objects.get(user_id=int(client.session["_auth_user_id"]))


def through_consent(client: Client) -> None:
    """Accept the consent page and read the instructions."""
    assert client.post(reverse("annotation:invite-consent"), {"agree": "yes"}).status_code == 302
    assert client.post(reverse("annotation:invite-instructions")).status_code == 302


def answer_qualification(client: Client, *, right: bool) -> None:
    """Answer every qualification item, each right (the expected label on the checked side) or wrong."""
    from annotation.models import QualificationAnswer

    judge = judge_of(client)
    while True:
        page = client.get(reverse("annotation:invite-qualify"))
        if page.status_code != 200:
            return
        answer = QualificationAnswer.objects.filter(judge=judge, answered_at__isnull=True).select_related("item").get()
        item, keys = answer.item, judge.session.label_keys
        expected = item.expected_label_a or item.expected_label_b
        other = keys[-1] if expected == keys[0] else keys[0]
        chosen = expected if right else other
        checked_left = bool(item.expected_label_b) == answer.swapped  # the checked answer is shown on the left
        left, right_label = (chosen, keys[1]) if checked_left else (keys[1], chosen)
        client.post(reverse("annotation:invite-qualify"), {"answer": answer.pk, "left_label": left,
                                                           "right_label": right_label})  # fmt: skip


def judge_items(client: Client, session, count: int) -> list[str]:
    """Judge `count` items through the pages; the locations visited."""
    visited = []
    response = client.get(reverse("annotation:judge-next", args=[session.pk]))
    for _ in range(count):
        location = response["Location"]
        visited.append(location)
        if "/annotation/j/" not in location:
            return visited
        page = client.get(location)
        assert page.status_code == 200, (location, page.status_code)
        data = {"left_label": "correct", "right_label": "incorrect", "preference": "left"}
        data["submission_id"] = re.search(r'name="submission_id" value="([0-9a-f]+)"', page.text).group(1)
        response = client.post(location, data)
        assert response.status_code == 302, response.content[:300]
    visited.append(response["Location"])
    return visited
