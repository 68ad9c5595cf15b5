"""Job lifecycle: create, enqueue, lease, heartbeat, progress, cancel, retry and the sweep.

The database row is the source of truth, not the broker. A worker runs a job only after it wins an
atomic UPDATE from "queued" to "running" (the lease); a heartbeat thread renews the lease while the job
runs; the periodic sweep re-publishes queued jobs whose message may be lost (filesystem transport,
Redis restart, a killed worker's prefetch) and fails or re-queues running jobs whose heartbeat went
stale. Duplicate messages are therefore harmless: whoever loses the lease does nothing.

Handlers are plain functions registered per job kind; they receive a JobContext to report progress
(written in autocommit, outside the handler's own transactions) and to check for cancellation between
batches.

A worker's warm shutdown (Ctrl-C, SIGTERM) hands its running jobs back: at the handler's next check, or
after a short grace from the heartbeat thread when the handler does not check that soon, the job goes back
to "queued" with this attempt not counted, and the next sweep (the next worker start's beat) publishes it, so
it resumes from what it stored at once. Only a worker that vanishes (SIGKILL, out of memory, power) spends an
attempt, found by the sweep when its heartbeat goes stale.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat, Greatest
from django.utils import timezone

from core.models import FINISHED_STATUSES, Job, JobStatus
from core.permissions import recorded_user

logger = logging.getLogger(__name__)

LOG_LIMIT_CHARS = 200_000


class JobError(Exception):
    """A failure with a message meant for the user (no traceback is shown for these)."""


class JobCancelled(Exception):
    """Raised inside a handler when staff asked to cancel the job."""


class LeaseLost(Exception):
    """Raised inside a handler when another worker (or the sweep) took the job away."""


class HandBack(Exception):
    """Raised inside a handler when this worker is shutting down: the job goes back to the queue."""


# Set in a worker's pool process when the worker shuts down warm (see qasynth_web/celery.py).
_shutdown_requested = threading.Event()
_shutdown_requested_at = 0.0
HAND_BACK_GRACE_SECONDS = 3.0  # below ./run's 10 s before it kills a worker that does not stop


# Jobs this process is running now (a pool process runs one at a time; the set keeps the check simple).
running_here: set[int] = set()


def shutdown_requested() -> bool:
    return _shutdown_requested.is_set()


def request_hand_back() -> None:
    """This process is shutting down: running jobs go back to the queue without spending an attempt. Safe to
    call from a signal handler (it only sets a flag; the handler and the heartbeat thread act on it)."""
    global _shutdown_requested_at
    if not _shutdown_requested.is_set():
        _shutdown_requested_at = time.monotonic()
        _shutdown_requested.set()


Handler = Callable[["JobContext"], dict | None]


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    func: Handler
    queue: str
    description: str


_HANDLERS: dict[str, HandlerSpec] = {}


def job_handler(kind: str, *, queue: str = "default", description: str = "") -> Callable[[Handler], Handler]:
    """Register `func` as the body of jobs of this kind. GPU-heavy kinds use queue="gpu"."""

    def decorate(func: Handler) -> Handler:
        _HANDLERS[kind] = HandlerSpec(kind, func, queue, description or (func.__doc__ or "").strip())
        return func

    return decorate


def handler_for(kind: str) -> HandlerSpec:
    try:
        return _HANDLERS[kind]
    except KeyError:
        raise JobError(f"No handler is registered for job kind {kind!r}.") from None


def registered_kinds() -> dict[str, HandlerSpec]:
    return dict(_HANDLERS)


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- creating and publishing ----------------------------------------------------------------------


def create_job(
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    user=None,
    title: str = "",
    depends_on: list[Job] | tuple[Job, ...] = (),
    max_attempts: int | None = None,
    enqueue: bool = True,
) -> Job:
    """Create a queued job and publish it once the surrounding transaction commits.

    The one place jobs are made: it records the triggering user only when it is a real account and cuts
    the title to the column's length, so callers pass whatever title reads best."""
    spec = handler_for(kind)
    job = Job.objects.create(
        kind=kind,
        params=params or {},
        queue=spec.queue,
        title=(title or kind)[: Job._meta.get_field("title").max_length],
        created_by=recorded_user(user),
        max_attempts=max_attempts or settings.QASYNTH_JOB_MAX_ATTEMPTS,
    )
    if depends_on:
        job.depends_on.set(depends_on)
    if enqueue:
        transaction.on_commit(lambda: publish(job.pk))
    return job


