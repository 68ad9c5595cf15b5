"""Shared pieces of the hardening tests: a worker that holds several messages (prefetch), private queues,
and bounded waits on job rows.

Kill tests run their doomed worker on a private queue so that it, not the shared session worker, starts
the job; after the kill the job is pointed back at its normal queue, where the shared worker (with beat,
hence the sweep) finds it stale or unpublished and finishes it.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from pathlib import Path

from core.models import Job
from tests.conftest import ProcessHandle, start_worker, wait_for

PRIVATE_PREFIX = "hardening-"


def purge_queue(queue: str) -> None:
    """Drop messages a previous run left on a private queue (their job ids mean nothing now)."""
    from qasynth_web.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        try:
            channel.queue_purge(queue)
        except Exception:  # the queue does not exist yet
            pass


def start_prefetching_worker(
    name: str,
    queue: str,
    *,
    concurrency: int = 1,
    prefetch: int = 1,
    stop_at_batch: int | None = None,
    **env_overrides: str,
) -> ProcessHandle:
    """A real worker on `queue` only, reserving up to concurrency x prefetch messages (acks late), so a
    SIGKILL takes the running jobs and the prefetched ones with it.

    With `stop_at_batch=N` a job stops for good at its N-th check for cancellation (handlers check between
    batches, after storing one): `wait_at_gate` then returns, and a kill lands mid-job however fast the
    machine is (tests.support.gated_worker)."""
    purge_queue(queue)
    if stop_at_batch is None:
        return start_worker(name, queues=queue, concurrency=concurrency, prefetch=prefetch, **env_overrides)
    from django.conf import settings

    from tests.support.gated_worker import GATE_ENV

    marker = Path(settings.DATA_DIR) / "gates" / f"{name}.json"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    env_overrides[GATE_ENV] = f"{stop_at_batch}:{marker}"
    worker = start_worker(
        name,
        queues=queue,
        concurrency=concurrency,
        prefetch=prefetch,
        module="tests.support.gated_worker",
        **env_overrides,
    )
    worker.extra["gate"] = marker
    return worker


def wait_at_gate(worker: ProcessHandle, timeout: float) -> dict:
    """Wait until the gated worker's job stopped at its gate; returns what the gate recorded (job id, calls)."""
    marker: Path = worker.extra["gate"]

    def stopped() -> bool:
        if not worker.alive():
            raise AssertionError(f"worker {worker.name} exited before its gate:\n{worker.log()[-3000:]}")
        return marker.exists()

    wait_for(stopped, timeout=timeout, what=f"a job of worker {worker.name} to reach its gate")
    return json.loads(marker.read_text())


def to_queue(job_ids: list[int], queue: str) -> None:
    Job.objects.filter(pk__in=job_ids).update(queue=queue)


def finished(job_id: int) -> Job | None:
    job = Job.objects.get(pk=job_id)
    return job if job.is_finished else None


def wait_finished(job_ids: list[int], timeout: float, what: str = "the jobs to finish") -> list[Job]:
    wait_for(lambda: all(finished(pk) for pk in job_ids), timeout=timeout, interval=0.3, what=what)
    return [Job.objects.get(pk=pk) for pk in job_ids]


def describe(job: Job) -> str:
    """What to print when a job did not end as expected."""
    return f"job #{job.pk} {job.kind} {job.status}: {job.error}\n{job.log[-3000:]}"


@contextlib.contextmanager
def small_filesystem(path: Path, *, size: str = "16k", read_only: bool = False):
    """Mount a tiny tmpfs at `path` (a real full disk, or a real read-only one) for the block's duration.

    Needs the right to mount (root here); the test is skipped elsewhere rather than faked."""
    import pytest

    path.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({mounted.stderr.decode().strip() or 'not permitted'})")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)
