"""SIGKILL of a worker in the middle of an LLM judging run (choice mode, a tiny local model).

Votes are stored one chunk per transaction under a unique (run, item, order, vote) constraint; the re-queued
job asks the model only for the votes still missing, then rebuilds the verdicts. Every (item, order) ends
with exactly one stored vote, the votes stored before the kill are kept (not redone), and every item has
exactly one final verdict.
"""

from __future__ import annotations

import pytest
from django.db import transaction

from analysis.models import LLMJudgeRun, LLMVerdict, LLMVote
from analysis.services.llm_judging import JudgeSettings, create_run
from core.models import Job, JobStatus
from tests.annotation.helpers import make_session
from tests.hardening.helpers import describe, start_prefetching_worker, to_queue, wait_at_gate, wait_finished
from tests.training.web_helpers import tiny_entry

pytestmark = [pytest.mark.worker, pytest.mark.slow]

QUEUE = "hardening-llm-judge"
ITEMS = 24
KILLED_AFTER = 3  # chunks of votes stored before the kill


def test_a_killed_llm_judging_run_resumes_and_stores_no_verdict_twice(worker):
    session = make_session(n=ITEMS, k=1)
    doomed = start_prefetching_worker("hardening-llm-judge", QUEUE, concurrency=1, stop_at_batch=KILLED_AFTER)
    try:
        with transaction.atomic():
            run = create_run(session, tiny_entry(), settings=JudgeSettings(verdict_mode="choice", batch_size=1))
            to_queue([run.job_id], QUEUE)
        assert wait_at_gate(doomed, timeout=90)["job"] == run.job_id
        doomed.kill()
    finally:
        doomed.stop()
    before = {(i, o): pk for i, o, pk in LLMVote.objects.filter(run=run).values_list("item_id", "order", "pk")}
    assert KILLED_AFTER <= len(before) < 2 * ITEMS
    assert Job.objects.get(pk=run.job_id).status == JobStatus.RUNNING  # as the dead worker left it
    assert not LLMVerdict.objects.filter(run=run).exists()

    to_queue([run.job_id], "gpu")
    (job,) = wait_finished([run.job_id], timeout=180, what="the judging run to finish after the kill")

    assert job.status == JobStatus.SUCCEEDED, describe(job)
    assert job.attempts == 2
    stored = list(LLMVote.objects.filter(run=run).values_list("item_id", "order", "vote", "pk"))
    keys = [(i, o, v) for i, o, v, _ in stored]
    assert len(keys) == len(set(keys)) == 2 * ITEMS
    assert {(i, o): pk for i, o, _, pk in stored if (i, o) in before} == before  # kept, not redone
    assert LLMVerdict.objects.filter(run=run).count() == ITEMS
    run = LLMJudgeRun.objects.get(pk=run.pk)
    assert run.summary["n_outputs"] == 2 * ITEMS and run.summary["n_unparseable"] == 0
