"""Which judges a session's statistics leave out, and why: judges screened out by the qualification block
always (their judgments never count), and, when staff turn the switch on, judges whose control accuracy is
below the session's threshold (by default they are shown and flagged, not excluded)."""

from __future__ import annotations

import hashlib
import json

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from analysis.models import JudgePolicy
from annotation.models import InvitedJudge, JudgingSession, Judgment, Qualification
from annotation.services.controls import control_scores


def policy_for(session: JudgingSession) -> JudgePolicy:
    found = JudgePolicy.objects.filter(session=session).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return JudgePolicy.objects.create(session=session)
    except IntegrityError:
        return JudgePolicy.objects.get(session=session)


def excluded_judges(session: JudgingSession) -> dict[int, str]:
    """user id -> why their judgments are left out of every statistic of the session."""
    reasons: dict[int, str] = {}
    screened = InvitedJudge.objects.filter(session=session, qualification=Qualification.FAILED)
    for user_id in screened.values_list("user_id", flat=True):
        reasons[user_id] = "screened out by the qualification block"
    policy = JudgePolicy.objects.filter(session=session).first()
    if policy is not None and policy.exclude_below_threshold:
        for user_id, score in control_scores(session).items():
            if score.flagged and user_id not in reasons:
                reasons[user_id] = (
                    f"control accuracy {score.correct}/{score.checks} below the threshold {session.control_threshold:g}"
                )
    return reasons


def counted_judgments(session: JudgingSession, excluded: dict[int, str]) -> QuerySet[Judgment]:
    judgments = Judgment.objects.filter(session=session)
    return judgments.exclude(judge_id__in=sorted(excluded)) if excluded else judgments


def exclusion_key(excluded: dict[int, str]) -> str:
    """Part of the statistics fingerprint: flipping the switch or a judge crossing the threshold makes the
    stored result stale."""
    if not excluded:
        return "-"
    return hashlib.sha256(json.dumps(sorted(excluded)).encode()).hexdigest()[:12]
