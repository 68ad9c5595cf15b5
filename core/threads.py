"""How many threads torch may use in this process: the machine's cores shared between the processes that run
jobs at the same time.

On a 2-core box two jobs each using every core ran 12x slower than two single-threaded ones, and a
`manage.py generate --now` beside a busy worker ran 3.5-15x slower with torch's default threads than with
one. So every process that runs jobs takes its share: a worker's pool process gets cores / pool size (the
worker's real `-c`, read from the running worker, not from the configuration), and a job run in a shell
(`--now`) counts as one more process beside the worker's WORKER_CONCURRENCY (default 2, as `./run` starts it).
QASYNTH_TORCH_THREADS overrides both. No Django here: the Celery signal handlers call it before Django is
set up.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

DEFAULT_WORKER_CONCURRENCY = 2


def share_of_cores(processes: int, cores: int | None = None) -> int:
    """Threads for one of `processes` processes sharing the machine (QASYNTH_TORCH_THREADS wins)."""
    explicit = os.environ.get("QASYNTH_TORCH_THREADS", "").strip()
    if explicit:
        return max(1, int(explicit))
    cores = cores or os.cpu_count() or 1
    return max(1, cores // max(1, processes))


def in_process_share() -> int:
    """Threads for a job run in this (shell) process next to a worker of WORKER_CONCURRENCY processes."""
    concurrency = int(os.environ.get("WORKER_CONCURRENCY") or DEFAULT_WORKER_CONCURRENCY)
    return share_of_cores(concurrency + 1)


def apply(threads: int) -> int:
    """Cap torch (and the OpenMP/BLAS pools it starts) at `threads` in this process; returns `threads`.

    OMP_NUM_THREADS is only read when torch is first imported, so it is set for a later import and torch is
    told directly when it is already loaded."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)
    return threads


def apply_in_process() -> int:
    """For management commands that run a job here (`--now`): the same policy as the worker's processes."""
    threads = apply(in_process_share())
    logger.info("torch threads in this process: %s (cores %s)", threads, os.cpu_count())
    return threads
