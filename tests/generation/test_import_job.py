"""The import job (kind "generation.import") runs an uploaded file's import and reports figures or a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.models import JobStatus
from core.services.jobs import run_job
from generation.models import Import, Passage
from generation.services.imports import ImportOptions, create_import, start_import_job, store_upload
from tests.generation.synth_helpers import jsonl, make_corpus

pytestmark = pytest.mark.django_db(transaction=True)


class Upload:
    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data = name, data

    def chunks(self):
        yield self.data


def _queued_import(name: str, data: bytes):
    corpus = make_corpus()
    imp = create_import(corpus, store_upload(Upload(name, data)), ImportOptions())
    job = start_import_job(imp, enqueue=False)  # run here, not by a worker
    return corpus, imp, job


def test_the_import_job_imports_the_upload_and_removes_the_upload_copy():
    corpus, imp, job = _queued_import("p.jsonl", jsonl([{"text": f"passage {i}"} for i in range(12)]).encode())
    assert job.kind == "generation.import" and job.queue == "default"

    assert run_job(job.pk) == JobStatus.SUCCEEDED

    job.refresh_from_db()
    imp.refresh_from_db()
    assert imp.status == Import.Status.COMPLETE
    assert Passage.objects.filter(corpus=corpus).count() == 12
    assert job.result["passages_created"] == 12
    assert (job.progress_done, job.progress_total) == (imp.file_size, imp.file_size)
    assert not Path(imp.file_path).exists()


def test_a_bad_upload_fails_the_job_with_the_place_and_stores_nothing():
    corpus, imp, job = _queued_import("p.jsonl", b'{"text": "fine"}\n{broken\n')

    assert run_job(job.pk) == JobStatus.FAILED

    job.refresh_from_db()
    imp.refresh_from_db()
    assert "p.jsonl, line 2" in job.error and "Nothing from this file was stored" in job.error
    assert imp.status == Import.Status.FAILED and "line 2" in imp.error
    assert Passage.all_objects.filter(corpus=corpus).count() == 0
