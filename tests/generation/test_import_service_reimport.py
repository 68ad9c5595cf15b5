"""Importing the same content again finds it by content hash instead of duplicating it."""

from __future__ import annotations

import pytest

from generation.models import Import, Passage, ReferenceQA
from generation.services.imports import import_file
from tests.generation.synth_helpers import jsonl, make_corpus, squad, write

pytestmark = pytest.mark.django_db


def test_importing_the_same_file_twice_stores_each_passage_and_pair_once(tmp_path):
    corpus = make_corpus()
    path = write(tmp_path / "s.json", squad([("A", [("Alpha context.", [("What?", "Alpha")])]),
                                              ("B", [("Beta context.", [("Which?", "Beta")])])]))  # fmt: skip

    first = import_file(corpus, path)
    second = import_file(corpus, path)

    assert Passage.objects.filter(corpus=corpus).count() == 2
    assert ReferenceQA.objects.count() == 2
    assert (first.passages_created, first.pairs_created) == (2, 2)
    assert (second.passages_created, second.passages_existing, second.pairs_created, second.pairs_existing) == (
        0,
        2,
        0,
        2,
    )
    assert second.status == Import.Status.COMPLETE


def test_whitespace_differences_do_not_make_a_new_passage(tmp_path):
    corpus = make_corpus()
    import_file(corpus, write(tmp_path / "a.txt", "Same   words\nhere.\n"))
    again = import_file(corpus, write(tmp_path / "b.jsonl", jsonl([{"text": "Same words here."}])))

    assert Passage.objects.filter(corpus=corpus).count() == 1
    assert again.passages_existing == 1


def test_a_repeated_passage_inside_one_file_is_stored_once(tmp_path):
    corpus = make_corpus()
    imp = import_file(
        corpus, write(tmp_path / "r.jsonl", jsonl([{"text": "Twice."}, {"text": "Once."}, {"text": "Twice."}]))
    )

    assert sorted(Passage.objects.values_list("text", flat=True)) == ["Once.", "Twice."]
    assert (imp.passages_created, imp.passages_existing) == (2, 1)


def test_new_reference_pairs_for_a_known_passage_are_added(tmp_path):
    corpus = make_corpus()
    import_file(corpus, write(tmp_path / "plain.txt", "Gamma context.\n"))
    imp = import_file(
        corpus, write(tmp_path / "qa.json", squad([("G", [("Gamma context.", [("What is it?", "Gamma")])])]))
    )

    passage = Passage.objects.get(corpus=corpus)
    assert list(passage.reference_pairs.values_list("question", flat=True)) == ["What is it?"]
    assert (imp.passages_existing, imp.pairs_created) == (1, 1)


def test_the_same_text_in_another_corpus_is_a_separate_passage(tmp_path):
    path = write(tmp_path / "x.txt", "Shared text.\n")
    import_file(make_corpus("one"), path)
    import_file(make_corpus("two"), path)

    assert Passage.objects.count() == 2
