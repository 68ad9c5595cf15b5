"""A recruited session for the judge-policy tests: a good judge, a sloppy one (every control wrong, slow) and one
screened out by the qualification block, all through a Prolific-style open link; bob judges nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from analysis.services import judge_policy
from annotation.services import assignment as assigning
from annotation.services import controls, invitations, judging
from tests.annotation.helpers import answer
from tests.annotation.invite_helpers import (
    PROLIFIC,
    answer_qualification,
    judge_of,
    open_url,
    session_with_recruitment,
    through_consent,
    visitor,
)


def _judge_everything(session, user, *, controls_right: bool, seconds: int) -> None:
    """Judge every item the user can get; controls right or wrong; each took `seconds` on the server clock."""
    while (slot := assigning.next_assignment(session, user)) is not None:
        item = slot.item
        left, right = "correct", "incorrect"
        if item.is_control:
            expected = item.expected_label_a or item.expected_label_b
            given = expected if controls_right else ("incorrect" if expected == "correct" else "correct")
            on_a = bool(item.expected_label_a)
            shown_left = on_a != slot.swapped
            left, right = (given, "partial") if shown_left else ("partial", given)
        type(slot).objects.filter(pk=slot.pk).update(assigned_at=slot.assigned_at.replace(microsecond=0))
        slot.refresh_from_db()
        judging.submit(slot.token, user, answer(left, right), now=slot.assigned_at + timedelta(seconds=seconds))


def recruited_world(bob) -> tuple:
    """(session, good, sloppy, screened): the three InvitedJudge rows; staff pay 12.00 an hour."""
    session = session_with_recruitment(n=8, k=3, qualification=2, threshold=0.5)
    controls.add_controls(session, 0.2)
    link = invitations.create_link(session, "open", platform="prolific")
    good, sloppy, screened = visitor("192.0.2.1"), visitor("192.0.2.2"), visitor("192.0.2.3")
    for client, worker in ((good, "W-GOOD"), (sloppy, "W-SLOPPY"), (screened, "W-SCREENED")):
        client.get(open_url(link, {**PROLIFIC, "PROLIFIC_PID": worker}))
        through_consent(client)
        answer_qualification(client, right=client is not screened)
    session.judges.add(bob)
    good_user, sloppy_user = judge_of(good).user, judge_of(sloppy).user
    _judge_everything(session, good_user, controls_right=True, seconds=30)
    _judge_everything(session, sloppy_user, controls_right=False, seconds=5000)  # capped at the 600 s lease
    policy = judge_policy.policy_for(session)
    policy.hourly_rate = Decimal("12.00")
    policy.save()
    return session, judge_of(good), judge_of(sloppy), judge_of(screened)
