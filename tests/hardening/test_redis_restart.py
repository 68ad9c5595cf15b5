"""Redis restarted (nothing kept on disk) while generation runs execute: the worker reconnects, the sweep
publishes again what the restart lost, and every run completes with each passage generated once.

The Redis is the test's own (a redis-server on a free port, see `private_redis`); the worker that runs the jobs
is started on it, and this process publishes to it for the test's duration.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from django.db import transaction

from core.models import JobStatus
from generation.models import RawOutput
from generation.services.generation_runs import RunSettings, create_run
from generation.services.prompt_templates import default_template_for
from tests.conftest import PrivateRedis, scaled, start_worker, wait_for
from tests.generation.synth_helpers import FakeOpenAIServer, endpoint_model, make_corpus
from tests.hardening.helpers import describe, to_queue, wait_finished

pytestmark = [pytest.mark.slow, pytest.mark.redis_restart]

QUEUE = "hardening-redis"
PASSAGES = 8
RUNS = 3  # the worker runs two at a time: the third waits in Redis and is lost by the restart


@contextlib.contextmanager
def publishing_to(url: str):
    """Point this process's Celery app at another broker for the block (connections are dropped both ways)."""
    from qasynth_web.celery import app

    saved = {key: app.conf[key] for key in ("broker_url", "broker_transport", "broker_transport_options")}

    def drop_connections() -> None:
        # app.pool is kombu's process-wide pool for the broker URL: closing it alone leaves the closed pool in
        # kombu's registry, and every later publish of this process to that URL failed ("Acquire on closed
        # pool") until the sweep re-published, in its own order. reset() closes and forgets them all.
        from kombu import pools

        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    drop_connections()
    app.conf.update(broker_url=url, broker_transport=None, broker_transport_options={})
    try:
        yield
    finally:
        drop_connections()
        app.conf.update(saved)


def restart(redis: PrivateRedis) -> float:
    """Stop Redis without saving and start it again, as a crash plus a supervisor restart would; returns the
    seconds it was down."""
    down_at = time.monotonic()
    redis.stop()
    redis.start()
    return time.monotonic() - down_at


def test_generation_runs_complete_after_redis_loses_every_message(transactional_db, private_redis):
    # It also reads "default" on that Redis, where its beat sends the sweep that re-publishes what Redis lost.
    # The shared worker's beat sweeps the same database but publishes to the shared broker, where no worker reads
    # this queue: a job it re-publishes is lost again, and its backoff then delays this worker's sweep. Re-publishing
    # four times sooner (1 s, doubling, against the suite's 4 s) makes this worker's sweep the one that republishes.
    worker = start_worker(
        "hardening-redis", queues=f"default,{QUEUE}", beat=True, CELERY_BROKER_URL=private_redis.url,
        QASYNTH_REQUEUE_AFTER_SECONDS="1",
    )  # fmt: skip
    try:
        with FakeOpenAIServer(delay=0.3) as server, publishing_to(private_redis.url):
            corpus = make_corpus(passages=[f"Harbour{i} handles ship number {i} every day." for i in range(PASSAGES)])
            generator = endpoint_model(server.base_url)
            with transaction.atomic():
                runs = [
                    create_run(
                        corpus,
                        generator,
                        default_template_for("en", 0),
                        name=f"redis restart {i}",
                        settings=RunSettings(pairs_per_passage=3, batch_size=1, concurrency=1, max_new_tokens=64),
                    )  # fmt: skip
                    for i in range(RUNS)
                ]
                to_queue([run.job_id for run in runs], QUEUE)
            wait_for(
                lambda: sum(RawOutput.objects.filter(run=run).exists() for run in runs) >= 2,
                timeout=60,
                what="two runs to be generating",
            )
            outage = restart(private_redis)
            assert outage < scaled(5)
            done = wait_finished(
                [run.job_id for run in runs], timeout=120, what="every run to finish after the restart"
            )
        log = worker.log()
        alive = worker.alive()
    finally:
        worker.stop()

    for job in done:
        assert job.status == JobStatus.SUCCEEDED, describe(job)
    # The run that waited in Redis lost its message with the restart; the sweep published it again.
    assert max(job.requeue_count for job in done) >= 1
    for run in runs:
        assert RawOutput.objects.filter(run=run).count() == PASSAGES
        assert RawOutput.objects.filter(run=run).values("passage_id").distinct().count() == PASSAGES
    assert alive, "the worker died with the broker"
    assert "Connection to broker lost" in log or "Cannot connect to redis" in log or "Error 111" in log, log[-3000:]
