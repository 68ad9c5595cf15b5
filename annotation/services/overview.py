"""Figures for the staff session page: progress per judge and per item, control accuracy, time on item."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from statistics import median

from django.db.models import Count, Q
from django.utils import timezone

from annotation.models import Assignment, ItemFlag, JudgingSession, Judgment, SessionItem
from annotation.services.controls import ControlScore, control_scores


@dataclass
class JudgeRow:
    judge_id: int
    username: str
    done: int = 0
    in_hand: int = 0
    median_seconds: float | None = None
    control: ControlScore | None = None
    revisions: int = 0


@dataclass
class ItemRow:
    item: SessionItem
    done: int
    leased: int
    k: int
    flags: list[ItemFlag] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.done >= self.k


@dataclass
class SessionOverview:
    session: JudgingSession
    items: int
    controls: int
    expected: int
    done: int
    median_seconds: float | None
    judges: list[JudgeRow] = field(default_factory=list)
    item_rows: list[ItemRow] = field(default_factory=list)
    complete_items: int = 0
    flagged_items: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.expected) if self.expected else 0

    @property
    def flagged(self) -> list[JudgeRow]:
        return [row for row in self.judges if row.control and row.control.flagged]


def session_overview(session: JudgingSession, *, item_limit: int = 500) -> SessionOverview:
    now = timezone.now()
    k = session.judges_per_item
    items = session.items.count()
    controls = session.items.filter(is_control=True).count()
    times_by_judge: dict[int, list[float]] = defaultdict(list)
    all_times: list[float] = []
    revisions: dict[int, int] = defaultdict(int)
    for judge_id, ms, count in Judgment.objects.filter(session=session).values_list(
        "judge_id", "time_on_item_ms", "revisions_count"
    ):
        times_by_judge[judge_id].append(ms / 1000)
        all_times.append(ms / 1000)
        revisions[judge_id] += count - 1
    rows: dict[int, JudgeRow] = {}
    per_judge = (
        Assignment.objects.filter(session=session, judge__isnull=False)
        .values("judge_id", "judge__username")
        .annotate(
            done=Count("pk", filter=Q(submitted_at__isnull=False)),
            in_hand=Count("pk", filter=Q(submitted_at__isnull=True, lease_expires_at__gte=now)),
        )
    )
    for entry in per_judge:
        rows[entry["judge_id"]] = JudgeRow(
            judge_id=entry["judge_id"], username=entry["judge__username"], done=entry["done"], in_hand=entry["in_hand"]
        )
    scores = control_scores(session)
    for judge_id, row in rows.items():
        times = times_by_judge.get(judge_id)
        row.median_seconds = median(times) if times else None
        row.control = scores.get(judge_id)
        row.revisions = revisions.get(judge_id, 0)
    item_rows = [
        ItemRow(item=item, done=item.n_done, leased=item.n_leased, k=k)
        for item in session.items.annotate(
            n_done=Count("assignments", filter=Q(assignments__submitted_at__isnull=False)),
            n_leased=Count(
                "assignments",
                filter=Q(assignments__submitted_at__isnull=True, assignments__lease_expires_at__gte=now),
            ),
        ).order_by("block", "position")[:item_limit]
    ]
    flags_by_item: dict[int, list[ItemFlag]] = defaultdict(list)
    shown_items = [row.item.pk for row in item_rows]
    for flag in ItemFlag.objects.filter(item_id__in=shown_items).select_related("judge").order_by("pk"):
        flags_by_item[flag.item_id].append(flag)
    for row in item_rows:
        row.flags = flags_by_item.get(row.item.pk, [])
    done = Assignment.objects.filter(session=session, submitted_at__isnull=False).count()
    complete = (
        session.items.annotate(n=Count("assignments", filter=Q(assignments__submitted_at__isnull=False)))
        .filter(n__gte=k)
        .count()
    )
    return SessionOverview(
        session=session,
        items=items,
        controls=controls,
        expected=items * k,
        done=done,
        median_seconds=median(all_times) if all_times else None,
        judges=sorted(rows.values(), key=lambda row: row.username),
        item_rows=item_rows,
        complete_items=complete,
        flagged_items=ItemFlag.objects.filter(session=session).values("item_id").distinct().count(),
    )
