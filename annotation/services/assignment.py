"""Handing items to judges: each item has k slots; a judge leases one free slot of an item they have not
judged, and a lease that runs out returns the slot to the pool.

Concurrency: a judge's own requests are serialised by locking their SessionJudge row (a double click
cannot take two slots); different judges race only for slots, which PostgreSQL resolves with
`SELECT ... FOR UPDATE SKIP LOCKED` (a slot locked by one judge is skipped by the others, who take the
next free one). SQLite has no row locks; its IMMEDIATE transactions take the write lock at BEGIN, so the
same short transaction simply runs one at a time. The unique constraints (item, slot) and (item, judge)
make over-assignment impossible even if the logic were wrong.

Order: items are handed out block by block (finished items accumulate from the start), and inside a
block each judge walks their own permutation (a * shuffle_key + c) mod P, with (a, c) drawn per judge.
"""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Mod
from django.utils import timezone

from annotation.models import (
    Assignment,
    ItemFlag,
    JudgingSession,
    MatchupDesign,
    SessionJudge,
    new_seed,
    new_token,
)
from annotation.services import hot_queries, pair_counts
from annotation.services.sessions import PERMUTATION_PRIME, may_judge
from qasynth_lib.matchups import next_pair, ranked_pairs

RETRIES = 5
PROGRESS_COUNT_CAP = 500
logger = logging.getLogger(__name__)


class NotAllowed(PermissionError):
    """The user does not take part in this session."""


class SessionClosed(Exception):
    """Staff closed the session: nothing new is handed out or accepted."""


def require_open(session: JudgingSession) -> None:
    """SessionClosed unless the session still hands out items (every way to a new item checks it first)."""
    if not session.is_open:
        raise SessionClosed(f"Session {session.name!r} is closed.")


def placement_for(seed: int) -> bool:
    """True when system B goes on the left. Derived from the stored seed so it can be audited later."""
    return random.Random(seed).random() < 0.5


def participant(session: JudgingSession, judge: User) -> SessionJudge:
    """The judge's membership row (created on first visit, with their private permutation)."""
    found = SessionJudge.objects.filter(session=session, judge=judge).first()
    if found is not None:
        return found
    if not may_judge(session, judge):
        raise NotAllowed(f"{judge} does not take part in session {session.pk}.")
    try:
        with transaction.atomic():
            return SessionJudge.objects.create(
                session=session,
                judge=judge,
                perm_a=1 + secrets.randbelow(PERMUTATION_PRIME - 1),
                perm_c=secrets.randbelow(PERMUTATION_PRIME),
            )
    except IntegrityError:  # created by the judge's other tab at the same moment
        return SessionJudge.objects.get(session=session, judge=judge)


def free_slots(session: JudgingSession, now: datetime) -> QuerySet[Assignment]:
    return Assignment.objects.filter(session=session, submitted_at__isnull=True).filter(
        Q(judge__isnull=True) | Q(lease_expires_at__lt=now)
    )


def items_of(session: JudgingSession, judge: User) -> QuerySet:
    return Assignment.objects.filter(session=session, judge=judge).values("item_id")


def not_seen_by(slots: QuerySet[Assignment], session: JudgingSession, judge: User) -> QuerySet[Assignment]:
    """Slots whose (item, pair of systems) this judge has not had. With K = 2 every slot shows the same pair,
    so this is "items the judge has not had" (the plain subquery); with K > 2 a judge may see an item again
    with another pair, but not an item they flagged as unjudgeable."""
    if session.n_systems == 2:
        return slots.exclude(item_id__in=items_of(session, judge))
    had = Assignment.objects.filter(
        session=session, judge=judge, item_id=OuterRef("item_id"), system_a=OuterRef("system_a"),
        system_b=OuterRef("system_b"),
    )  # fmt: skip
    flagged = ItemFlag.objects.filter(session=session, judge=judge).values("item_id")
    return slots.exclude(Exists(had)).exclude(item_id__in=flagged)


