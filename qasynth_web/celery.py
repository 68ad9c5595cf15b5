"""The Celery application, configured from Django settings (namespace CELERY_)."""

from __future__ import annotations

import logging
import os
import signal

from celery import Celery
from celery.signals import celeryd_after_setup, worker_process_init, worker_shutting_down
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")

logger = logging.getLogger(__name__)

app = Celery("qasynth_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
# GPU-heavy work (training, evaluation, local generation) has its own queue so a deployment can route it
# to GPU machines; one worker started with `-Q default,gpu` serves both.
# Each queue gets its own routing key: without one Celery binds both to the default key, and a worker that
# consumes only `default` would also receive GPU work.
app.conf.task_queues = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name) for name in ("default", "gpu")
)
app.autodiscover_tasks()

# The running worker's pool size, as the worker itself reports it after parsing its command line (`-c`);
# app.conf.worker_concurrency is None when the number comes from the command line. Prefork children inherit it.
_pool_size: int | None = None


@celeryd_after_setup.connect
def _remember_pool_size(sender=None, instance=None, **_kwargs) -> None:
    global _pool_size
    autoscale = getattr(instance, "max_concurrency", None)
    _pool_size = int(autoscale or getattr(instance, "concurrency", 0) or 0) or None


@worker_process_init.connect
def _share_cores_between_worker_processes(**_kwargs) -> None:
    """Give each prefork process its share of the cores (see core/threads.py for why and the numbers)."""
    from core import threads

    pool = _pool_size or app.conf.worker_concurrency or os.cpu_count() or 1
    count = threads.apply(threads.share_of_cores(pool))
    logger.info("pool process %s: torch threads %s (cores %s, pool size %s)", os.getpid(), count, os.cpu_count(), pool)


@worker_shutting_down.connect
def _tell_pool_processes(**_kwargs) -> None:
    """A warm shutdown (Ctrl-C or SIGTERM to the worker) reaches only the main process; pass it on so running
    jobs hand themselves back (core.tasks installs the pool processes' handler) instead of being killed
    mid-step and spending an attempt."""
    import billiard.process

    for child in billiard.process.active_children():
        try:
            os.kill(child.pid, signal.SIGTERM)
        except (ProcessLookupError, TypeError):
            pass