def dependencies_ready(job: Job) -> bool:
    return not job.depends_on.exclude(status=JobStatus.SUCCEEDED).exists()


def publish(job_id: int) -> bool:
    """Send a Celery message for a queued job whose dependencies have succeeded. Safe to call twice."""
    from core.tasks import execute_job

    job = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).first()
    if job is None or not dependencies_ready(job):
        return False
    try:
        result = execute_job.apply_async(args=[job.pk], queue=job.queue, retry=False)
    except Exception as exc:  # broker down: the row stays queued and the sweep publishes it later
        logger.warning("could not publish job %s (%s); the sweep will retry", job_id, exc)
        append_log(job_id, f"[{timezone.now():%H:%M:%S}] broker unreachable ({type(exc).__name__}); will retry")
        return False
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now(), celery_task_id=result.id or "")
    return True


# --- running ------------------------------------------------------------------------------------


class JobContext:
    """What a handler sees: its job row, progress reporting and the cancellation check."""

    min_write_interval = 0.5

    def __init__(self, job: Job, owner: str):
        self.job = job
        self.params: dict[str, Any] = dict(job.params)
        self.owner = owner
        self._lock = threading.Lock()
        self._pending: dict[str, Any] = {}
        self._last_write = 0.0
        self._cancel_seen = False
        self._lease_lost = False
        self._last_cancel_poll = 0.0

    # progress ------------------------------------------------------------------------------------
    def progress(
        self, done: int | None = None, total: int | None = None, message: str | None = None, **data: Any
    ) -> None:
        """Record progress; it reaches the database within a heartbeat even from inside a transaction."""
        with self._lock:
            if done is not None:
                self._pending["progress_done"] = int(done)
            if total is not None:
                self._pending["progress_total"] = int(total)
            if message is not None:
                self._pending["progress_message"] = message[:500]
            if data:
                merged = dict(self._pending.get("progress_data", self.job.progress_data or {}))
                merged.update(data)
                self._pending["progress_data"] = merged
                self.job.progress_data = merged
        if not connection.in_atomic_block and time.monotonic() - self._last_write >= self.min_write_interval:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        self._last_write = time.monotonic()
        updated = Job.objects.filter(pk=self.job.pk, lease_owner=self.owner, status=JobStatus.RUNNING).update(
            **pending, heartbeat_at=timezone.now()
        )
        if not updated:
            self._lease_lost = True

    def log(self, line: str) -> None:
        """Append a timestamped line to the job log (autocommit when not inside a transaction)."""
        append_log(self.job.pk, _stamped(line))

    # cancellation -----------------------------------------------------------------------------------
    def check_cancelled(self) -> None:
        """Call between batches: raises JobCancelled or LeaseLost so the handler stops cleanly."""
        if not connection.in_atomic_block and time.monotonic() - self._last_cancel_poll > 0.5:
            self._last_cancel_poll = time.monotonic()
            row = Job.objects.filter(pk=self.job.pk).values("cancel_requested", "lease_owner", "status").first()
            if row is None or row["lease_owner"] != self.owner or row["status"] != JobStatus.RUNNING:
                self._lease_lost = True
            elif row["cancel_requested"]:
                self._cancel_seen = True
        if self._lease_lost:
            raise LeaseLost(f"job #{self.job.pk} is no longer leased to {self.owner}")
        if _shutdown_requested.is_set():
            raise HandBack()
        if self._cancel_seen:
            raise JobCancelled()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel_seen

    # heartbeat (called from the heartbeat thread) ----------------------------------------------------
    def beat(self) -> None:
        self.flush()
        row = Job.objects.filter(pk=self.job.pk).values("cancel_requested", "lease_owner", "status").first()
        if row is None or row["lease_owner"] != self.owner or row["status"] != JobStatus.RUNNING:
            self._lease_lost = True
            return
        if row["cancel_requested"]:
            self._cancel_seen = True
        Job.objects.filter(pk=self.job.pk, lease_owner=self.owner, status=JobStatus.RUNNING).update(
            heartbeat_at=timezone.now()
        )


