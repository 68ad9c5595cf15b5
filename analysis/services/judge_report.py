"""Per-judge report of a session: where each judge stands, items done, active time, control accuracy, the
qualification result, whether the statistics leave them out, and an estimated pay at the staff-set rate.

Active time is server-side: the sum over the judge's judgments of the time from assignment to first submit
(each capped at the session's lease, so a page left open over lunch does not count), plus the time spent on
the qualification items. Worker ids are shown on the staff page; the CSV pseudonymises them (like judges)
unless staff ask for real names.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Least
from django.utils import timezone

from analysis.services.judge_policy import excluded_judges, policy_for
from analysis.services.pseudonyms import display_names
from annotation.models import InvitedJudge, JudgingSession, Judgment, Qualification, Recruitment, SessionJudge
from annotation.services.controls import control_scores
from annotation.services.recruiting import qualification_score, qualification_times_ms, step_for

CSV_COLUMNS = (
    "judge", "source", "worker", "study", "platform_session", "status", "items_done", "control_items_done",
    "active_seconds", "control_correct", "control_checks", "control_accuracy", "qualification_correct",
    "qualification_checks", "flagged", "excluded", "excluded_reason", "estimated_pay", "currency",
)  # fmt: skip


@dataclass
class ReportRow:
    user_id: int
    name: str
    source: str
    status: str
    worker_id: str = ""
    study_id: str = ""
    platform_session_id: str = ""
    items_done: int = 0
    control_items_done: int = 0
    active_seconds: float = 0.0
    control_correct: int = 0
    control_checks: int = 0
    qualification: tuple[int, int] | None = None
    flagged: bool = False
    excluded_reason: str = ""
    pay: Decimal = Decimal("0.00")

    @property
    def control_accuracy(self) -> float | None:
        return self.control_correct / self.control_checks if self.control_checks else None

    @property
    def active_minutes(self) -> float:
        return self.active_seconds / 60


@dataclass
class JudgeReport:
    session: JudgingSession
    rows: list[ReportRow] = field(default_factory=list)
    hourly_rate: Decimal = Decimal("0")
    currency: str = ""
    exclude_below_threshold: bool = False

    @property
    def total_pay(self) -> Decimal:
        return sum((row.pay for row in self.rows), Decimal("0.00"))

    @property
    def quitters(self) -> list[ReportRow]:
        return [row for row in self.rows if row.status == "quit early"]


def _status(judge: InvitedJudge, recruitment: Recruitment | None, now: datetime) -> str:
    step = step_for(judge)
    if judge.qualification == Qualification.FAILED:
        return "screened out"
    if judge.finished_at is not None:
        return "finished"
    if step == "withdrawn":
        return "withdrawn"
    idle = timedelta(seconds=recruitment.idle_timeout_seconds if recruitment else 900)
    if (judge.last_seen_at or judge.created_at) < now - idle:
        return "quit early"
    return {"consent": "reading consent", "instructions": "reading instructions",
            "qualification": "in qualification"}.get(step, "judging")  # fmt: skip


def _pay(seconds: float, rate: Decimal) -> Decimal:
    return (Decimal(str(seconds)) / Decimal(3600) * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def worker_pseudonym(session: JudgingSession, worker_id: str) -> str:
    if not worker_id:
        return ""
    message = f"qasynth-worker-pseudonym:{session.pk}:{worker_id}".encode()
    return "worker-" + hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:10]


def judge_report(session: JudgingSession, *, usernames: bool = True, now: datetime | None = None) -> JudgeReport:
    now = now or timezone.now()
    policy = policy_for(session)
    recruitment = Recruitment.objects.filter(session=session).first()
    invited = {j.user_id: j for j in InvitedJudge.objects.filter(session=session).select_related("link", "session")}
    member_ids = set(SessionJudge.objects.filter(session=session).values_list("judge_id", flat=True))
    member_ids |= set(session.judges.values_list("pk", flat=True))  # named judges who have not started yet
    lease_ms = session.lease_seconds * 1000
    per_judge = {
        row["judge_id"]: row
        for row in Judgment.objects.filter(session=session).values("judge_id").annotate(
            done=Count("pk", filter=Q(item__is_control=False)),
            controls=Count("pk", filter=Q(item__is_control=True)),
            ms=Sum(Least("time_on_item_ms", Value(lease_ms))),
        )
    }  # fmt: skip
    qualification_ms = qualification_times_ms(session)
    scores = control_scores(session)
    excluded = excluded_judges(session)
    user_ids = sorted(member_ids | set(invited) | set(per_judge))
    names = display_names(session, user_ids, usernames=usernames)
    report = JudgeReport(session, hourly_rate=policy.hourly_rate, currency=policy.currency,
                         exclude_below_threshold=policy.exclude_below_threshold)  # fmt: skip
    for user_id in user_ids:
        judge = invited.get(user_id)
        counts = per_judge.get(user_id, {"done": 0, "controls": 0, "ms": 0})
        seconds = ((counts["ms"] or 0) + qualification_ms.get(user_id, 0)) / 1000
        score = scores.get(user_id)
        row = ReportRow(
            user_id=user_id,
            name=names[user_id],
            source="account" if judge is None else f"{judge.link.kind} link" + (" (crowd)" if judge.worker_id else ""),
            status="account" if judge is None else _status(judge, recruitment, now),
            items_done=counts["done"],
            control_items_done=counts["controls"],
            active_seconds=seconds,
            control_correct=score.correct if score else 0,
            control_checks=score.checks if score else 0,
            flagged=bool(score and score.flagged),
            excluded_reason=excluded.get(user_id, ""),
            pay=_pay(seconds, policy.hourly_rate),
        )
        if judge is not None:
            row.worker_id, row.study_id, row.platform_session_id = (
                judge.worker_id, judge.study_id, judge.platform_session_id
            )  # fmt: skip
            if recruitment and recruitment.qualification_size:
                row.qualification = qualification_score(judge)
        report.rows.append(row)
    return report


def csv_rows(report: JudgeReport, *, usernames: bool) -> Iterator[list]:
    """The report as CSV rows; worker/study/session ids in the clear only with ``usernames``."""
    session = report.session
    yield list(CSV_COLUMNS)
    for row in report.rows:
        worker = row.worker_id if usernames else worker_pseudonym(session, row.worker_id)
        accuracy = row.control_accuracy
        yield [
            row.name, row.source, worker, row.study_id if usernames else "",
            row.platform_session_id if usernames else "", row.status, row.items_done, row.control_items_done,
            f"{row.active_seconds:.1f}", row.control_correct, row.control_checks,
            "" if accuracy is None else f"{accuracy:.4f}", row.qualification[0] if row.qualification else "",
            row.qualification[1] if row.qualification else "", int(row.flagged), int(bool(row.excluded_reason)),
            row.excluded_reason, f"{row.pay:.2f}", report.currency,
        ]  # fmt: skip


def to_csv(report: JudgeReport, *, usernames: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for values in csv_rows(report, usernames=usernames):
        writer.writerow(values)
    return out.getvalue()
