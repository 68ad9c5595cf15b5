"""Integration: the real JSQuAD validation file imports with every context and question it holds.

The file lives outside the repository (QASYNTH_JSQUAD_PATH, default <repo>/../shared/data); the test
skips with the reason when it is absent. Expected counts are computed from the file itself, not hard-coded."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command

from generation.models import Corpus, Import, Passage, ReferenceQA
from tests.generation.synth_helpers import JSQUAD_PATH as JSQUAD

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(scope="module")
def expected() -> dict:
    if not JSQUAD.is_file():
        pytest.skip(f"JSQuAD validation file not found at {JSQUAD} (not shipped with the repository)")
    data = json.loads(JSQUAD.read_text(encoding="utf-8"))["data"]
    contexts = [p["context"] for article in data for p in article["paragraphs"]]
    questions = [qa for article in data for p in article["paragraphs"] for qa in p["qas"]]
    return {
        "articles": len(data),
        "contexts": len(contexts),
        "distinct_contexts": len({" ".join(c.split()) for c in contexts}),
        "questions": len(questions),
        "answerable": sum(1 for qa in questions if not qa.get("is_impossible") and qa["answers"]),
        "titles": {article["title"] for article in data},
    }


def test_jsquad_imports_with_its_contexts_questions_and_a_held_out_article_split(expected):
    out = io.StringIO()
    call_command("import_passages", str(JSQUAD), "--format", "squad", "--corpus", "jsquad", "--language", "ja",
                 "--source", "jsquad", "--split-seed", "13", "--test-fraction", "0.5", stdout=out)  # fmt: skip

    corpus = Corpus.objects.get(name="jsquad")
    passages = Passage.objects.filter(corpus=corpus)
    assert passages.count() == expected["distinct_contexts"]
    assert ReferenceQA.objects.filter(passage__corpus=corpus).count() == expected["answerable"]
    assert set(passages.values_list("title", flat=True)) == expected["titles"]
    # "title [SEP] " is split off, except where a gold answer occurs only in the title: those keep it
    imp = Import.objects.get(corpus=corpus)
    assert passages.filter(text__contains=" [SEP] ").count() == imp.title_kept > 0
    for ref in ReferenceQA.objects.filter(passage__corpus=corpus).select_related("passage"):
        spans = [ref.passage.text[s : s + len(a)] for a, s in zip(ref.answers, ref.answer_starts, strict=True)]
        assert spans == ref.answers, f"reference pair {ref.external_id} is not answerable from its passage"
    # held-out articles: no title on both sides
    train_titles = set(passages.filter(split="train").values_list("title", flat=True))
    test_titles = set(passages.filter(split="test").values_list("title", flat=True))
    assert train_titles and test_titles and not train_titles & test_titles
    assert train_titles | test_titles == expected["titles"]
    train, test = passages.filter(split="train").count(), passages.filter(split="test").count()
    print(
        f"\nJSQuAD: {expected['articles']} articles, {expected['contexts']} contexts, {expected['questions']} questions"
    )
    print(f"split: train {train} passages / test {test} passages")
