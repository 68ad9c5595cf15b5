"""Redis restarted (nothing kept on disk) while generation runs execute: the worker reconnects, the sweep
publishes again what the restart lost, and every run completes with each passage generated once.

This restarts the machine's shared Redis for about a second (other test sessions on other db numbers see
the same blip and recover the same way). It only runs with CELERY_BROKER_URL=redis://127.0.0.1:6379/..,
and `-m "not redis_restart"` deselects it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from django.db import transaction

from core.models import JobStatus
from generation.models import RawOutput
from generation.services.generation_runs import RunSettings, create_run
from generation.services.prompt_templates import default_template_for
from tests.conftest import wait_for
from tests.generation.synth_helpers import FakeOpenAIServer, endpoint_model, make_corpus
from tests.hardening.helpers import describe, wait_finished

BROKER = os.environ.get("CELERY_BROKER_URL", "")
pytestmark = [
    pytest.mark.worker,
    pytest.mark.slow,
    pytest.mark.redis_restart,
    pytest.mark.skipif(
        not BROKER.startswith(("redis://127.0.0.1:6379", "redis://localhost:6379")),
        reason="needs CELERY_BROKER_URL=redis://127.0.0.1:6379/<n> (the test restarts that Redis)",
    ),
    pytest.mark.skipif(not shutil.which("redis-server"), reason="redis-server is not installed here"),
]

START_REDIS = [
    "redis-server",
    "--daemonize",
    "yes",
    "--bind",
    "127.0.0.1",
    "--port",
    "6379",
    "--save",
    "",
    "--appendonly",
    "no",
]
PASSAGES = 8
RUNS = 3  # the shared worker runs two at a time: the third waits in Redis and is lost by the restart


def _ping() -> bool:
    result = subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True, text=True, timeout=5)
    return result.stdout.strip() == "PONG"


def restart_redis() -> float:
    """Stop Redis without saving and start it again, as a crash plus a supervisor restart would; returns the
    seconds it was down."""
    down_at = time.monotonic()
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True, timeout=10)
    wait_for(lambda: not _ping(), timeout=10, interval=0.05, what="Redis to stop")
    subprocess.run(START_REDIS, check=True, capture_output=True, timeout=10)
    wait_for(_ping, timeout=10, interval=0.05, what="Redis to answer again")
    return time.monotonic() - down_at


def test_generation_runs_complete_after_redis_loses_every_message(worker):
    with FakeOpenAIServer(delay=0.3) as server:
        corpus = make_corpus(passages=[f"Harbour{i} handles ship number {i} every day." for i in range(PASSAGES)])
        generator = endpoint_model(server.base_url)
        with transaction.atomic():
            runs = [
                create_run(
                    corpus,
                    generator,
                    default_template_for("en", 0),
                    name=f"redis restart {i}",
                    settings=RunSettings(n_pairs=3, batch_size=1, concurrency=1, max_new_tokens=64),
                )  # fmt: skip
                for i in range(RUNS)
            ]
        wait_for(
            lambda: sum(RawOutput.objects.filter(run=run).exists() for run in runs) >= 2,
            timeout=60,
            what="two runs to be generating",
        )
        try:
            outage = restart_redis()
        finally:
            if not _ping():  # never leave the machine without its Redis
                subprocess.run(START_REDIS, capture_output=True, timeout=10)
        assert outage < 5
        done = wait_finished([run.job_id for run in runs], timeout=120, what="every run to finish after the restart")

    for job in done:
        assert job.status == JobStatus.SUCCEEDED, describe(job)
    # The run that waited in Redis lost its message with the restart; the sweep published it again.
    assert max(job.requeue_count for job in done) >= 1
    for run in runs:
        assert RawOutput.objects.filter(run=run).count() == PASSAGES
        assert RawOutput.objects.filter(run=run).values("passage_id").distinct().count() == PASSAGES
    assert worker.alive(), "the worker died with the broker"
    log = worker.log()
    assert "Connection to broker lost" in log or "Cannot connect to redis" in log or "Error 111" in log, log[-3000:]
