"""SIGKILL of a worker in the middle of a generation run, with a second run waiting in its prefetch.

The running job's heartbeat goes stale and the sweep re-queues it; the prefetched job's message died with
the worker and the sweep publishes it again. Both finish on the shared worker, each passage has exactly
one raw output and each output its pairs once.
"""

from __future__ import annotations

import pytest
from django.db import transaction
from django.db.models import Count

from core.models import Job, JobStatus
from generation.models import GenerationRun, RawOutput, SyntheticPair
from generation.services.generation_runs import RunSettings, create_run
from generation.services.prompt_templates import default_template_for
from tests.conftest import wait_for
from tests.generation.synth_helpers import FakeOpenAIServer, endpoint_model, make_corpus
from tests.hardening.helpers import describe, start_prefetching_worker, to_queue, wait_finished

pytestmark = [pytest.mark.worker, pytest.mark.slow]

QUEUE = "hardening-generation"
PASSAGES = 12


def test_a_killed_generation_run_and_its_prefetched_neighbour_finish_once_each(worker):
    with FakeOpenAIServer(delay=0.35) as server:
        corpus = make_corpus(passages=[f"Passage{i} tells about topic number {i}." for i in range(PASSAGES)])
        generator = endpoint_model(server.base_url)
        template = default_template_for("en", 0)
        doomed = start_prefetching_worker("hardening-generation", QUEUE, concurrency=1, prefetch=2)
        try:
            # Published on commit in creation order: the worker runs the first and holds the second.
            with transaction.atomic():
                runs = [
                    create_run(
                        corpus,
                        generator,
                        template,
                        name=f"kill test {i}",
                        settings=RunSettings(pairs_per_passage=3, batch_size=1, concurrency=1, max_new_tokens=64),
                    )  # fmt: skip
                    for i in range(2)
                ]
                to_queue([run.job_id for run in runs], QUEUE)
            running, prefetched = runs
            wait_for(
                lambda: doomed.log().count("] received") >= 2, timeout=30, what="both messages in the worker's hands"
            )
            wait_for(
                lambda: RawOutput.objects.filter(run=running).count() >= 3, timeout=60, what="a few stored outputs"
            )
            doomed.kill()
        finally:
            doomed.stop()
        killed_at = RawOutput.objects.filter(run=running).count()
        assert killed_at < PASSAGES, "the run finished before the worker was killed"
        assert Job.objects.get(pk=prefetched.job_id).status == JobStatus.QUEUED  # it never started

        to_queue([run.job_id for run in runs], "gpu")  # served by the shared worker from now on
        done = wait_finished([run.job_id for run in runs], timeout=90, what="both runs to finish after the kill")

    for job in done:
        assert job.status == JobStatus.SUCCEEDED, describe(job)
    first = done[0]
    assert "stopped sending heartbeats" in first.log and first.attempts == 2
    assert f"resuming: {killed_at} of {PASSAGES} passages already have output" in first.log
    for run in runs:
        outputs = RawOutput.objects.filter(run=run)
        assert outputs.count() == PASSAGES
        assert outputs.values("passage_id").distinct().count() == PASSAGES
        pairs = SyntheticPair.objects.filter(run=run)
        per_output = set(pairs.values("raw_output").annotate(n=Count("id")).values_list("n", flat=True))
        assert len(per_output) == 1, f"outputs of the same canned answer have different pair counts: {per_output}"
        assert SyntheticPair.objects.filter(run=run).count() == PASSAGES * per_output.pop()
        assert GenerationRun.objects.get(pk=run.pk).job.result["passages_done"] == PASSAGES
