"""Creating judging sessions (items + their k assignment slots), who may judge them, and safe instructions."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import markdown
import nh3
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils.safestring import SafeString, mark_safe

from annotation.models import (
    DEFAULT_ACCURACY_LABELS,
    Assignment,
    ItemAnswer,
    JudgingSession,
    MatchupDesign,
    SessionItem,
    SessionSystem,
    default_accuracy_labels,
)
from core.permissions import JUDGES_GROUP, is_judge
from qasynth_lib.matchups import balanced_schedule

MAX_JUDGES_PER_ITEM = 50
MAX_LABELS = 3  # keyboard: 1/2/3 for the left answer, 4/5/6 for the right one
PERMUTATION_PRIME = 2_147_483_647  # 2**31 - 1; per-judge order is (a * shuffle_key + c) mod P


class SessionError(ValueError):
    """Invalid session settings; the message says which setting and why."""


@dataclass
class ItemData:
    """One item as read from an upload, an experiment or two evaluation runs (answer_a is system A's)."""

    question: str
    answer_a: str
    answer_b: str
    context: str = ""
    gold_answers: list[str] = field(default_factory=list)
    external_id: str = ""
    metrics_a: dict = field(default_factory=dict)
    metrics_b: dict = field(default_factory=dict)
    more_answers: list[str] = field(default_factory=list)
    """Answers of systems 2 .. K-1 (K > 2), in system order; answer_a/answer_b are systems 0 and 1."""
    more_metrics: list[dict] = field(default_factory=list)

    @classmethod
    def from_answers(cls, question: str, answers: Sequence[str], metrics: Sequence[dict] = (), **rest) -> ItemData:
        """An item answered by K >= 2 systems, answers in system order."""
        scores = list(metrics) + [{}] * (len(answers) - len(metrics))
        return cls(
            question=question, answer_a=answers[0], answer_b=answers[1], metrics_a=scores[0], metrics_b=scores[1],
            more_answers=list(answers[2:]), more_metrics=scores[2:], **rest,
        )  # fmt: skip

    @property
    def answers(self) -> list[str]:
        return [self.answer_a, self.answer_b, *self.more_answers]

    @property
    def metrics(self) -> list[dict]:
        extra = list(self.more_metrics) + [{}] * (len(self.more_answers) - len(self.more_metrics))
        return [self.metrics_a, self.metrics_b, *extra]


def render_instructions(text: str) -> SafeString:
    """Markdown to HTML, then sanitised by nh3 (no scripts, handlers or javascript: links survive)."""
    return mark_safe(_render_markdown(text or ""))  # noqa: S308 - sanitised in _render_markdown


@lru_cache(maxsize=64)
def _render_markdown(text: str) -> str:
    """Cached: every judging page shows the session's instructions, which rarely change."""
    return nh3.clean(markdown.markdown(text, extensions=["sane_lists"]))


def _folded(text: str) -> str:
    return " ".join(text.casefold().split())


DEFAULT_KEYS_BY_TEXT = {
    _folded(text): label["key"] for label in DEFAULT_ACCURACY_LABELS for text in (label["key"], label["label"])
}
"""A default label typed as text ("Partially correct", "partial") keeps its one code ("partial"), so the demo,
uploads and sessions from runs export, serve and count the same label under the same code."""


def label_key_for(text: str) -> str:
    """The code stored for a label given as text: the default label's key, else a slug of the text."""
    return DEFAULT_KEYS_BY_TEXT.get(_folded(text)) or "-".join(text.lower().split())[:32]


def normalise_labels(labels: Sequence[dict] | Sequence[str] | None) -> list[dict[str, str]]:
    """Validate an editable label set: 2-3 labels, ordered best to worst, unique short keys."""
    if not labels:
        return default_accuracy_labels()
    result: list[dict[str, str]] = []
    for raw in labels:
        if isinstance(raw, str):
            text = raw.strip()
            entry = {"key": label_key_for(text), "label": text}
        else:
            entry = {"key": str(raw.get("key", "")).strip()[:32], "label": str(raw.get("label", "")).strip()}
            entry["label"] = entry["label"] or entry["key"]
        if not entry["key"]:
            raise SessionError(f"Accuracy label {len(result) + 1} is empty.")
        result.append(entry)
    keys = [entry["key"] for entry in result]
    if len(set(keys)) != len(keys):
        raise SessionError(f"Accuracy labels must be distinct; got {keys}.")
    if not 2 <= len(result) <= MAX_LABELS:
        raise SessionError(f"Give 2 to {MAX_LABELS} accuracy labels (best first); got {len(result)}.")
    return result


def validate_settings(*, judges_per_item: int, lease_seconds: int, control_rate: float, block_size: int) -> None:
    if not 1 <= judges_per_item <= MAX_JUDGES_PER_ITEM:
        raise SessionError(f"Judges per item must be between 1 and {MAX_JUDGES_PER_ITEM}; got {judges_per_item}.")
    if lease_seconds < 30:
        raise SessionError(f"The lease must be at least 30 seconds; got {lease_seconds}.")
    if not 0 <= control_rate <= 0.5:
        raise SessionError(f"The control rate must be between 0 and 0.5; got {control_rate}.")
    if block_size < 1:
        raise SessionError(f"The block size must be at least 1; got {block_size}.")


def pairs_per_item_for(n_systems: int, design: str, pairs_per_item: int | None) -> int:
    """All pairs: K (K - 1) / 2; balanced/adaptive: the setting (1 .. K (K - 1) / 2, default 1)."""
    every = n_systems * (n_systems - 1) // 2
    if design == MatchupDesign.ALL_PAIRS:
        return every
    if design not in MatchupDesign.values:
        raise SessionError(f"Unknown matchup design {design!r}; choose one of {', '.join(MatchupDesign.values)}.")
    wanted = pairs_per_item or 1
    if not 1 <= wanted <= every:
        raise SessionError(f"Pairs per item must be between 1 and {every} for {n_systems} systems; got {wanted}.")
    return wanted


def create_session(
    *,
    name: str,
    system_a: str,
    system_b: str,
    items: Sequence[ItemData],
    more_systems: Sequence[str] = (),
    system_sources: Sequence[dict] | None = None,
    matchup_design: str = MatchupDesign.ALL_PAIRS,
    pairs_per_item: int | None = None,
    judges_per_item: int = 3,
    judges: Iterable[User] = (),
    open_to_all_judges: bool = False,
    created_by: User | None = None,
    instructions: str = "",
    accuracy_labels: Sequence | None = None,
    ask_preference: bool = True,
    ask_comment: bool = True,
    show_gold: bool = False,
    lease_seconds: int = 600,
    block_size: int = 10,
    control_rate: float = 0.0,
    control_threshold: float = 0.7,
    source: dict | None = None,
    is_demo: bool = False,
    is_open: bool = True,
) -> JudgingSession:
    """Create the session, its K systems, items, answers and the free slots in one transaction (all or nothing).

    K = 2 (no more_systems): k slots per item, all showing systems 0 and 1, exactly the two-system session. K > 2:
    the matchup design decides which pairs each item gets (k slots per pair)."""
    if not name.strip():
        raise SessionError("The session needs a name.")
    if not items:
        raise SessionError("The session has no items.")
    if system_a.strip() == system_b.strip():
        raise SessionError(f"The two systems must differ; both are {system_a!r}.")
    names = [system.strip() for system in (system_a, system_b, *more_systems)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated or not all(names):
        raise SessionError(f"Every system needs its own non-empty name; repeated: {repeated or ['(empty)']}.")
    n_systems = len(names)
    for number, data in enumerate(items, start=1):
        if len(data.answers) != n_systems:
            raise SessionError(f"Item {number} has {len(data.answers)} answers for {n_systems} systems.")
    if n_systems == 2:  # one pair only: the staff form's design/pairs settings do not apply
        matchup_design, pairs_per_item = MatchupDesign.ALL_PAIRS, None
    pairs = pairs_per_item_for(n_systems, matchup_design, pairs_per_item)
    if n_systems > 2 and control_rate > 0:
        raise SessionError("Control items are available for two-system sessions only; set the control rate to 0.")
    labels = normalise_labels(accuracy_labels)
    validate_settings(
        judges_per_item=judges_per_item, lease_seconds=lease_seconds, control_rate=control_rate, block_size=block_size
    )
    with transaction.atomic():
        session = JudgingSession.objects.create(
            name=name.strip(),
            instructions=instructions,
            system_a=system_a.strip(),
            system_b=system_b.strip(),
            judges_per_item=judges_per_item,
            n_systems=n_systems,
            matchup_design=matchup_design if n_systems > 2 else MatchupDesign.ALL_PAIRS,
            pairs_per_item=pairs,
            open_to_all_judges=open_to_all_judges,
            accuracy_labels=labels,
            ask_preference=ask_preference,
            ask_comment=ask_comment,
            show_gold=show_gold,
            lease_seconds=lease_seconds,
            block_size=block_size,
            control_rate=control_rate,
            control_threshold=control_threshold,
            source=source or {},
            is_demo=is_demo,
            is_open=is_open,
            created_by=created_by,
        )
        sources = list(system_sources or []) + [{}] * n_systems
        SessionSystem.objects.bulk_create(
            SessionSystem(session=session, position=i, name=system_name[:200], source=sources[i])
            for i, system_name in enumerate(names)
        )
        judges = list(judges)
        if judges:
            session.judges.set(judges)
        add_items(session, items)
        if control_rate > 0:
            from annotation.services.controls import add_controls

            add_controls(session, control_rate)
    return session


def add_items(session: JudgingSession, items: Sequence[ItemData]) -> list[SessionItem]:
    """Append items with their k free slots. Call inside the caller's transaction."""
    rng = random.Random(session.seed ^ session.items.count())
    start = session.items.count()
    rows = [
        SessionItem(
            session=session,
            position=start + offset,
            block=(start + offset) // session.block_size,
            shuffle_key=rng.randrange(PERMUTATION_PRIME),
            external_id=data.external_id[:200],
            question=data.question,
            context=data.context,
            gold_answers=list(data.gold_answers),
            answer_a=data.answer_a,
            answer_b=data.answer_b,
            metrics_a=data.metrics_a,
            metrics_b=data.metrics_b,
        )
        for offset, data in enumerate(items)
    ]
    created = SessionItem.objects.bulk_create(rows, batch_size=500)
    if any(row.pk is None for row in created):  # backends without RETURNING: read the ids back
        created = list(session.items.filter(position__gte=start).order_by("position"))
    ItemAnswer.objects.bulk_create(
        (
            ItemAnswer(item=item, system=system, text=text, metrics=metrics or {})
            for item, data in zip(created, items, strict=True)
            for system, (text, metrics) in enumerate(zip(data.answers, data.metrics, strict=True))
        ),
        batch_size=1000,
    )
    create_slots(session, created)
    return created


def create_slots(session: JudgingSession, items: Sequence[SessionItem]) -> None:
    """k slots per shown pair. K = 2: the one pair (0, 1). K > 2: the pairs of matchups.balanced_schedule
    (pairs_per_item = K (K - 1) / 2 is "all pairs"); an adaptive session re-decides a slot's pair when it is
    first leased, so its schedule is only the starting point."""
    if session.n_systems == 2:
        pairs_of = {item.pk: [(0, 1)] for item in items}
    else:
        schedule = balanced_schedule(
            len(items), session.n_systems, session.pairs_per_item, seed=_schedule_seed(session, items)
        )
        pairs_of = {item.pk: [] for item in items}
        for index, a, b in schedule.tolist():
            pairs_of[items[index].pk].append((min(a, b), max(a, b)))
    slots = [
        Assignment(session=session, item=item, slot=slot, block=item.block, system_a=a, system_b=b)
        for item in items
        for slot, (a, b) in enumerate(pair for pair in pairs_of[item.pk] for _ in range(session.judges_per_item))
    ]
    Assignment.objects.bulk_create(slots, batch_size=1000)
    if len(slots) >= ANALYZE_AFTER_SLOTS and connection.vendor == "postgresql":
        transaction.on_commit(_refresh_planner_statistics)


ANALYZE_AFTER_SLOTS = 1000
"""A bulk load of at least this many slots is followed by ANALYZE on PostgreSQL (once committed)."""


def _refresh_planner_statistics() -> None:
    """Until autovacuum gets to a freshly loaded table, PostgreSQL plans the judging queries from statistics
    that do not know the new session's rows: the open-comparison count of a K = 8 session then took 15 ms (a
    nested loop per open slot) instead of 1.9 ms. Bulk load, then ANALYZE, as the PostgreSQL manual advises;
    it samples a fixed number of rows, so it stays cheap on a big table, and it blocks no reads or writes."""
    with connection.cursor() as cursor:
        tables = (connection.ops.quote_name(model._meta.db_table) for model in (Assignment, SessionItem))
        cursor.execute(f"ANALYZE {', '.join(tables)}")


def _schedule_seed(session: JudgingSession, items: Sequence[SessionItem]) -> int:
    return (session.seed ^ (items[0].position if items else 0)) % (2**63)


# --- who may judge ---------------------------------------------------------------------------------


def may_judge(session: JudgingSession, user: User) -> bool:
    if not user.is_authenticated:
        return False
    if session.judges.filter(pk=user.pk).exists():
        return True
    return session.open_to_all_judges and is_judge(user)


def sessions_for_judge(user: User) -> QuerySet[JudgingSession]:
    """Open sessions this user takes part in (named, or open to every judge when they are one)."""
    condition = Q(judges=user)
    if user.groups.filter(name=JUDGES_GROUP).exists():
        condition |= Q(open_to_all_judges=True)
    return JudgingSession.objects.filter(condition, is_open=True).distinct().order_by("-created_at")
