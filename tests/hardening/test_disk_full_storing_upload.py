"""The disk is full (or the data dir read-only) when a corpus upload is copied into the data dir: the
staff member gets the form back with a message saying so (not a 500), no half-written copy is left, no
import or job row is created, and the same upload works once there is space.

Real faults: the data dir is a tiny tmpfs (16 KiB, smaller than the upload) or a read-only one.
"""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from core.models import Job
from generation.models import Import
from tests.generation.synth_helpers import jsonl, make_corpus
from tests.hardening.helpers import small_filesystem

pytestmark = pytest.mark.django_db

DATA = jsonl([{"text": f"Passage {i} about the harbour and its ships.", "title": f"T{i}"} for i in range(800)]).encode()


def _post(client, corpus):
    payload = {"corpus": corpus.pk, "format": "auto", "text_column": "text", "title_column": "title"}
    payload["file"] = SimpleUploadedFile("harbour.jsonl", DATA)
    return client.post(reverse("generation:import-upload"), payload)


def _files(root) -> list:
    return [p for p in root.rglob("*") if p.is_file()]


@pytest.mark.parametrize(("read_only", "expected"), [(False, "disk is full"), (True, "read-only file system")])
def test_an_upload_that_cannot_be_stored_is_refused_on_the_form_and_leaves_nothing(
    alice_client, settings, tmp_path, read_only, expected
):
    assert len(DATA) > 32 * 1024
    corpus = make_corpus()
    with small_filesystem(tmp_path / "data", size="16k", read_only=read_only) as data_dir:
        settings.DATA_DIR = data_dir

        response = _post(alice_client, corpus)

        assert response.status_code == 400
        page = response.content.decode()
        assert expected in page.lower() and "Nothing was imported" in page
        assert _files(data_dir) == []  # no half-written copy
        assert not Import.objects.exists() and not Job.objects.exists()

    settings.DATA_DIR = tmp_path / "roomy"
    assert _post(alice_client, corpus).status_code == 302
    assert Import.objects.count() == 1
