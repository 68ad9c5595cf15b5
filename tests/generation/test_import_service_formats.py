"""Each importer, through the import service, stores the passages and reference pairs of a good file."""

from __future__ import annotations

import pytest

from generation.models import Import, Passage, ReferenceQA
from generation.services.imports import ImportOptions, import_file
from tests.generation.synth_helpers import jsonl, make_corpus, squad, write

pytestmark = pytest.mark.django_db


def test_it_imports_plain_text_one_passage_per_blank_line_block(tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "news.txt", "First passage,\nstill the first.\n\nSecond passage.\n\n\nThird one.\n")

    imp = import_file(corpus, path)

    assert imp.status == Import.Status.COMPLETE
    assert imp.format == "txt"
    texts = list(Passage.objects.filter(corpus=corpus).values_list("text", flat=True))
    assert texts == ["First passage,\nstill the first.", "Second passage.", "Third one."]
    assert imp.passages_created == 3 and imp.passages_read == 3
    assert all(p.import_batch_id == imp.pk for p in Passage.objects.filter(corpus=corpus))


def test_it_imports_jsonl_with_custom_columns_and_nested_pairs(tmp_path):
    corpus = make_corpus()
    records = [
        {"body": "Alpha text about cats.", "headline": "Cats", "uid": "c1",
         "qas": [{"question": "What is it about?", "answers": ["cats"], "id": "q1"}]},
        {"body": "Beta text about dogs.", "headline": "Dogs", "uid": "d1"},
    ]  # fmt: skip
    path = write(tmp_path / "items.jsonl", jsonl(records))

    imp = import_file(corpus, path, ImportOptions(text_column="body", title_column="headline", id_column="uid"))

    alpha, beta = Passage.objects.filter(corpus=corpus)
    assert (alpha.text, alpha.title, alpha.external_id) == ("Alpha text about cats.", "Cats", "c1")
    assert (beta.title, beta.external_id) == ("Dogs", "d1")
    pair = ReferenceQA.objects.get()
    assert (pair.passage_id, pair.question, pair.answers, pair.external_id) == (
        alpha.pk,
        "What is it about?",
        ["cats"],
        "q1",
    )
    assert (imp.passages_created, imp.pairs_created) == (2, 1)


def test_it_imports_csv_with_one_row_per_question_merged_into_one_passage(tmp_path):
    corpus = make_corpus()
    content = (
        "passage,title,q,a\n"
        '"Tokyo is the capital of Japan.",Japan,What is the capital of Japan?,Tokyo\n'
        '"Tokyo is the capital of Japan.",Japan,Which country is Tokyo the capital of?,Japan\n'
        '"Paris, the capital of France.",France,What is the capital of France?,Paris\n'
    )
    path = write(tmp_path / "qa.csv", content)

    imp = import_file(
        corpus, path, ImportOptions(text_column="passage", question_column="q", answer_column="a", id_column="")
    )

    assert imp.status == Import.Status.COMPLETE
    tokyo, paris = Passage.objects.filter(corpus=corpus)
    assert tokyo.text == "Tokyo is the capital of Japan." and paris.text == "Paris, the capital of France."
    assert list(tokyo.reference_pairs.values_list("question", flat=True)) == [
        "What is the capital of Japan?",
        "Which country is Tokyo the capital of?",
    ]
    assert list(paris.reference_pairs.values_list("answers", flat=True)) == [["Paris"]]


def test_it_imports_tab_separated_files_by_extension(tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "p.tsv", "text\tid\nOne, with a comma.\tx1\nTwo.\tx2\n")

    import_file(corpus, path)

    assert list(Passage.objects.values_list("text", "external_id")) == [("One, with a comma.", "x1"), ("Two.", "x2")]


def test_it_imports_squad_json_with_titles_and_all_answers(tmp_path):
    corpus = make_corpus(language="ja")
    content = squad(
        [
            ("富士山", [("富士山は日本一高い山である。", [("日本一高い山は何か。", "富士山")])]),
            ("琵琶湖", [("琵琶湖は滋賀県にある。", [("琵琶湖はどこにあるか。", "滋賀県"), ("何県か。", "滋賀県")])]),
        ]
    )
    path = write(tmp_path / "ja.json", content)

    imp = import_file(corpus, path)

    assert imp.format == "squad"
    assert list(Passage.objects.values_list("title", flat=True)) == ["富士山", "琵琶湖"]
    assert ReferenceQA.objects.count() == 3
    assert ReferenceQA.objects.filter(external_id="a1p0q1").get().answers == ["滋賀県"]
    assert imp.pairs_created == 3


def test_squad_2_unanswerable_questions_are_skipped_and_counted(tmp_path):
    corpus = make_corpus()
    document = {
        "version": "v2.0",
        "data": [{"title": "T", "paragraphs": [{"context": "Some context.", "qas": [
            {"id": "1", "question": "What?", "answers": [{"text": "Some", "answer_start": 0}], "is_impossible": False},
            {"id": "2", "question": "Why?", "answers": [], "is_impossible": True},
        ]}]}],
    }  # fmt: skip
    import json

    path = write(tmp_path / "v2.json", json.dumps(document))

    imp = import_file(corpus, path)

    assert imp.skipped_unanswerable == 1
    assert list(ReferenceQA.objects.values_list("external_id", flat=True)) == ["1"]
