"""SIGKILL of a worker in the middle of a corpus import, with a second import waiting in its prefetch.

The killed attempt had committed some staged chunks; the sweep re-queues the job, the next attempt drops
what the dead one staged and reads the file again, so the corpus ends with every passage exactly once and
nothing of the dead attempt is ever visible.
"""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.db.models import Count

from core.models import Job, JobStatus
from generation.models import Import, Passage, ReferenceQA
from generation.services import imports
from tests.conftest import wait_for
from tests.generation.synth_helpers import make_corpus
from tests.hardening.helpers import describe, start_prefetching_worker, to_queue, wait_finished

pytestmark = [pytest.mark.worker, pytest.mark.slow]

QUEUE = "hardening-import"
BIG = 25_000
SMALL = 50


def _write(path, n: int, tag: str):
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(n):
            record = {
                "id": f"{tag}-{i}",
                "title": f"{tag} article {i // 10}",
                "text": f"{tag} passage {i}: the bridge number {i} was opened in {1800 + i % 200}.",
                "qas": [
                    {"id": f"{tag}-q{i}", "question": f"When was bridge {i} opened?", "answers": [str(1800 + i % 200)]}
                ],
            }
            handle.write(json.dumps(record) + "\n")
    return imports.describe_file(path)


def test_a_killed_import_restarts_cleanly_and_its_prefetched_neighbour_still_runs(worker, tmp_path):
    big_corpus, small_corpus = make_corpus("bridges"), make_corpus("bridges-small")
    big_file, small_file = _write(tmp_path / "big.jsonl", BIG, "big"), _write(tmp_path / "small.jsonl", SMALL, "small")
    doomed = start_prefetching_worker("hardening-import", QUEUE, concurrency=1, prefetch=2)
    try:
        with transaction.atomic():
            big = imports.create_import(big_corpus, big_file, imports.ImportOptions(format="jsonl"))
            small = imports.create_import(small_corpus, small_file, imports.ImportOptions(format="jsonl"))
            big_job = imports.start_import_job(big)
            small_job = imports.start_import_job(small)
            to_queue([big_job.pk, small_job.pk], QUEUE)
        wait_for(lambda: doomed.log().count("] received") >= 2, timeout=30, what="both messages in the worker's hands")
        wait_for(lambda: Import.objects.get(pk=big.pk).passages_read >= 1000, timeout=60, what="a committed chunk")
        doomed.kill()
    finally:
        doomed.stop()
    staged = Passage.all_objects.filter(import_batch=big).count()
    assert 0 < staged < BIG, "the import was not in the middle when the worker died"
    assert Passage.objects.filter(corpus=big_corpus).count() == 0  # staged rows of a dead attempt stay hidden
    assert Job.objects.get(pk=small_job.pk).status == JobStatus.QUEUED

    to_queue([big_job.pk, small_job.pk], "default")
    done = wait_finished([big_job.pk, small_job.pk], timeout=150, what="both imports to finish after the kill")

    for job in done:
        assert job.status == JobStatus.SUCCEEDED, describe(job)
    assert "stopped sending heartbeats" in done[0].log
    big.refresh_from_db()
    assert big.status == Import.Status.COMPLETE and big.attempt == 2
    assert big.passages_created == BIG and big.pairs_created == BIG
    for corpus, n in ((big_corpus, BIG), (small_corpus, SMALL)):
        assert Passage.objects.filter(corpus=corpus).count() == n
        assert Passage.all_objects.filter(corpus=corpus).count() == n  # nothing of the dead attempt is left
        duplicated = Passage.all_objects.filter(corpus=corpus).values("content_hash").annotate(n=Count("id"))
        assert not duplicated.filter(n__gt=1).exists()
        assert ReferenceQA.objects.filter(passage__corpus=corpus).count() == n