def _stamped(line: str) -> str:
    return f"[{timezone.now().strftime('%H:%M:%S')}] {line}"


def append_log(job_id: int, text: str) -> None:
    Job.objects.filter(pk=job_id).update(log=Concat(F("log"), Value(text + "\n")))


class _Heartbeat(threading.Thread):
    def __init__(self, ctx: JobContext, interval: float):
        super().__init__(name=f"heartbeat-job-{ctx.job.pk}", daemon=True)
        self.ctx = ctx
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(min(self.interval, 0.5) if _shutdown_requested.is_set() else self.interval):
                if (
                    _shutdown_requested.is_set()
                    and time.monotonic() - _shutdown_requested_at >= HAND_BACK_GRACE_SECONDS
                ):
                    # The handler did not reach a check in time (one long step, e.g. a model conversion): hand the
                    # job back from here so that the process can be killed without spending an attempt. The
                    # handler stops with LeaseLost at its next check.
                    hand_back(self.ctx.job.pk, self.ctx.owner, "the handler was still busy")
                    return
                try:
                    self.ctx.beat()
                except Exception:  # a transient DB error must not kill the heartbeat for good
                    logger.exception("heartbeat for job %s failed", self.ctx.job.pk)
                    close_old_connections()
        finally:
            connection.close()


def claim(job_id: int, owner: str) -> Job | None:
    """Take the lease on a queued job, or return None when it is not ours to run."""
    now = timezone.now()
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != JobStatus.QUEUED:
        return None
    if job.cancel_requested:
        _finish(job.pk, None, JobStatus.CANCELLED, message="Cancelled before it started.")
        return None
    if not dependencies_ready(job):
        return None
    won = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED, cancel_requested=False).update(
        status=JobStatus.RUNNING,
        lease_owner=owner,
        heartbeat_at=now,
        started_at=now,
        finished_at=None,
        error="",
        attempts=F("attempts") + 1,
    )
    if not won:
        return None
    job.refresh_from_db()
    return job


def hand_back(job_id: int, owner: str, why: str = "") -> bool:
    """Put a job this worker runs back in the queue with this attempt not counted.

    It is not published from here: the worker shutting down would still take the message and hand it back
    again. With `enqueued_at` cleared the sweep publishes it at its next tick (the next worker's beat)."""
    now = timezone.now()
    handed = Job.objects.filter(pk=job_id, lease_owner=owner, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED,
        lease_owner="",
        heartbeat_at=None,
        enqueued_at=None,
        attempts=Greatest(F("attempts") - 1, 0),
        progress_message="Waiting for a worker (the last one shut down).",
    )
    if not handed:
        return False
    note = f" ({why})" if why else ""
    append_log(job_id, f"[{now:%H:%M:%S}] worker {owner} shut down{note}: handed back, attempt not counted; resumes")
    logger.info("job %s handed back by %s on shutdown", job_id, owner)
    return True


def _finish(
    job_id: int, owner: str | None, status: str, *, message: str = "", error: str = "", result=None, log: str = ""
) -> bool:
    """Set the final status; `log` is appended to the job log in the same UPDATE, so whoever sees the status
    also sees the line that says it (a second write left a moment where it did not)."""
    qs = Job.objects.filter(pk=job_id)
    if owner is not None:
        qs = qs.filter(lease_owner=owner, status=JobStatus.RUNNING)
    fields: dict[str, Any] = {"status": status, "finished_at": timezone.now(), "cancel_requested": False}
    if log:
        fields["log"] = Concat(F("log"), Value(_stamped(log) + "\n"))
    if message:
        fields["progress_message"] = message[:500]
    if error:
        fields["error"] = error
    if result is not None:
        fields["result"] = result
    return bool(qs.update(**fields))


