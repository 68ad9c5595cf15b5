"""The late-submit rule: a submit after the lease ran out is accepted while the slot has not been leased to
another judge, and refused (with a way on to the next item) once it has. Runs on whichever database the suite
uses: SQLite by default, PostgreSQL with DATABASE_URL (the race test needs real concurrent connections)."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from annotation.models import Assignment, Judgment
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer, make_session
from tests.conftest import make_user

pytestmark = pytest.mark.sqlite_smoke  # the budgets / write path hold on the SQLite default too


def assert_never_over_k(session) -> None:
    per_item = Counter(Judgment.objects.filter(session=session).values_list("item_id", flat=True))
    assert all(n <= session.judges_per_item for n in per_item.values()), per_item
    pairs = list(Judgment.objects.filter(session=session).values_list("item_id", "judge_id"))
    assert len(pairs) == len(set(pairs)), "a judge has two judgments of one item"
    # Every judgment belongs to the judge who holds its slot now.
    for judgment in Judgment.objects.filter(session=session).select_related("assignment"):
        assert judgment.assignment.judge_id == judgment.judge_id


@pytest.mark.django_db
def test_a_late_submit_after_the_slot_went_to_another_judge_is_refused_and_leads_to_the_next_item(client, bob, carol):
    session = make_session(n=3, k=1, judges=[bob, carol], lease_seconds=60)
    held = assigning.next_assignment(session, bob)
    Assignment.objects.filter(pk=held.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=15))
    # carol's order may start elsewhere: let her take slots until she has bob's
    while (taken := assigning.next_assignment(session, carol)).pk != held.pk:
        judging.submit(taken.token, carol, answer())
    client.force_login(bob)
    response = client.post(
        reverse("annotation:judge-item", args=[held.token]),
        {"left_label": "correct", "right_label": "incorrect", "preference": "left", "session": session.pk},
    )
    assert response.status_code == 410
    html = response.content.decode()
    assert "was not stored" in html and "went to another judge" in html
    assert f'href="{reverse("annotation:judge-next", args=[session.pk])}"' in html
    assert not Judgment.objects.filter(judge=bob).exists()
    api = client.post(
        reverse("annotation:api-assignment", args=[held.token]),
        '{"left_label": "correct", "right_label": "incorrect", "preference": "left"}',
        content_type="application/json",
    )
    assert api.status_code == 410 and "was not stored" in api.json()["error"]
    # Following the link hands bob an item of his own (or the thank-you page when carol took them all).
    follow = client.get(reverse("annotation:judge-next", args=[session.pk]))
    assert follow.status_code == 302
    if "/j/" in follow["Location"]:
        assert Assignment.objects.get(token=follow["Location"].rstrip("/").rsplit("/", 1)[1]).judge == bob
    else:
        assert follow["Location"] == reverse("annotation:judge-done", args=[session.pk])
    assert_never_over_k(session)


@pytest.mark.django_db
def test_a_late_submit_is_accepted_while_nobody_else_has_leased_the_slot(client, bob):
    session = make_session(n=2, k=1, judges=[bob], lease_seconds=60)
    held = assigning.next_assignment(session, bob)
    Assignment.objects.filter(pk=held.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=15))
    client.force_login(bob)
    response = client.post(
        reverse("annotation:judge-item", args=[held.token]),
        {"left_label": "correct", "right_label": "incorrect", "preference": "left", "session": session.pk},
    )
    assert response.status_code == 302
    assert Judgment.objects.get().assignment_id == held.pk


@pytest.mark.django_db
def test_a_judge_handed_another_slot_of_the_same_item_still_ends_with_one_judgment(bob, carol):
    session = make_session(n=1, k=2, judges=[bob, carol], lease_seconds=60)
    first = assigning.next_assignment(session, bob)
    later = timezone.now() + timedelta(seconds=75)
    taken = assigning.next_assignment(session, carol, now=later)
    assert taken.pk == first.pk  # carol took bob's expired slot
    second = assigning.next_assignment(session, bob, now=later)
    assert second.item_id == first.item_id and second.pk != first.pk  # bob now holds the other slot
    judging.submit(second.token, bob, answer())
    with pytest.raises(judging.AssignmentGone):
        judging.submit(first.token, bob, answer(submission_id="late"), now=later)
    judging.submit(taken.token, carol, answer())
    assert Judgment.objects.filter(judge=bob).count() == 1
    assert_never_over_k(session)


ROUNDS = 12


@pytest.mark.slow
def test_a_late_submit_racing_a_new_lease_never_gives_an_item_more_than_k(transactional_db):
    """Each round: bob's lease on the only slot ran out 15 s ago; his submit and carol's request for an item
    start at the same moment. Exactly one of them gets the slot, whichever it is."""
    bob, carol = make_user("bob", judge=True), make_user("carol", judge=True)
    outcomes = Counter()
    for round_ in range(ROUNDS):
        session = make_session(n=1, k=1, judges=[bob, carol], lease_seconds=60)
        held = assigning.next_assignment(session, bob)
        late = timezone.now() + timedelta(seconds=75)
        barrier = threading.Barrier(2)
        results: dict[str, object] = {}

        def bob_submits(held=held, late=late, barrier=barrier, results=results, sid=f"r{round_}") -> None:
            try:
                barrier.wait(timeout=30)
                results["bob"] = judging.submit(held.token, bob, answer(submission_id=sid), now=late)
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
                results["bob"] = exc
            finally:
                connection.close()

        def carol_asks(session=session, late=late, barrier=barrier, results=results) -> None:
            try:
                barrier.wait(timeout=30)
                results["carol"] = assigning.next_assignment(session, carol, now=late)
            except Exception as exc:  # noqa: BLE001
                results["carol"] = exc
            finally:
                connection.close()

        threads = [threading.Thread(target=bob_submits), threading.Thread(target=carol_asks)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        bobs, carols = results["bob"], results["carol"]
        if isinstance(bobs, judging.SubmitResult):
            assert carols is None, f"round {round_}: bob's late submit was stored and carol got {carols!r}"
            outcomes["bob stored"] += 1
        else:
            assert isinstance(bobs, judging.AssignmentGone), f"round {round_}: {bobs!r}"
            assert isinstance(carols, Assignment) and carols.judge_id == carol.pk, f"round {round_}: {carols!r}"
            judging.submit(carols.token, carol, answer())
            outcomes["carol took it"] += 1
        assert Judgment.objects.filter(session=session).count() == 1
        assert_never_over_k(session)
    assert sum(outcomes.values()) == ROUNDS
