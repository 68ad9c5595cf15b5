"""The staff session page: progress per judge and item, median time, open/close, the statistics place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from annotation.models import JudgingSession
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import SYSTEM_A, answer, make_session

pytestmark = pytest.mark.django_db


def test_staff_see_progress_per_judge_and_item_and_median_time(alice_client, bob, carol):
    session = make_session(n=3, k=2, judges=[bob, carol])
    for seconds, judge in ((4, bob), (8, bob), (30, carol)):
        a = assigning.next_assignment(session, judge)
        judging.submit(a.token, judge, answer(), now=a.assigned_at + timedelta(seconds=seconds))
    assigning.next_assignment(session, carol)  # one in hand
    response = alice_client.get(session.get_absolute_url())
    assert response.status_code == 200
    html = response.content.decode()
    assert SYSTEM_A in html  # staff know the systems
    assert "3</strong> of 6" in html
    assert "median time per item: 8.0 s" in html
    judges_table = html.split('id="judge-table"')[1].split("</table>")[0]
    assert "bob" in judges_table and "6.0" in judges_table  # bob's median of 4 s and 8 s
    assert "carol" in judges_table and "30.0" in judges_table
    assert html.count("/2</td>") == 3  # per-item "done/k" cells
    assert 'id="statistics-links"' in html


def test_staff_close_and_reopen_a_session(alice_client):
    session = make_session(n=1, k=1, open_to_all_judges=True)
    alice_client.post(reverse("annotation:session-toggle", args=[session.pk]))
    assert not JudgingSession.objects.get().is_open
    alice_client.post(reverse("annotation:session-toggle", args=[session.pk]))
    assert JudgingSession.objects.get().is_open


def test_staff_add_control_items_from_the_session_page(alice_client):
    session = make_session(n=9, k=1, open_to_all_judges=True)
    url = reverse("annotation:session-controls", args=[session.pk])
    response = alice_client.post(url, {"rate": 0.1, "threshold": 0.9})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.items.filter(is_control=True).count() == 1 and session.control_threshold == 0.9


def test_judges_cannot_see_the_staff_pages(bob_client):
    session = make_session(n=1, k=1, open_to_all_judges=True)
    assert bob_client.get(session.get_absolute_url()).status_code == 403
    assert bob_client.get(reverse("annotation:session-list")).status_code == 403


def test_the_session_list_shows_each_session(alice_client):
    make_session(n=2, k=1, open_to_all_judges=True, name="First comparison")
    html = alice_client.get(reverse("annotation:session-list")).content.decode()
    assert "First comparison" in html and SYSTEM_A in html


def test_the_admin_lists_every_judging_table(alice_client, bob):
    session = make_session(n=2, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    judging.submit(a.token, bob, answer())
    for model in ("judgingsession", "sessionitem", "sessionjudge", "assignment", "judgment"):
        assert alice_client.get(reverse(f"admin:annotation_{model}_changelist")).status_code == 200
    assert alice_client.get(reverse("admin:annotation_judgingsession_change", args=[session.pk])).status_code == 200
    judgment = session.judgments.get()
    assert alice_client.get(reverse("admin:annotation_judgment_change", args=[judgment.pk])).status_code == 200


def test_staff_navigation_links_to_judging(alice_client):
    html = alice_client.get(reverse("home")).content.decode()
    assert f'href="{reverse("annotation:session-list")}"' in html
