"""Many judges at once, each a thread with its own database connection, draining one session."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from django.db import connection

from annotation.models import Assignment, JudgingSession, Judgment
from annotation.services import assignment as assigning
from annotation.services import judging
from tests.annotation.helpers import answer


@dataclass
class DrainReport:
    judged: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def drain_concurrently(session: JudgingSession, judges, *, double_submit: bool = True) -> DrainReport:
    """Every judge asks, judges and asks again until nothing is left; all start at the same moment."""
    report = DrainReport()
    barrier = threading.Barrier(len(judges))
    lock = threading.Lock()

    def work(judge) -> None:
        try:
            barrier.wait(timeout=60)
            while True:
                a = assigning.next_assignment(session, judge)
                if a is None:
                    break
                submission = answer(submission_id=f"{judge.pk}-{a.pk}")
                judging.submit(a.token, judge, submission)
                if double_submit:  # a retried request must not store a second judgment
                    judging.submit(a.token, judge, submission)
                with lock:
                    report.judged[judge.pk] += 1
        except Exception as exc:  # collected and asserted on by the test
            with lock:
                report.errors.append(f"{judge}: {type(exc).__name__}: {exc}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(judge,)) for judge in judges]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    report.seconds = time.monotonic() - started
    return report


def assert_exactly_k_per_item(session: JudgingSession, k: int) -> None:
    per_item = Counter(Judgment.objects.filter(session=session).values_list("item_id", flat=True))
    pairs = list(Judgment.objects.filter(session=session).values_list("item_id", "judge_id"))
    assert len(pairs) == len(set(pairs)), "a judge judged an item twice"
    items = list(session.items.values_list("pk", flat=True))
    assert {item: per_item.get(item, 0) for item in items} == dict.fromkeys(items, k)
    assert not Assignment.objects.filter(session=session, submitted_at__isnull=True, judge__isnull=False).exists()
    assert Assignment.objects.filter(session=session, submitted_at__isnull=False).count() == len(items) * k
