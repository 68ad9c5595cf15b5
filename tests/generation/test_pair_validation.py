"""Validation of generated pairs: each rejection carries its reason; no Django, no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generation.validation import (
    RejectionReason,
    SupportCheck,
    ValidationConfig,
    check_pair,
    validate_pairs,
)

EN_PASSAGE = (
    "The modern Olympic Games were first held in Athens, Greece, in 1896. The idea came from a French "
    "educator, Pierre de Coubertin, who founded the International Olympic Committee in 1894."
)
JA_PASSAGE = "琵琶湖は滋賀県にある日本最大の湖で、面積は約670平方キロメートルである。湖の水は瀬田川から流れ出す。"
EN = ValidationConfig.for_language("en")
JA = ValidationConfig.for_language("ja")


def reasons(question: str, answer: str, passage: str = EN_PASSAGE, config: ValidationConfig = EN):
    return check_pair(question, answer, passage, config).reasons


def test_it_accepts_a_good_english_pair():
    assert reasons("Where were the first modern Olympic Games held?", "Athens, Greece") == ()


def test_it_accepts_a_good_japanese_pair_without_a_question_mark():
    assert reasons("琵琶湖はどの県にありますか", "滋賀県", JA_PASSAGE, JA) == ()


@pytest.mark.parametrize(
    ("question", "answer", "expected"),
    [
        ("", "Athens", RejectionReason.EMPTY_QUESTION),
        ("Where were the games held?", "  ", RejectionReason.EMPTY_ANSWER),
        ("Tell me where the games were held.", "Athens", RejectionReason.NOT_A_QUESTION),
        ("Who came up with the idea?", "x" * 201, RejectionReason.ANSWER_TOO_LONG),
        ("Who came up with the idea?", "Baron Karl von Drais", RejectionReason.ANSWER_NOT_SUPPORTED),
        ("The idea came from a French educator?", "Pierre de Coubertin", RejectionReason.QUESTION_COPIED),
    ],
)
def test_it_rejects_a_bad_pair_with_its_reason(question, answer, expected):
    got = reasons(question, answer)
    assert expected in got
    assert check_pair(question, answer, EN_PASSAGE, EN).reason == got[0]


def test_a_quoted_copy_of_a_sentence_is_still_a_copy():
    got = reasons('"The idea came from a French educator, Pierre de Coubertin?"', "Pierre de Coubertin")
    assert RejectionReason.QUESTION_COPIED in got


def test_a_clause_from_mid_sentence_is_a_fair_question_not_a_copy():
    assert reasons("Who founded the International Olympic Committee?", "Pierre de Coubertin") == ()


def test_it_rejects_a_duplicate_of_an_earlier_accepted_question_after_normalising():
    verdicts = validate_pairs(
        [
            ("When were the first modern Games held?", "1896"),
            ("  when were the FIRST modern games held ？", "in 1896"),
        ],
        EN_PASSAGE,
        EN,
    )
    assert verdicts[0].accepted
    assert verdicts[1].reasons == (RejectionReason.DUPLICATE,)


def test_a_duplicate_of_a_rejected_pair_is_kept_when_it_is_good():
    verdicts = validate_pairs(
        [
            ("When were the first modern Games held?", "in the year 1900"),
            ("When were the first modern Games held?", "1896"),
        ],
        EN_PASSAGE,
        EN,
    )
    assert verdicts[0].reasons == (RejectionReason.ANSWER_NOT_SUPPORTED,)
    assert verdicts[1].accepted


def test_questions_already_stored_for_the_passage_count_as_duplicates():
    verdicts = validate_pairs(
        [("Who founded the IOC?", "Pierre de Coubertin")], EN_PASSAGE, EN, existing_questions=["Who founded the IOC?"]
    )
    assert verdicts[0].reasons == (RejectionReason.DUPLICATE,)


def test_it_lists_every_reason_in_a_fixed_order():
    got = reasons("The idea came from a French educator", "")
    assert got == (RejectionReason.EMPTY_ANSWER, RejectionReason.NOT_A_QUESTION, RejectionReason.QUESTION_COPIED)


class TestAnswerSupport:
    def test_exact_check_ignores_case_width_and_trailing_punctuation(self):
        config = ValidationConfig(support_check=SupportCheck.EXACT)
        assert reasons("Who had the idea?", "PIERRE de Coubertin.", config=config) == ()
        ja_exact = ValidationConfig.for_language("ja", support_check=SupportCheck.EXACT)
        assert reasons("琵琶湖の面積は？", "約６７０平方キロメートル。", JA_PASSAGE, ja_exact) == ()

    def test_exact_check_rejects_a_paraphrase_that_overlap_accepts(self):
        answer = "Greece, Athens"
        exact = ValidationConfig(support_check=SupportCheck.EXACT)
        assert reasons("Where were the games held?", answer, config=exact) == (RejectionReason.ANSWER_NOT_SUPPORTED,)
        assert reasons("Where were the games held?", answer, config=EN) == ()

    def test_overlap_check_uses_characters_for_japanese(self):
        # not a substring ("面積は約670" in the passage), but every character is in it
        assert reasons("琵琶湖の面積は？", "面積約670", JA_PASSAGE, JA) == ()
        # 9 of 13 characters (0.69) are in the passage: below the default 0.8, above 0.65
        answer = "約670平方キロ程度の広さ"
        assert reasons("琵琶湖の面積は？", answer, JA_PASSAGE, JA) == (RejectionReason.ANSWER_NOT_SUPPORTED,)
        loose = ValidationConfig.for_language("ja", min_overlap=0.65)
        assert reasons("琵琶湖の面積は？", answer, JA_PASSAGE, loose) == ()

    def test_overlap_threshold_is_configurable_for_english(self):
        answer = "in Athens by the sea"  # tokens in, athens, by, sea ("the" dropped): 2 of 4 in the passage
        strict = ValidationConfig(min_overlap=0.9)
        loose = ValidationConfig(min_overlap=0.4)
        assert RejectionReason.ANSWER_NOT_SUPPORTED in reasons("Where?", answer, config=strict)
        assert reasons("Where?", answer, config=loose) == ()

    def test_no_check_accepts_anything(self):
        config = ValidationConfig(support_check=SupportCheck.NONE)
        assert reasons("Who had the idea?", "Napoleon", config=config) == ()


def test_an_answer_found_only_in_the_title_is_supported_when_the_title_is_given():
    passage = "1987年の国鉄分割民営化により、JR東海が運営を継承した。"
    assert reasons("この路線の名前は？", "東海道新幹線", passage, JA) == (RejectionReason.ANSWER_NOT_SUPPORTED,)
    assert check_pair("この路線の名前は？", "東海道新幹線", passage, JA, title="東海道新幹線").accepted


@pytest.mark.parametrize(
    "question",
    ["琵琶湖は何県にある", "琵琶湖がある県は", "琵琶湖の面積を答えよ。", "琵琶湖はどこでしょう。", "瀬田川とは"],
)
def test_terse_japanese_question_forms_count_as_questions(question):
    assert RejectionReason.NOT_A_QUESTION not in reasons(question, "滋賀県", JA_PASSAGE, JA)


def test_a_japanese_noun_phrase_is_not_a_question():
    assert RejectionReason.NOT_A_QUESTION in reasons("琵琶湖がある県の名前", "滋賀県", JA_PASSAGE, JA)


@pytest.mark.parametrize(
    "question",
    ["私は、この湖について考える必要があるか？", "私たちは琵琶湖の面積を知っているか？", "僕の湖は何県にありますか？"],
)
def test_a_japanese_first_person_statement_is_not_a_question(question):
    assert RejectionReason.NOT_A_QUESTION in reasons(question, "滋賀県", JA_PASSAGE, JA)


def test_a_question_that_mentions_the_first_person_later_is_still_a_question():
    assert RejectionReason.NOT_A_QUESTION not in reasons("「私は湖だ」と書いたのは誰ですか？", "滋賀県", JA_PASSAGE, JA)


def test_rules_can_be_switched_off():
    config = ValidationConfig(require_question_form=False, reject_copied_questions=False, reject_duplicates=False)
    verdicts = validate_pairs([("The idea came from a French educator", "Pierre de Coubertin")] * 2, EN_PASSAGE, config)
    assert [v.accepted for v in verdicts] == [True, True]


def test_the_human_reference_pairs_of_the_demo_corpus_all_pass():
    """A validator that rejects careful human pairs would throw away good synthetic ones too."""
    data = json.loads((Path(__file__).resolve().parents[2] / "generation/fixtures/demo_corpus.json").read_text("utf-8"))
    rejected = []
    for corpus in data["corpora"]:
        config = ValidationConfig.for_language(corpus["language"], support_check=SupportCheck.EXACT)
        for passage in corpus["passages"]:
            pairs = [(qa["question"], qa["answers"][0]) for qa in passage["qas"]]
            rejected += [v for v in validate_pairs(pairs, passage["text"], config) if not v.accepted]
    assert rejected == []


def test_reasons_have_labels_for_the_interface():
    assert all(reason.label for reason in RejectionReason)