def next_assignment(session: JudgingSession, judge: User, *, now: datetime | None = None) -> Assignment | None:
    """The judge's pending assignment (lease renewed) or a newly leased slot; None when nothing is left."""
    require_open(session)
    for attempt in range(RETRIES):
        try:
            leased = _lease(session, judge, now or timezone.now())
        except (IntegrityError, OperationalError) as exc:
            # IntegrityError: a constraint caught a race the locks should have prevented; OperationalError:
            # SQLite's busy timeout ran out or PostgreSQL found a deadlock. Retry with a short jitter.
            logger.warning(
                "leasing for judge %s in session %s: %s (attempt %d)", judge.pk, session.pk, exc, attempt + 1
            )
            if attempt == RETRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1) + random.random() * 0.02)
            continue
        if leased is _NOT_A_MEMBER_YET:
            participant(session, judge)  # first visit: join (or NotAllowed), then lease
            continue
        return leased
    return None


_NOT_A_MEMBER_YET = object()


def _lease(session: JudgingSession, judge: User, now: datetime):
    lease = timedelta(seconds=session.lease_seconds)
    with transaction.atomic():
        # Locking the membership row serialises this judge's own requests (double clicks, two tabs).
        member = SessionJudge.objects.select_for_update().filter(session=session, judge=judge).first()
        if member is None:
            return _NOT_A_MEMBER_YET
        pending = (
            Assignment.objects.select_for_update()
            .filter(session=session, judge=judge, submitted_at__isnull=True)
            .order_by("sequence")
            .first()
        )
        if pending is not None:
            if pending.lease_expires_at is None or pending.lease_expires_at < now:
                pending.assigned_at = now  # a fresh start: time on item counts from the renewed lease
            pending.lease_expires_at = now + lease
            pending.save(update_fields=["assigned_at", "lease_expires_at"])
            return pending
        open_slots = not_seen_by(free_slots(session, now), session, judge)
        # The first block with a slot for this judge (an index scan that stops at once), then a sort of only
        # that block and the next one; a full sort only when every slot there is locked by other judges.
        first_block = open_slots.order_by("block").values("block")[:1]
        window = open_slots.filter(block__lte=Subquery(first_block) + 1)
        slot = _pick(window, member) or _pick(open_slots, member)
        if slot is None:
            return None
        if slot.judge_id is not None:
            slot.times_released += 1
        last = Assignment.objects.filter(session=session, judge=judge).aggregate(n=Max("sequence"))["n"] or 0
        slot.seed = new_seed()
        if _adaptive(session) and slot.judge_id is None and not slot.times_released:  # its first lease
            choose_adaptive_pair(session, slot, judge)
        slot.judge = judge
        slot.token = new_token()
        slot.swapped = placement_for(slot.seed)
        slot.sequence = last + 1
        slot.assigned_at = now
        slot.lease_expires_at = now + lease
        slot.save()
        return slot


def choose_adaptive_pair(session: JudgingSession, slot: Assignment, judge: User) -> None:
    """Adaptive design: re-decide a never-leased slot's pair with matchups.next_pair (its documented rule: never
    compared pairs first, then overlapping strength intervals, then fewest comparisons, then a draw seeded by
    the session's and the lease's seeds). Counts of judgments per pair come from pair_counts (kept per process,
    brought up to date by a delta read); intervals from the last stored ranking. Pairs this judge already has
    on this item are left out, so k judges still share a pair; when no other pair is left the scheduled pair
    stays. (The hot path, _lease_adaptive, applies the same rule inside its lease statement.)"""
    shown = Assignment.objects.filter(session=session, item_id=slot.item_id, judge=judge).exclude(pk=slot.pk)
    pair = _adaptive_pair(
        session, slot.seed, pair_counts.session_counts(session), shown.values_list("system_a", "system_b")
    )
    if pair is not None:
        slot.system_a, slot.system_b = pair


def _adaptive_pair(
    session: JudgingSession, lease_seed: int, counts: np.ndarray, shown_pairs: Iterable[tuple[int, int]]
) -> tuple[int, int] | None:
    shown = np.zeros((session.n_systems,) * 2, dtype=bool)
    for a, b in shown_pairs:
        shown[a, b] = shown[b, a] = True
    return next_pair(counts, adaptive_intervals(session), shown_on_item=shown, seed=_rule_seed(session, lease_seed))


def _ranked_pairs(session: JudgingSession, lease_seed: int, counts: np.ndarray) -> list[tuple[int, int]]:
    """Every pair, best first by the rule of _adaptive_pair: its first pair not shown on an item is the pair
    _adaptive_pair gives for that item."""
    return ranked_pairs(counts, adaptive_intervals(session), seed=_rule_seed(session, lease_seed))