def failure_message(exc: BaseException) -> str:
    """Words for the failures any kind of job can meet (database gone, disk full or read-only, out of
    memory), saying what to do; handlers keep what they stored, so each ends with "retry". Anything else
    is shown as the exception's type and text."""
    from django.db import InterfaceError, OperationalError

    name = type(exc).__name__
    first_line = (str(exc).strip().splitlines() or [""])[0][:300]
    if isinstance(exc, (OperationalError, InterfaceError)):
        what = "was busy" if "locked" in first_line or "busy" in first_line else "connection was lost"
        return f"The database {what} ({name}: {first_line}). Work stored before that is kept; retry the job to resume."
    if name == "OutOfMemoryError" or (isinstance(exc, RuntimeError) and "out of memory" in first_line.lower()):
        return (
            f"Out of GPU memory ({first_line}). Lower the batch size (or the maximum sequence length) and "
            "retry; finished work is kept."
        )
    if isinstance(exc, MemoryError):
        return "Out of memory. Lower the batch size or free memory on the worker machine and retry."
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        where = f" while writing {exc.filename}" if exc.filename else ""
        return f"The disk is full{where}. Free space under {settings.DATA_DIR} and retry; finished work is kept."
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"Cannot write {exc.filename or 'a file'} ({exc.strerror}). Make {settings.DATA_DIR} writable for the "
            "worker and retry."
        )
    return f"{name}: {exc}"


def run_job(job_id: int, owner: str | None = None) -> str | None:
    """Run one job to completion in this process. Returns the final status, or None if not ours."""
    owner = owner or worker_identity()
    job = claim(job_id, owner)
    if job is None:
        return None
    spec = handler_for(job.kind)
    ctx = JobContext(job, owner)
    running_here.add(job.pk)
    heartbeat = _Heartbeat(ctx, settings.QASYNTH_HEARTBEAT_SECONDS)
    heartbeat.start()
    ctx.log(f"started on {owner} (attempt {job.attempts} of {job.max_attempts})")
    status: str | None
    try:
        result = spec.func(ctx)
        ctx.flush()
        if ctx._lease_lost:
            raise LeaseLost("lease lost before completion")
        finished = _finish(job.pk, owner, JobStatus.SUCCEEDED, result=result or {}, log="succeeded")
        status = JobStatus.SUCCEEDED if finished else None
        if status:
            for dependent_id in Job.objects.get(pk=job.pk).dependents.values_list("pk", flat=True):
                publish(dependent_id)
    except JobCancelled:
        ctx.flush()
        said = "cancelled; finished work is kept, retry resumes"
        cancelled = _finish(job.pk, owner, JobStatus.CANCELLED, message="Cancelled.", log=said)
        status = JobStatus.CANCELLED if cancelled else None
        if not cancelled:  # the lease was lost meanwhile: the line is still logged, as it always was
            ctx.log(said)
    except HandBack:
        try:
            ctx.flush()
        except Exception:
            close_old_connections()
        status = JobStatus.QUEUED if hand_back(job.pk, owner) else None
    except KeyboardInterrupt:  # Ctrl-C on a `--now` run: stopped as if cancelled, the attempt not counted
        close_old_connections()
        Job.objects.filter(pk=job.pk, lease_owner=owner, status=JobStatus.RUNNING).update(
            attempts=Greatest(F("attempts") - 1, 0)
        )
        _finish(job.pk, owner, JobStatus.CANCELLED, message="Interrupted (Ctrl-C); retry resumes it.")
        raise
    except LeaseLost as exc:
        logger.warning("job %s: %s", job.pk, exc)
        status = None
    except Exception as exc:  # the job fails; the worker lives on
        try:
            ctx.flush()
        except Exception:
            close_old_connections()
        close_old_connections()
        if isinstance(exc, JobError):
            error = str(exc)
        else:
            error = failure_message(exc)
            append_log(job.pk, traceback.format_exc()[-LOG_LIMIT_CHARS:])
        status = JobStatus.FAILED if _finish(job.pk, owner, JobStatus.FAILED, error=error) else None
        logger.warning("job %s failed: %s", job.pk, error)
    finally:
        running_here.discard(job.pk)
        heartbeat.stopped.set()
        heartbeat.join(timeout=5)
    return status


# --- staff actions ----------------------------------------------------------------------------------


