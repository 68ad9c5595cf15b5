"""A failed import leaves nothing behind: no empty corpus from the command, no upload folder, and its page
says that nothing was kept. Bad files are refused the same way by the command and the upload page."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from generation.importers.errors import CorpusImportError
from generation.models import Corpus, Import, Passage
from generation.services.imports import import_file, run_import, uploads_dir
from tests.generation.synth_helpers import jsonl, make_corpus, write

pytestmark = pytest.mark.django_db

STRING_ANSWERS = json.dumps({"data": [{"title": "Water", "paragraphs": [
    {"context": "Water boils at 100 degrees.", "qas": [{"id": "w1", "question": "When?", "answers": "100 degrees"}]},
]}]})  # fmt: skip
STRING_ANSWERS_PLACE = (
    "article 1 (&#x27;Water&#x27;), paragraph 1, question 1 (id w1): &#x27;answers&#x27; must be a list"
)


def _upload(client, name: str, data: bytes, **fields):
    payload = {"format": "auto", "text_column": "text", "title_column": "title", "id_column": "id", "qas_column": "qas"}
    payload.update(fields)
    payload["file"] = SimpleUploadedFile(name, data)
    return client.post(reverse("generation:import-upload"), payload)


def _upload_entries() -> list:
    return sorted(uploads_dir().rglob("*")) if uploads_dir().exists() else []


@pytest.mark.parametrize(
    ("name", "content"),
    [("bad.jsonl", '{"text": "ok"}\n{"text": 12}\n'), ("empty.txt", ""), ("s.json", STRING_ANSWERS)],
)
def test_a_failed_command_line_import_leaves_no_new_corpus_behind(tmp_path, name, content):
    path = write(tmp_path / name, content)

    with pytest.raises(CommandError, match="Nothing from this file was stored"):
        call_command("import_passages", str(path), "--corpus", "fresh", stdout=io.StringIO())

    assert not Corpus.objects.filter(name="fresh").exists()
    assert Passage.all_objects.count() == 0 and Import.objects.count() == 0


def test_a_failed_import_into_an_existing_corpus_keeps_the_corpus_and_records_the_failure(tmp_path):
    corpus = make_corpus(name="kept")
    path = write(tmp_path / "bad.jsonl", '{"text": 12}\n')

    with pytest.raises(CommandError):
        call_command("import_passages", str(path), "--corpus", "kept", stdout=io.StringIO())

    assert Corpus.objects.filter(pk=corpus.pk).exists()
    assert Import.objects.get(corpus=corpus).status == Import.Status.FAILED


def test_the_command_refuses_squad_answers_given_as_a_string_naming_the_question(tmp_path):
    path = write(tmp_path / "s.json", STRING_ANSWERS)
    with pytest.raises(CommandError) as caught:
        call_command("import_passages", str(path), "--corpus", "c", stdout=io.StringIO())
    assert "s.json, article 1 ('Water'), paragraph 1, question 1 (id w1): 'answers' must be a list" in str(caught.value)


def test_the_upload_page_refuses_squad_answers_given_as_a_string_naming_the_question(alice_client):
    corpus = make_corpus()
    response = _upload(alice_client, "s.json", STRING_ANSWERS.encode(), corpus=corpus.pk)
    assert response.status_code == 400
    assert STRING_ANSWERS_PLACE in response.content.decode()
    assert not Import.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("bad.jsonl", b'{"text": "ok"}\n{"text": "cut\n', "bad.jsonl, line 2"),
        ("empty.txt", b"", "The submitted file is empty."),
        ("blank.json", b" \n", "blank.json: the file holds nothing but blank space. Check that you picked the right"),
        (
            "u16.json",
            '{"data": []}'.encode("utf-16"),
            "u16.json: the file is UTF-16, not UTF-8. Save it as UTF-8. Nothing",
        ),
    ],
)
def test_a_refused_upload_leaves_no_folder_under_the_uploads_dir(alice_client, name, data, says):
    corpus = make_corpus()
    before = _upload_entries()

    response = _upload(alice_client, name, data, corpus=corpus.pk)

    assert response.status_code == 400
    html = response.content.decode()
    assert says in html and "?." not in html
    assert _upload_entries() == before


def test_a_completed_upload_removes_its_copy_and_its_folder(alice_client):
    corpus = make_corpus()
    before = _upload_entries()
    response = _upload(alice_client, "up.jsonl", jsonl([{"text": "One passage."}]).encode(), corpus=corpus.pk)
    assert response.status_code == 302

    run_import(Import.objects.get())

    assert Passage.objects.filter(corpus=corpus).count() == 1
    assert _upload_entries() == before


def test_a_utf16_csv_with_a_byte_order_mark_uploads_and_imports(alice_client):
    corpus = make_corpus(language="ja")
    data = "text,title\r\n水は100度で沸騰する。,水\r\n".encode("utf-16")

    response = _upload(alice_client, "excel.csv", data, corpus=corpus.pk)
    assert response.status_code == 302
    run_import(Import.objects.get())

    assert list(Passage.objects.filter(corpus=corpus).values_list("text", "title")) == [("水は100度で沸騰する。", "水")]


def test_a_failed_imports_page_says_nothing_was_kept(alice_client, tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "big.jsonl", jsonl([{"text": f"passage number {i}"} for i in range(30)]) + "{broken\n")
    with pytest.raises(CorpusImportError):
        import_file(corpus, path, chunk_size=10)  # three chunks were staged, then removed
    imp = Import.objects.get()

    html = alice_client.get(imp.get_absolute_url()).content.decode()

    assert "Kept: nothing." in html and "30 passages" in html
    assert "New passages" not in html
    assert (imp.passages_created, imp.passages_read) == (0, 30)
    assert Passage.all_objects.count() == 0
