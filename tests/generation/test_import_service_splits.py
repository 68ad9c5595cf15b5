"""Splits at import: a fixed split, or a seeded split grouped by article so no article is on both sides."""

from __future__ import annotations

import pytest

from generation.models import Passage
from generation.services.imports import ImportOptions, import_file
from tests.generation.synth_helpers import jsonl, make_corpus, write

pytestmark = pytest.mark.django_db


def _articles(n_articles: int, per_article: int) -> str:
    return jsonl(
        [
            {"text": f"Article {a} paragraph {p}.", "title": f"Article {a}"}
            for a in range(n_articles)
            for p in range(per_article)
        ]
    )


def test_a_fixed_split_marks_every_new_passage(tmp_path):
    corpus = make_corpus()
    imp = import_file(corpus, write(tmp_path / "v.jsonl", _articles(2, 2)), ImportOptions(split="validation"))

    assert set(Passage.objects.values_list("split", flat=True)) == {"validation"}
    assert imp.split_counts == {"validation": 4}


def test_a_seeded_split_keeps_each_article_on_one_side(tmp_path):
    corpus = make_corpus()
    options = ImportOptions(split_seed=7, validation_fraction=0.25, test_fraction=0.25)
    imp = import_file(corpus, write(tmp_path / "a.jsonl", _articles(20, 3)), options, chunk_size=7)

    splits_by_title: dict[str, set[str]] = {}
    for title, split in Passage.objects.values_list("title", "split"):
        splits_by_title.setdefault(title, set()).add(split)
    assert all(len(splits) == 1 for splits in splits_by_title.values())
    counts = {s: Passage.objects.filter(split=s).count() for s in ("train", "validation", "test")}
    assert counts == imp.split_counts
    assert sum(counts.values()) == 60
    assert counts["train"] >= 24 and counts["validation"] >= 9 and counts["test"] >= 9


def test_the_same_seed_gives_the_same_split(tmp_path):
    content = _articles(12, 2)
    results = []
    for name in ("one", "two"):
        corpus = make_corpus(name)
        import_file(corpus, write(tmp_path / f"{name}.jsonl", content), ImportOptions(split_seed=3, test_fraction=0.5))
        results.append(list(Passage.objects.filter(corpus=corpus).values_list("title", "split")))

    assert results[0] == results[1]
    assert {s for _, s in results[0]} == {"train", "test"}


def test_untitled_passages_are_split_one_by_one(tmp_path):
    corpus = make_corpus()
    content = "\n\n".join(f"Untitled passage {i}." for i in range(10))
    imp = import_file(corpus, write(tmp_path / "u.txt", content), ImportOptions(split_seed=0, test_fraction=0.3))

    assert imp.split_counts == {"train": 7, "validation": 0, "test": 3}
    assert Passage.objects.filter(split="test").count() == 3
