"""A bad file gets a clear error naming the file and place, and a failed import stores nothing."""

from __future__ import annotations

import pytest

from generation.importers.errors import CorpusImportError
from generation.models import Import, Passage, ReferenceQA
from generation.services.imports import ImportOptions, ImportOptionsError, import_file
from tests.generation.synth_helpers import jsonl, make_corpus, write

pytestmark = pytest.mark.django_db


def _assert_nothing_stored(corpus) -> None:
    assert Passage.all_objects.filter(corpus=corpus).count() == 0
    assert ReferenceQA.all_objects.filter(passage__corpus=corpus).count() == 0


def test_a_broken_jsonl_line_late_in_the_file_names_the_line_and_stores_nothing(tmp_path):
    corpus = make_corpus()
    good = jsonl([{"text": f"passage number {i}"} for i in range(30)])
    path = write(tmp_path / "big.jsonl", good + '{"text": "cut off\n')

    with pytest.raises(CorpusImportError) as caught:
        import_file(corpus, path, chunk_size=10)  # three chunks were written before the bad line

    assert "big.jsonl" in str(caught.value) and "line 31" in str(caught.value)
    _assert_nothing_stored(corpus)
    imp = Import.objects.get()
    assert imp.status == Import.Status.FAILED
    assert "line 31" in imp.error


def test_a_missing_text_column_lists_the_columns_that_exist(tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "rows.csv", "body,title\nhello,T\n")

    with pytest.raises(CorpusImportError) as caught:
        import_file(corpus, path)

    assert "rows.csv" in str(caught.value)
    assert "no 'text' column" in str(caught.value) and "body, title" in str(caught.value)
    _assert_nothing_stored(corpus)


def test_a_shift_jis_file_is_named_as_such(tmp_path):
    corpus = make_corpus(language="ja")
    path = write(tmp_path / "sjis.txt", "日本語の文章です。\n".encode("cp932"))

    with pytest.raises(CorpusImportError) as caught:
        import_file(corpus, path)

    assert "sjis.txt" in str(caught.value) and "line 1" in str(caught.value)
    assert "Shift_JIS" in str(caught.value)
    _assert_nothing_stored(corpus)


def test_a_truncated_squad_file_says_it_was_cut_off(tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "squad.json", '{"data": [{"title": "A", "paragraphs": [{"context": "x", "qas": [')

    with pytest.raises(CorpusImportError) as caught:
        import_file(corpus, path)

    assert "squad.json" in str(caught.value) and "end of file" in str(caught.value)
    _assert_nothing_stored(corpus)


def test_an_empty_record_is_rejected_with_its_line(tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "e.jsonl", jsonl([{"text": "fine"}, {"text": "   "}]))

    with pytest.raises(CorpusImportError) as caught:
        import_file(corpus, path)

    assert "e.jsonl, line 2" in str(caught.value) and "empty" in str(caught.value)
    _assert_nothing_stored(corpus)


def test_a_failed_import_leaves_earlier_imports_untouched(tmp_path):
    corpus = make_corpus()
    import_file(corpus, write(tmp_path / "ok.txt", "Kept passage.\n"))
    with pytest.raises(CorpusImportError):
        import_file(corpus, write(tmp_path / "bad.jsonl", "not json\n"))

    assert list(Passage.objects.filter(corpus=corpus).values_list("text", flat=True)) == ["Kept passage."]


def test_contradictory_split_options_are_refused_before_reading(tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "ok.txt", "A.\n")

    with pytest.raises(ImportOptionsError, match="either a fixed split or a seeded split"):
        import_file(corpus, path, ImportOptions(split="train", split_seed=1))

    assert not Import.objects.exists()
