"""Judges flag an item ("cannot be answered from the passage", "both answers are identical", or a note) and skip
it: it counts as judged for them, staff see the flags per item and in exports, statistics keep flagged items
unless asked to leave them out."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.urls import reverse

from analysis.services import statistics
from analysis.services.statistics import Variant
from annotation.models import Assignment, FlagReason, ItemFlag, Judgment
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer, make_session

pytestmark = pytest.mark.django_db


def flag_on_page(client, assignment, reason: str, note: str = ""):
    return client.post(
        reverse("annotation:judge-item", args=[assignment.token]),
        {"action": "flag", "flag_reason": reason, "flag_note": note, "session": assignment.session_id},
    )


def test_the_judging_page_offers_the_flag_reasons(bob_client, bob):
    session = make_session(n=1, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    html = bob_client.get(reverse("annotation:judge-item", args=[a.token])).content.decode()
    assert 'id="flag-form"' in html
    assert "The question cannot be answered from the passage" in html and "Both answers are identical" in html
    assert 'name="flag_note"' in html


def test_a_flagged_item_counts_as_judged_for_that_judge_and_is_not_handed_out_again(bob_client, bob, carol):
    session = make_session(n=2, k=1, judges=[bob, carol])
    a = assigning.next_assignment(session, bob)
    response = flag_on_page(bob_client, a, FlagReason.UNANSWERABLE)
    assert response.status_code == 302 and "/annotation/j/" in response["Location"]  # on to the next item
    flag = ItemFlag.objects.get()
    assert (flag.item_id, flag.judge, flag.reason, flag.note) == (a.item_id, bob, "unanswerable", "")
    a.refresh_from_db()
    assert a.submitted_at is not None and a.judge == bob
    assert not Judgment.objects.exists()
    progress = assigning.judge_progress(session, bob)
    assert (progress.done, progress.pending, progress.available) == (1, 1, 0)
    nxt = assigning.next_assignment(session, bob)
    assert nxt.item_id != a.item_id
    assert assigning.next_assignment(session, carol) is None  # k = 1: the flagged slot is used up too


def test_other_needs_a_note_and_unknown_reasons_are_refused(bob_client, bob):
    session = make_session(n=1, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    response = flag_on_page(bob_client, a, FlagReason.OTHER)
    assert response.status_code == 400 and "Describe the problem in the note" in response.content.decode()
    response = flag_on_page(bob_client, a, "boring")
    assert response.status_code == 400 and "Choose why you skip this item" in response.content.decode()
    assert not ItemFlag.objects.exists()
    assert Assignment.objects.get(pk=a.pk).submitted_at is None
    assert flag_on_page(bob_client, a, FlagReason.OTHER, "the passage is cut off").status_code == 302
    assert ItemFlag.objects.get().note == "the passage is cut off"


def test_a_flag_can_be_revised_and_coexists_with_labels(bob_client, bob):
    session = make_session(n=2, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    judging.submit(a.token, bob, answer())
    assert flag_on_page(bob_client, a, FlagReason.IDENTICAL).status_code == 302
    page = bob_client.get(reverse("annotation:judge-item", args=[a.token])).content.decode()
    assert 'id="flag-badge"' in page and "Both answers are identical" in page
    assert flag_on_page(bob_client, a, FlagReason.OTHER, "typo in the question").status_code == 302
    assert ItemFlag.objects.get().reason == "other" and Judgment.objects.count() == 1


def test_the_api_flags_too(bob_client, bob):
    session = make_session(n=1, k=1, judges=[bob])
    a = assigning.next_assignment(session, bob)
    url = reverse("annotation:api-flag", args=[a.token])
    bad = bob_client.post(url, json.dumps({"reason": "other"}), content_type="application/json")
    assert bad.status_code == 400 and "note" in bad.json()["error"]
    ok = bob_client.post(url, json.dumps({"reason": "identical"}), content_type="application/json")
    assert ok.status_code == 200 and ok.json() == {"flagged": True, "created": True, "reason": "identical"}


def flagged_session(bob, carol):
    """Four items judged by bob and carol; carol flags one item instead of labelling it."""
    session = make_session(n=4, k=2, judges=[bob, carol])
    flagged_item = None
    for judge in (bob, carol):
        while (a := assigning.next_assignment(session, judge)) is not None:
            if judge == carol and flagged_item is None:
                judging.flag(a.token, carol, FlagReason.OTHER, "answer B is cut off")
                flagged_item = a.item_id
            else:
                judging.submit(a.token, judge, answer())
    return session, flagged_item


def test_staff_see_flags_per_item_on_the_session_page(alice_client, bob, carol):
    session, flagged_item = flagged_session(bob, carol)
    html = alice_client.get(session.get_absolute_url()).content.decode()
    assert "Another problem (described in the note): answer B is cut off" in html
    assert "1 item flagged by judges" in html


def test_exports_carry_the_flags_of_each_item(alice_client, bob, carol):
    session, flagged_item = flagged_session(bob, carol)
    response = alice_client.get(reverse("api:session-export", args=[session.pk, "items", "csv"]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    by_item = {int(row["item_id"]): row for row in rows}
    assert by_item[flagged_item]["n_flags"] == "1"
    assert json.loads(by_item[flagged_item]["flags"]) == ["other: answer B is cut off"]
    assert all(row["n_flags"] == "0" for item, row in by_item.items() if item != flagged_item)


def test_statistics_keep_flagged_items_by_default_and_can_leave_them_out(alice_client, bob, carol):
    session, flagged_item = flagged_session(bob, carol)
    kept = statistics.compute(session, Variant(n_boot=0))["result"]
    left_out = statistics.compute(session, Variant(n_boot=0, exclude_flagged=True))["result"]
    assert kept["flags"] == {"flagged_items": 1, "excluded": False}
    assert left_out["flags"] == {"flagged_items": 1, "excluded": True}
    assert kept["counts"]["n_judgments"] == 7 and left_out["counts"]["n_judgments"] == 6
    assert kept["counts"]["n_items"] == 4 and left_out["counts"]["n_items"] == 3
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    assert "1 item flagged by judges kept in every figure" in page and "?flagged=exclude" in page
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk]) + "?flagged=exclude")
    assert "1 item flagged by judges left out of every figure" in page.content.decode()