def _rule_seed(session: JudgingSession, lease_seed: int) -> list[int]:
    return [session.seed % 2**63, lease_seed]


def adaptive_intervals(session: JudgingSession) -> np.ndarray | None:
    """(K, 2) strength intervals of the session's last computed ranking, or None. Analysis writes them on the
    session row (every web process and worker sees them, and the hot path has them with the session it
    already read); an interval it could not compute is stored as nulls and reads as NaN."""
    stored = session.ranking_intervals
    if not stored or len(stored) != session.n_systems:
        return None
    return np.asarray([[np.nan if v is None else v for v in row] for row in stored], dtype=float)


# --- the hot path: a returning judge's next item in three statements --------------------------------------


def membership(session_pk: int, judge: User) -> SessionJudge | None:
    """The judge's membership with its session and everything the next lease needs, in ONE query: whether
    they may still judge here (named, or a judge in a session open to all judges), their last sequence
    number, their judged count and the assignment they hold, if any. None on a first visit. (The statement
    is written out in hot_queries: compiling it as an ORM query cost ten times what running it does.)"""
    return hot_queries.membership(session_pk, judge.pk)


def member_may_judge(member: SessionJudge, judge: User) -> bool:
    """may_judge() and the judges-only rule, from the annotations of membership()."""
    session = member.session
    judging = member.judging or judge.is_staff  # judge_required's rule (core.permissions.JUDGING_GROUPS)
    return judging and (member.named or (session.open_to_all_judges and member.in_group))


def lease_for_member(member: SessionJudge, judge: User, *, now: datetime | None = None) -> str | None:
    """Renew the held assignment or lease a new slot in ONE statement; its token, or None when that statement
    found nothing (the caller falls back to next_assignment(), which handles every rare case).

    Everything is decided before the statement (token, seed, placement, sequence), so the write lock is held
    for one UPDATE: on SQLite an autocommit write statement takes the write lock at its start, as IMMEDIATE
    does; on PostgreSQL the UPDATE locks the slot's row and re-checks it. The statement's own guard (the judge
    holds no unjudged slot) keeps a judge's two tabs from taking two slots, as the membership lock did.
    With K > 2 systems a slot shows the pair it was scheduled with; under the adaptive design the same
    statement gives a slot's first lease its pair (_lease_adaptive)."""
    session = member.session
    require_open(session)
    now = now or timezone.now()
    expires = now + timedelta(seconds=session.lease_seconds)
    if member.pending_id is not None:
        return member.pending_token if hot_queries.renew(member.pending_id, judge.pk, now, expires) else None
    token, seed = new_token(), new_seed()
    # One autocommit statement is its own transaction: no BEGIN/COMMIT round trips around it. The slot's
    # freedom is checked again by the UPDATE itself: on PostgreSQL a judge who picked the slot another judge
    # just took waits for that row, re-reads it, finds it taken and updates nothing (then the long way,
    # with SKIP LOCKED, finds another); permutations differ per judge, so such collisions are rare.
    lease = {"token": token, "seed": seed, "swapped": placement_for(seed), "now": now, "expires": expires,
             "prime": PERMUTATION_PRIME}  # fmt: skip
    try:
        if _adaptive(session):
            return token if _lease_adaptive(session, member, lease) else None
        leased = hot_queries.lease_new(member, **lease)
    except IntegrityError:  # (item, judge) or (session, judge, sequence) raced: the long way sorts it out
        return None
    return token if leased else None


def _adaptive(session: JudgingSession) -> bool:
    return session.matchup_design == MatchupDesign.ADAPTIVE and session.n_systems > 2


def _lease_adaptive(session: JudgingSession, member: SessionJudge, lease: dict) -> bool:
    """The adaptive design's lease in one statement: a slot leased for the first time (never leased before)
    takes the first of _ranked_pairs that its judge does not have on its item; a slot leased again keeps the
    pair it was given. The pairs are ranked before the statement from the counts this process keeps
    (pair_counts): on PostgreSQL the lease statement itself brings them up to date for the next lease, so
    they lag by at most the judgments since this process's previous lease (a read comes first when that was
    pair_counts.FRESH_SECONDS ago or more); on SQLite a read before each lease keeps them exact."""
    counting = connection.vendor == "postgresql"
    after, counts = pair_counts.up_to_date(
        session,
        lambda after: hot_queries.judgments_by_pair_after(session.pk, after),
        max_age=None if counting else 0.0,
    )
    ranked = _ranked_pairs(session, lease["seed"], counts)
    leased, newer = hot_queries.lease_new_adaptive(member, **lease, ranked=ranked, after_judgment=after)
    if newer is not None:
        pair_counts.counts_after(session, after, newer)
    return leased


