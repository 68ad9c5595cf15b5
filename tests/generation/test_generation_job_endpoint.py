"""Endpoint generation through the job: bounded concurrent requests to an OpenAI-compatible server
(a fake one started by the test on 127.0.0.1), every raw output stored, pairs validated with reasons."""

from __future__ import annotations

import pytest

from core.models import JobStatus
from generation.models import GenerationRun, PairStatus, RawOutput, SyntheticPair
from generation.services.generation_runs import RunSettings, create_run, reason_counts
from generation.services.prompt_templates import default_template_for
from tests.generation.synth_helpers import FakeOpenAIServer, endpoint_model, make_corpus

pytestmark = [pytest.mark.worker]

PASSAGES = [f"Word{i} opens passage {i}, which describes a quiet village by the sea." for i in range(9)]


def test_endpoint_generation_stores_outputs_and_validated_pairs(worker, wait):
    with FakeOpenAIServer(delay=0.2) as server:
        corpus = make_corpus(passages=PASSAGES)
        run = create_run(
            corpus, endpoint_model(server.base_url), default_template_for("en", 0),
            settings=RunSettings(pairs_per_passage=3, batch_size=2, concurrency=3, temperature=0.7, top_p=0.9, seed=5),
        )  # fmt: skip

        job = wait(lambda: _finished(run), timeout=60, what="the endpoint generation job")

    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{job.log[-2000:]}"
    assert len(server.requests) == len(PASSAGES)
    assert 1 < server.max_in_flight <= 3
    first = server.requests[0]["body"]
    assert first["model"] == "fake-model" and first["temperature"] == 0.7 and first["top_p"] == 0.9
    assert first["messages"][-1]["role"] == "user"

    outputs = RawOutput.objects.filter(run=run)
    assert outputs.count() == len(PASSAGES)
    assert all('"role": "user"' in o.prompt and o.text.startswith("Q1:") for o in outputs)
    pairs = SyntheticPair.objects.filter(run=run)
    assert pairs.filter(status=PairStatus.ACCEPTED).count() == len(PASSAGES)
    accepted = pairs.filter(status=PairStatus.ACCEPTED).select_related("passage").first()
    assert accepted.answer in accepted.passage.text
    reasons = {r["reason"]: r["count"] for r in reason_counts(run)}
    assert reasons == {"answer_not_supported": len(PASSAGES), "not_a_question": len(PASSAGES)}
    assert job.result["pairs"]["rejected"] == 2 * len(PASSAGES)


def test_an_unreachable_endpoint_fails_the_job_with_a_clear_message(worker, wait):
    with FakeOpenAIServer() as server:
        url = server.base_url
    corpus = make_corpus(passages=PASSAGES[:2])
    run = create_run(corpus, endpoint_model(url), default_template_for("en", 0), settings=RunSettings(concurrency=1))

    job = wait(lambda: _finished(run), timeout=60, what="the job to fail")

    assert job.status == JobStatus.FAILED
    assert "generation failed" in job.error and url in job.error and "cannot connect" in job.error
    assert RawOutput.objects.filter(run=run).count() == 0


def test_a_cancelled_run_resumes_on_retry_without_generating_a_passage_twice(worker, wait):
    from core.services.jobs import cancel_job, retry_job

    with FakeOpenAIServer(delay=0.4) as server:
        corpus = make_corpus(passages=PASSAGES)
        run = create_run(corpus, endpoint_model(server.base_url), default_template_for("en", 0),
                         settings=RunSettings(batch_size=2, concurrency=1))  # fmt: skip
        wait(lambda: RawOutput.objects.filter(run=run).count() >= 2, timeout=60, what="the first batch")
        cancel_job(run.job)
        job = wait(lambda: _finished(run), timeout=60, what="the run to stop")
        assert job.status == JobStatus.CANCELLED
        done_before = set(RawOutput.objects.filter(run=run).values_list("passage_id", flat=True))
        assert 2 <= len(done_before) < len(PASSAGES)

        retry_job(job)
        job = wait(lambda: _finished(run), timeout=60, what="the resumed run to finish")

    assert job.status == JobStatus.SUCCEEDED, job.error
    outputs = RawOutput.objects.filter(run=run)
    assert outputs.count() == len(PASSAGES) == outputs.values("passage_id").distinct().count()
    asked = [FakeOpenAIServer.passage_of(r["body"]) for r in server.requests]
    assert len(asked) == len(set(asked)) == len(PASSAGES)  # no passage was sent to the model twice


def _finished(run: GenerationRun):
    job = GenerationRun.objects.select_related("job").get(pk=run.pk).job
    return job if job.is_finished else None
