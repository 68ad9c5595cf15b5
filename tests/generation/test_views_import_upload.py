"""Uploading a corpus file on the staff page and in the admin: good files queue an import job, bad files
and bad settings are shown on the form and nothing is stored."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import Job
from generation.models import Corpus, Import, Passage
from generation.services.imports import run_import, uploads_dir
from tests.generation.synth_helpers import jsonl, make_corpus

pytestmark = pytest.mark.django_db

UPLOAD_URLS = ["generation:import-upload", "admin:generation_import_add"]


def _post(client, url_name: str, name: str, data: bytes, **fields):
    payload = {"format": "auto", "text_column": "text", "title_column": "title", "id_column": "id", "qas_column": "qas"}
    payload.update(fields)
    payload["file"] = SimpleUploadedFile(name, data)
    return client.post(reverse(url_name), payload)


def _stored_uploads() -> list:
    return [p for p in uploads_dir().rglob("*") if p.is_file()] if uploads_dir().exists() else []


@pytest.mark.parametrize("url_name", UPLOAD_URLS)
def test_a_good_upload_queues_an_import_that_completes(alice_client, url_name):
    corpus = make_corpus()
    data = jsonl([{"text": "First uploaded passage.", "title": "A"}, {"text": "Second one.", "title": "B"}]).encode()

    response = _post(alice_client, url_name, "up.jsonl", data, corpus=corpus.pk)

    imp = Import.objects.get()
    assert response.status_code == 302 and response["Location"] == imp.get_absolute_url()
    assert (imp.status, imp.format, imp.file_name, imp.file_size) == (
        Import.Status.PENDING,
        "jsonl",
        "up.jsonl",
        len(data),
    )
    job = Job.objects.get()
    assert (job.kind, job.params, imp.job_id) == ("generation.import", {"import_id": imp.pk}, job.pk)
    assert Passage.objects.filter(corpus=corpus).count() == 0  # nothing visible before the job runs

    run_import(imp)
    assert Passage.objects.filter(corpus=corpus).count() == 2
    assert alice_client.get(imp.get_absolute_url()).status_code == 200


@pytest.mark.parametrize("url_name", UPLOAD_URLS)
def test_a_bad_file_is_reported_on_the_form_with_its_line_and_nothing_is_kept(alice_client, url_name):
    corpus = make_corpus()
    before = _stored_uploads()

    response = _post(alice_client, url_name, "bad.jsonl", b'{"text": "ok"}\n{"text": "cut\n', corpus=corpus.pk)

    assert response.status_code == 400
    html = response.content.decode()
    assert "bad.jsonl, line 2" in html and "Nothing was imported" in html
    assert not Import.objects.exists() and not Job.objects.exists()
    assert Passage.all_objects.count() == 0
    assert _stored_uploads() == before


def test_a_wrong_text_column_is_named_with_the_columns_the_file_has(alice_client):
    corpus = make_corpus()

    response = _post(alice_client, "generation:import-upload", "rows.csv", b"body,title\nx,y\n", corpus=corpus.pk)

    assert response.status_code == 400
    assert "no &#x27;text&#x27; column in the header (columns: body, title)" in response.content.decode()
    assert not Import.objects.exists()


def test_a_new_corpus_is_created_from_the_form(alice_client):
    response = _post(alice_client, "generation:import-upload", "p.txt", b"One.\n\nTwo.\n", new_corpus="fresh",
                     language="ja", source="news")  # fmt: skip

    assert response.status_code == 302
    corpus = Corpus.objects.get(name="fresh")
    assert (corpus.language, corpus.source) == ("ja", "news")


def test_form_errors_are_shown_without_storing_anything(alice_client):
    response = _post(alice_client, "generation:import-upload", "p.txt", b"One.\n", split="train", split_seed=3,
                     new_corpus="x")  # fmt: skip

    assert response.status_code == 400
    assert "Give either a fixed split or a seeded split, not both." in response.content.decode()
    assert not Corpus.objects.filter(name="x").exists() and not Import.objects.exists()
    response = _post(alice_client, "generation:import-upload", "p.txt", b"One.\n")
    assert "Choose a corpus or give the name of a new one." in response.content.decode()


def test_a_judge_cannot_upload(bob_client):
    corpus = make_corpus()
    response = _post(bob_client, "generation:import-upload", "p.txt", b"One.\n", corpus=corpus.pk)
    assert response.status_code == 403
    assert not Import.objects.exists()
    response = _post(bob_client, "admin:generation_import_add", "p.txt", b"One.\n", corpus=corpus.pk)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Import.objects.exists()
