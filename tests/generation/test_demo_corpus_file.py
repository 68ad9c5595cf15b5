"""Checks the bundled demo corpus data file without Django or a database.

The demo corpus is loaded on first run, so the offline model has something to read and the judging demo has
real items; a broken reference pair (an answer that is not a span of its passage) would silently poison the
EM/F1 figures and the human comparison, so the file is checked here as data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CORPUS_PATH = Path(__file__).resolve().parents[2] / "generation" / "fixtures" / "demo_corpus.json"
MIN_PASSAGES = {"en": 30, "ja": 10}
SPLITS = {"train", "validation"}


@pytest.fixture(scope="module")
def corpora() -> dict[str, dict]:
    data = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
    by_language = {corpus["language"]: corpus for corpus in data["corpora"]}
    assert set(by_language) == {"en", "ja"}, f"expected one English and one Japanese corpus, got {list(by_language)}"
    return by_language


def _passages(corpora: dict[str, dict]) -> list[tuple[str, dict]]:
    return [(language, passage) for language, corpus in corpora.items() for passage in corpus["passages"]]


def test_each_corpus_has_enough_passages_and_names_itself_as_demo(corpora):
    for language, minimum in MIN_PASSAGES.items():
        corpus = corpora[language]
        assert len(corpus["passages"]) >= minimum, f"{language}: only {len(corpus['passages'])} passages"
        assert corpus["source"] == "demo"
        assert corpus["name"].strip() and corpus["description"].strip()


def test_every_passage_has_a_title_text_and_exactly_two_reference_pairs(corpora):
    for language, passage in _passages(corpora):
        where = f"{language}/{passage['external_id']}"
        assert passage["title"].strip(), f"{where}: empty title"
        assert passage["text"].strip(), f"{where}: empty text"
        assert len(passage["qas"]) == 2, f"{where}: {len(passage['qas'])} QA pairs instead of 2"


def test_every_answer_is_a_verbatim_span_of_its_passage(corpora):
    for language, passage in _passages(corpora):
        for qa in passage["qas"]:
            assert qa["answers"], f"{language}/{passage['external_id']}: question without answers"
            for answer in qa["answers"]:
                assert answer.strip() == answer and answer, f"{passage['external_id']}: blank or padded {answer!r}"
                assert answer in passage["text"], f"{passage['external_id']}: {answer!r} is not in the passage"


def test_questions_end_with_a_question_mark_and_answers_are_short(corpora):
    for language, passage in _passages(corpora):
        for qa in passage["qas"]:
            where = f"{language}/{passage['external_id']}: {qa['question']!r}"
            if language == "en":
                assert qa["question"].endswith("?"), where
            else:
                assert qa["question"].endswith(("？", "?")), where
            for answer in qa["answers"]:
                if language == "en":
                    assert len(answer.split()) <= 8, f"{where} -> {answer!r} is longer than 8 words"
                else:
                    assert len(answer) <= 20, f"{where} -> {answer!r} is longer than 20 characters"


def test_external_ids_are_unique_and_no_passage_text_repeats(corpora):
    passages = [passage for _, passage in _passages(corpora)]
    ids = [passage["external_id"] for passage in passages]
    texts = [" ".join(passage["text"].split()) for passage in passages]
    assert len(set(ids)) == len(ids), "duplicate external_id"
    assert len(set(texts)) == len(texts), "duplicate passage text"


def test_splits_are_train_or_validation_and_both_occur_in_each_language(corpora):
    for language, corpus in corpora.items():
        splits = [passage["split"] for passage in corpus["passages"]]
        assert set(splits) <= SPLITS, f"{language}: unknown split in {set(splits) - SPLITS}"
        assert set(splits) == SPLITS, f"{language}: needs both train and validation passages"
        assert splits.count("train") > splits.count("validation"), f"{language}: train should be the larger split"