def cancel_job(job: Job) -> Job:
    """Cancel now if queued; ask a running handler to stop at its next check."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status == JobStatus.QUEUED:
            job.status = JobStatus.CANCELLED
            job.finished_at = timezone.now()
            job.progress_message = "Cancelled before it started."
            job.save(update_fields=["status", "finished_at", "progress_message"])
        elif job.status == JobStatus.RUNNING:
            job.cancel_requested = True
            job.save(update_fields=["cancel_requested"])
    append_log(job.pk, f"[{timezone.now():%H:%M:%S}] cancel requested")
    return job


def retry_job(job: Job) -> Job:
    """Queue a failed or cancelled job again; its handler resumes from what it stored."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)
        if job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
            return job
        job.status = JobStatus.QUEUED
        job.error = ""
        job.cancel_requested = False
        job.attempts = 0
        job.requeue_count = 0
        job.lease_owner = ""
        job.finished_at = None
        job.save()
        transaction.on_commit(lambda: publish(job.pk))
    append_log(job.pk, f"[{timezone.now():%H:%M:%S}] retry requested")
    return job


# --- the sweep ------------------------------------------------------------------------------------


@dataclass
class SweepReport:
    requeued_stale: list[int]
    failed_stale: list[int]
    republished: list[int]


MAX_STALE_STRETCH = 10.0


def stale_after_seconds() -> float:
    """How old a heartbeat may be before its job counts as abandoned: QASYNTH_STALE_AFTER_SECONDS, stretched by
    this machine's load average per core when that is above 1 (at most MAX_STALE_STRETCH times). On an
    overloaded machine a live worker's heartbeat thread runs late; re-queuing its job then would only cost an
    attempt and redo work (the lease keeps it from running twice), so a busy machine waits longer."""
    try:
        per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        per_core = 0.0
    return settings.QASYNTH_STALE_AFTER_SECONDS * min(max(1.0, per_core), MAX_STALE_STRETCH)


def sweep(now=None) -> SweepReport:
    """Recover from dead workers and lost messages. Runs periodically under celery beat."""
    now = now or timezone.now()
    report = SweepReport([], [], [])
    stale_before = now - timedelta(seconds=stale_after_seconds())
    stale = Job.objects.filter(status=JobStatus.RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True)
    )
    for job_id in list(stale.values_list("pk", flat=True)):
        with transaction.atomic():
            job = Job.objects.select_for_update(skip_locked=True).filter(pk=job_id, status=JobStatus.RUNNING).first()
            if job is None or (job.heartbeat_at and job.heartbeat_at >= stale_before):
                continue
            last = f"{job.heartbeat_at:%Y-%m-%d %H:%M:%S}" if job.heartbeat_at else "never"
            note = f"worker {job.lease_owner or '?'} stopped sending heartbeats (last {last} UTC)"
            job.lease_owner = ""
            if job.cancel_requested:
                job.status = JobStatus.CANCELLED
                job.finished_at = now
                job.cancel_requested = False
            elif job.attempts < job.max_attempts:
                job.status = JobStatus.QUEUED
                job.enqueued_at = None
                report.requeued_stale.append(job.pk)
            else:
                job.status = JobStatus.FAILED
                job.finished_at = now
                job.error = (
                    f"The {note}; it was presumably killed. Gave up after {job.attempts} attempts. "
                    "Retry to resume from what was stored."
                )
                report.failed_stale.append(job.pk)
            job.log += f"[{now:%H:%M:%S}] sweep: {note}; now {job.status}\n"
            job.save()
    for job_id in report.requeued_stale:
        publish(job_id)

    # Queued jobs whose message may be gone: publish again, backing off so a long queue behind a busy
    # worker does not fill the broker with duplicates (which would be harmless, only wasteful).
    base = settings.QASYNTH_REQUEUE_AFTER_SECONDS
    for job in Job.objects.filter(status=JobStatus.QUEUED, cancel_requested=False).only(
        "pk", "enqueued_at", "requeue_count"
    ):
        wait = base * (2 ** min(job.requeue_count, 5))
        if job.enqueued_at is not None and job.enqueued_at > now - timedelta(seconds=wait):
            continue
        if publish(job.pk):
            Job.objects.filter(pk=job.pk).update(requeue_count=F("requeue_count") + 1)
            report.republished.append(job.pk)
    # Queued jobs cancelled before a worker saw them.
    Job.objects.filter(status=JobStatus.QUEUED, cancel_requested=True).update(
        status=JobStatus.CANCELLED, finished_at=now, cancel_requested=False
    )
    return report


def active_jobs():
    return Job.objects.exclude(status__in=FINISHED_STATUSES)
