"""`manage.py import_passages` imports good files, reports bad ones with file and line, stores nothing then."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from generation.models import Corpus, Passage, ReferenceQA
from tests.generation.synth_helpers import squad, write

pytestmark = pytest.mark.django_db


def test_the_command_creates_the_corpus_and_reports_what_it_stored(tmp_path):
    path = write(
        tmp_path / "q.json", squad([("A", [("Alpha text.", [("What?", "Alpha")])]), ("B", [("Beta text.", [])])])
    )
    out = io.StringIO()

    call_command("import_passages", str(path), "--format", "squad", "--corpus", "qa", "--language", "ja",
                 "--source", "jsquad", stdout=out)  # fmt: skip

    corpus = Corpus.objects.get(name="qa")
    assert (corpus.language, corpus.source) == ("ja", "jsquad")
    assert Passage.objects.filter(corpus=corpus).count() == 2 and ReferenceQA.objects.count() == 1
    assert "2 passages read, 2 new, 0 already present; 1 new reference pairs" in out.getvalue()


def test_the_command_takes_csv_columns_and_a_seeded_split(tmp_path):
    rows = "body,headline\n" + "".join(f"Text {i}.,Article {i // 2}\n" for i in range(20))
    path = write(tmp_path / "c.csv", rows)

    call_command("import_passages", str(path), "--corpus", "c", "--text-column", "body", "--title-column", "headline",
                 "--id-column", "", "--split-seed", "1", "--validation-fraction", "0.2", "--test-fraction", "0.2",
                 stdout=io.StringIO())  # fmt: skip

    splits = dict(Passage.objects.values_list("title", "split"))
    assert set(splits.values()) == {"train", "validation", "test"}
    assert Passage.objects.count() == 20


def test_a_bad_file_fails_the_command_with_the_line_and_stores_nothing(tmp_path):
    path = write(tmp_path / "bad.jsonl", '{"text": "ok"}\n{"text": 12}\n')

    with pytest.raises(CommandError) as caught:
        call_command("import_passages", str(path), "--corpus", "x", stdout=io.StringIO())

    assert "bad.jsonl, line 2" in str(caught.value) and "Nothing from this file was stored" in str(caught.value)
    assert Passage.all_objects.count() == 0


def test_contradictory_options_are_refused(tmp_path):
    path = write(tmp_path / "a.txt", "A.\n")

    with pytest.raises(CommandError, match="sum to at most 1"):
        call_command("import_passages", str(path), "--corpus", "x", "--split-seed", "1",
                     "--validation-fraction", "0.7", "--test-fraction", "0.7")  # fmt: skip