def _pick(candidates: QuerySet[Assignment], member: SessionJudge) -> Assignment | None:
    """Lock the first free slot in the judge's own order; slots locked by others are skipped (PostgreSQL)."""
    return (
        candidates.select_for_update(skip_locked=True, of=("self",))
        .annotate(order=Mod(F("item__shuffle_key") * member.perm_a + member.perm_c, PERMUTATION_PRIME))
        .order_by("block", "order", "slot")
        .first()
    )


def release(assignment: Assignment) -> None:
    """Give a leased, unjudged slot back at once (the judge skipped it or staff freed it)."""
    with transaction.atomic():
        Assignment.objects.filter(pk=assignment.pk, submitted_at__isnull=True).update(
            judge=None, token=None, lease_expires_at=None, assigned_at=None, sequence=None,
            times_released=F("times_released") + 1,
        )  # fmt: skip


@dataclass
class JudgeProgress:
    """Counted in pages, what the judge experiences: one comparison (an item shown with one pair of answers)
    per page. With two systems a judge gets an item once, so comparisons are items; with K > 2 the same
    item can come back with another pair, and each of those pages counts."""

    done: int
    pending: int
    available: int
    capped: bool = False  # more than PROGRESS_COUNT_CAP comparisons are open: `total` is a lower bound

    @property
    def total(self) -> int:
        """What this judge can still reach: their judged comparisons, the one in hand and the open ones."""
        return self.done + self.pending + self.available

    @property
    def position(self) -> int:
        return self.done + (1 if self.pending else 0)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100


def judge_progress(
    session: JudgingSession,
    judge: User,
    *,
    now: datetime | None = None,
    max_age: float = 0,
    known: tuple[int, int] | None = None,
) -> JudgeProgress:
    """Where the judge stands. With max_age > 0 the count of open items (the costly part) may be reused
    from this process's cache for that many seconds: the judging page needs "17 of 120", not an exact 120.
    The cached count is per (session, judge) and moves with the judge's own submits (it is stored with the
    judged count it was taken at), so only other judges' work can make it stale, for at most max_age."""
    now = now or timezone.now()
    if known is not None:  # (done, pending) already counted, e.g. by membership()
        done, pending = known
    else:
        counts = Assignment.objects.filter(session=session, judge=judge).aggregate(
            done=Count("pk", filter=Q(submitted_at__isnull=False)),
            pending=Count("pk", filter=Q(submitted_at__isnull=True)),
        )
        done, pending = counts["done"], min(counts["pending"], 1)
    key = f"annotation:open-items:{session.pk}:{session.seed}:{judge.pk}"  # the seed: ids get reused in tests
    cached = cache.get(key) if max_age > 0 else None
    if cached is not None:
        available, capped, done_then = cached
        available = max(0, available - (done - done_then))
    else:
        # Counting every open comparison of a large session costs more than the page itself: count up to a
        # cap and say "N+" beyond it. A judge takes at most one slot per (item, pair): k judges' slots of the
        # same pair count once. (Adaptive sessions re-decide a fresh slot's pair when it is leased, so there
        # the count is the scheduled one.)
        # Written out in SQL (hot_queries): the ORM's version cost more to compile than to run, and with K > 2
        # its NOT EXISTS read the judge's slots once per open slot where a hashed NOT IN reads them once.
        available = hot_queries.open_comparisons(
            session.pk, judge.pk, now, pairs=session.n_systems > 2, limit=PROGRESS_COUNT_CAP + 1
        )
        capped = available > PROGRESS_COUNT_CAP
        available = min(available, PROGRESS_COUNT_CAP)
        if max_age > 0:
            cache.set(key, (available, capped, done), max_age)
    return JudgeProgress(done=done, pending=pending, available=available, capped=capped)
