"""The PostgreSQL connection dies in the middle of a corpus import job (between two committed chunks): the
job fails with a message that says so, the import is marked failed with nothing of it visible or left
staged, and a retry imports the file exactly once."""

from __future__ import annotations

import json

import pytest

from core.models import JobStatus
from core.services import jobs
from generation.models import Import, Passage, ReferenceQA
from generation.services import imports
from tests.generation.synth_helpers import make_corpus
from tests.hardening.dbfaults import require_postgres, terminate_current_backend
from tests.hardening.helpers import describe

N = 3500  # four chunks of 1000


def _file(path):
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(N):
            qas = [{"id": f"q{i}", "question": f"What does canal {i} connect?", "answers": [f"lake {i}"]}]
            handle.write(
                json.dumps({"id": str(i), "text": f"Canal {i} connects lake {i} to the sea.", "qas": qas}) + "\n"
            )
    return imports.describe_file(path)


@pytest.fixture
def queued_import(in_process, tmp_path):
    require_postgres()
    corpus = make_corpus("canals")
    imp = imports.create_import(corpus, _file(tmp_path / "canals.jsonl"), imports.ImportOptions(format="jsonl"))
    job = imports.start_import_job(imp, enqueue=False)
    in_process(job)
    return corpus, imp, job


def test_an_import_that_loses_its_database_connection_fails_clearly_and_a_retry_imports_once(
    queued_import, monkeypatch
):
    corpus, imp, job = queued_import
    real_write = imports._write_chunk
    calls = []

    def write_then_lose_connection(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # two chunks are committed (staged) by now
            terminate_current_backend()
        return real_write(*args, **kwargs)

    monkeypatch.setattr(imports, "_write_chunk", write_then_lose_connection)

    assert jobs.run_job(job.pk, owner="hardening-test") == JobStatus.FAILED
    job.refresh_from_db()
    assert "database connection was lost" in job.error.lower(), job.error
    assert "retry" in job.error.lower()
    imp.refresh_from_db()
    assert imp.status == Import.Status.FAILED, (imp.status, imp.error)
    assert Passage.objects.filter(corpus=corpus).count() == 0
    assert Passage.all_objects.filter(corpus=corpus).count() == 0  # the staged chunks were removed
    assert ReferenceQA.all_objects.filter(passage__corpus=corpus).count() == 0

    monkeypatch.undo()
    jobs.retry_job(job)
    assert jobs.run_job(job.pk, owner="hardening-test") == JobStatus.SUCCEEDED, describe(job)
    imp.refresh_from_db()
    assert imp.status == Import.Status.COMPLETE and imp.passages_created == N
    assert Passage.all_objects.filter(corpus=corpus).count() == N
    assert ReferenceQA.objects.filter(passage__corpus=corpus).count() == N
