"""An upload that names a new corpus creates it only for good: when the file turns out malformed past the
upload's first-records check, the import job fails naming the file and line, the new corpus is removed
again (no empty corpus row is left behind), and the import's page says so. A corpus that existed before
the upload is never removed."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import Job, JobStatus
from core.services.jobs import retry_job, run_job
from generation.models import Corpus, Import, Passage, ReferenceQA
from generation.services.imports import PRECHECK_RECORDS
from tests.conftest import keep_jobs_here
from tests.generation.synth_helpers import jsonl, make_corpus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def imports_run_here(monkeypatch):
    keep_jobs_here(monkeypatch, "generation.import")


# Good records beyond the upload-time check, then a cut line: only the full import finds it.
BAD_LATE = (jsonl([{"text": f"passage number {i}"} for i in range(PRECHECK_RECORDS + 20)]) + '{"text": "cut\n').encode()
BAD_LINE = PRECHECK_RECORDS + 21


def _upload(client, data: bytes, **fields):
    payload = {"format": "auto", "text_column": "text", "title_column": "title", "id_column": "id", "qas_column": "qas"}
    payload.update(fields)
    payload["file"] = SimpleUploadedFile("late.jsonl", data)
    return client.post(reverse("generation:import-upload"), payload)


def test_a_malformed_upload_into_a_new_corpus_leaves_no_corpus_behind(alice_client):
    response = _upload(alice_client, BAD_LATE, new_corpus="fresh", language="en")
    assert response.status_code == 302
    job = Job.objects.get()

    assert run_job(job.pk) == JobStatus.FAILED

    assert not Corpus.objects.filter(name="fresh").exists()
    assert Passage.all_objects.count() == 0 and ReferenceQA.all_objects.count() == 0
    job.refresh_from_db()
    assert f"late.jsonl, line {BAD_LINE}" in job.error
    imp = Import.objects.get()
    assert (imp.status, imp.corpus_id, imp.corpus_name) == (Import.Status.FAILED, None, "fresh")
    assert f"line {BAD_LINE}" in imp.error and "the new corpus 'fresh' was removed" in imp.error

    html = alice_client.get(imp.get_absolute_url()).content.decode()
    assert "Kept: nothing." in html and "new corpus fresh" in html and f"line {BAD_LINE}" in html


def test_retrying_the_failed_import_of_a_removed_corpus_says_to_upload_again(alice_client):
    _upload(alice_client, BAD_LATE, new_corpus="fresh", language="en")
    job = Job.objects.get()
    run_job(job.pk)

    retry_job(job)
    assert run_job(job.pk) == JobStatus.FAILED

    job.refresh_from_db()
    assert "late.jsonl: the new corpus 'fresh' was removed" in job.error and "Upload the corrected file" in job.error
    assert not Corpus.objects.exists()


def test_a_malformed_upload_into_an_existing_corpus_keeps_the_corpus(alice_client):
    corpus = make_corpus(name="kept", passages=["An older passage."])
    _upload(alice_client, BAD_LATE, corpus=corpus.pk)

    assert run_job(Job.objects.get().pk) == JobStatus.FAILED

    assert list(Passage.objects.filter(corpus=corpus).values_list("text", flat=True)) == ["An older passage."]
    assert Import.objects.get().corpus_id == corpus.pk


def test_a_good_upload_into_a_new_corpus_keeps_it(alice_client):
    _upload(alice_client, jsonl([{"text": "One passage."}]).encode(), new_corpus="fresh", language="ja")

    assert run_job(Job.objects.get().pk) == JobStatus.SUCCEEDED

    corpus = Corpus.objects.get(name="fresh")
    assert corpus.language == "ja" and Passage.objects.filter(corpus=corpus).count() == 1
