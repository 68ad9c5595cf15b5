"""The Celery application, configured from Django settings (namespace CELERY_)."""

from __future__ import annotations

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "qasynth_web.settings")

app = Celery("qasynth_web")
app.config_from_object("django.conf:settings", namespace="CELERY")
# GPU-heavy work (training, evaluation, local generation) has its own queue so a deployment can route it
# to GPU machines; one worker started with `-Q default,gpu` serves both.
app.conf.task_queues = (Queue("default"), Queue("gpu"))
app.autodiscover_tasks()
