"""The Celery application, configured from Django settings (namespace CELERY_)."""

from __future__ import annotations

import os
import sys

from celery import Celery
from celery.signals import worker_process_init
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")

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


@worker_process_init.connect
def _share_cores_between_worker_processes(**_kwargs) -> None:
    """Give each prefork process its share of the cores: on a 2-core box two jobs each using every core
    run an order of magnitude slower than two single-threaded ones (measured here: 12x)."""
    threads = os.environ.get("QASYNTH_TORCH_THREADS")
    if not threads:
        concurrency = app.conf.worker_concurrency or os.cpu_count() or 1
        threads = str(max(1, (os.cpu_count() or 1) // concurrency))
    os.environ.setdefault("OMP_NUM_THREADS", threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(threads))
