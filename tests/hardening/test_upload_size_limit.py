"""Every upload form refuses a file over settings.QASYNTH_MAX_UPLOAD_BYTES (set from the environment) with a
message naming the size and the limit; nothing is stored. Under the limit the same file is accepted."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import JudgingSession
from core.models import Job
from generation.models import Import
from generation.services.imports import uploads_dir
from tests.generation.synth_helpers import jsonl, make_corpus

pytestmark = pytest.mark.django_db

CORPUS = jsonl([{"text": f"Passage {i} about lighthouses.", "title": f"T{i}"} for i in range(20)]).encode()
ITEMS = "\n".join(
    json.dumps({"question": f"Q{i}?", "answer_a": "yes", "answer_b": "no", "system_a": "s1", "system_b": "s2"})
    for i in range(20)
).encode()


def _corpus_upload(client, url_name: str, corpus):
    payload = {"corpus": corpus.pk, "format": "auto", "text_column": "text", "title_column": "title"}
    payload["file"] = SimpleUploadedFile("lighthouses.jsonl", CORPUS)
    return client.post(reverse(url_name), payload)


def _session_upload(client, judge):
    payload = {
        "name": "Size limit", "file": SimpleUploadedFile("items.jsonl", ITEMS), "judges_per_item": 1,
        "judges": [judge.pk], "labels": "Correct\nIncorrect", "lease_minutes": 10, "control_rate": 0,
        "control_threshold": 0.7,
    }  # fmt: skip
    return client.post(reverse("annotation:session-new"), payload)


def _stored_uploads() -> list:
    return [p for p in uploads_dir().rglob("*") if p.is_file()] if uploads_dir().exists() else []


@pytest.mark.parametrize("url_name", ["generation:import-upload", "admin:generation_import_add"])
def test_a_corpus_file_over_the_limit_is_refused_with_its_size_and_nothing_is_stored(alice_client, settings, url_name):
    corpus = make_corpus()
    before = _stored_uploads()
    settings.QASYNTH_MAX_UPLOAD_BYTES = len(CORPUS) - 1

    response = _corpus_upload(alice_client, url_name, corpus)

    assert response.status_code == 400
    assert f"The file is {len(CORPUS)} bytes; the limit is {len(CORPUS) - 1} bytes" in response.content.decode()
    assert _stored_uploads() == before
    assert not Import.objects.exists() and not Job.objects.exists()

    settings.QASYNTH_MAX_UPLOAD_BYTES = len(CORPUS)
    assert _corpus_upload(alice_client, url_name, corpus).status_code == 302


def test_a_session_file_over_the_limit_is_refused_with_its_size_and_nothing_is_stored(alice_client, bob, settings):
    settings.QASYNTH_MAX_UPLOAD_BYTES = len(ITEMS) - 1

    response = _session_upload(alice_client, bob)

    assert response.status_code == 400
    assert f"the file is {len(ITEMS)} bytes; the limit is {len(ITEMS) - 1} bytes" in response.content.decode()
    assert not JudgingSession.objects.exists()

    settings.QASYNTH_MAX_UPLOAD_BYTES = len(ITEMS)
    assert _session_upload(alice_client, bob).status_code == 302
    assert JudgingSession.objects.get().items.count() == 20


def test_the_limit_comes_from_the_environment(monkeypatch):
    import importlib

    import qasynth_web.settings as production

    monkeypatch.setenv("QASYNTH_MAX_UPLOAD_BYTES", "12345")
    try:
        assert importlib.reload(production).QASYNTH_MAX_UPLOAD_BYTES == 12345
    finally:
        monkeypatch.undo()
        importlib.reload(production)
