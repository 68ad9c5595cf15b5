"""A question that is its answer plus a bare "what is it" ("摂動論とは何か？" -> 摂動論) is rejected: it holds its
answer, so a reader trained on it learns to copy from the question. A question that also says something
about its answer is a real one, even when the answer appears in it."""

from __future__ import annotations

import json

import pytest

from generation.validation import RejectionReason, ValidationConfig, asks_for_itself, check_pair
from tests.generation.synth_helpers import JSQUAD_PATH

PASSAGE_JA = "摂動論は天体力学で使われる近似の方法である。街区方式は住居表示の方式の一つで、1962年に定められた。"


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("摂動論とは何か？", "摂動論"),
        ("街区方式とは何ですか？", "街区方式"),
        ("街区とは何？", "街区"),
        ("摂動論って何でしょうか", "摂動論"),
        ("摂動論とはどういうものか。", "摂動論"),
    ],
)
def test_a_japanese_question_that_only_asks_what_its_answer_is_is_rejected(question, answer):
    verdict = check_pair(question, answer, PASSAGE_JA, ValidationConfig.for_language("ja"))
    assert RejectionReason.ASKS_FOR_ITSELF in verdict.reasons


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("ラオス人民民主共和国の通称は？", "ラオス"),  # says something about its answer
        ("近畿地方における夏は北陸地方よりも長い？短い？", "長い"),  # a choice
        ("摂動論はどの分野で使われる方法か？", "天体力学"),
        ("住居表示の方式の一つは何か？", "街区方式"),
    ],
)
def test_a_question_that_says_something_about_its_answer_is_kept(question, answer):
    assert not asks_for_itself(question, answer, "ja")


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("What is perturbation theory?", "perturbation theory", True),
        ("Who was Gutenberg?", "Gutenberg", True),
        ("What does 'block system' mean?", "block system", True),
        ("What is the capital of France?", "France", False),
        ("Which method is used in celestial mechanics?", "perturbation theory", False),
    ],
)
def test_english_questions_follow_the_same_rule(question, answer, expected):
    assert asks_for_itself(question, answer, "en") is expected


def test_the_rule_can_be_switched_off():
    config = ValidationConfig.for_language("ja", reject_self_answering=False)
    assert not check_pair("摂動論とは何か？", "摂動論", PASSAGE_JA, config).reasons


@pytest.mark.skipif(not JSQUAD_PATH.is_file(), reason=f"JSQuAD validation file not found at {JSQUAD_PATH}")
def test_no_human_jsquad_question_asks_for_itself():
    data = json.loads(JSQUAD_PATH.read_text(encoding="utf-8-sig"))
    pairs = [
        (qa["question"], qa["answers"][0]["text"])
        for article in data["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
        if qa["answers"]
    ]
    assert len(pairs) > 4000
    assert [pair for pair in pairs if asks_for_itself(*pair, "ja")] == []
