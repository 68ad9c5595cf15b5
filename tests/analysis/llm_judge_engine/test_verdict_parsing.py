"""Verdict parsing: JSON first, then labelled lines, English and Japanese; contradictions and echoes are not
read as verdicts, and nothing is guessed. Fuzzed with hypothesis over formats, spellings and surrounding text."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.engine.parsing import parse_verdict, read_label, read_position
from analysis.engine.templates import judge_labels

SESSION_LABELS = [
    {"key": "correct", "label": "Correct"},
    {"key": "partial", "label": "Partially correct"},
    {"key": "incorrect", "label": "Incorrect"},
]
EN = judge_labels(SESSION_LABELS, "en")
JA = judge_labels(SESSION_LABELS, "ja")
KEYS = ("correct", "partial", "incorrect")

# how each label may be written (keys, display texts, words in both languages)
SPELLINGS = {
    "correct": ["correct", "Correct", "CORRECT", "正解", "正しい", "fully correct"],
    "partial": ["partial", "Partially correct", "partially correct", "部分的に正しい", "部分的に正解"],
    "incorrect": ["incorrect", "Incorrect", "wrong", "not correct", "不正解", "誤り", "正しくない"],
}
POSITION_SPELLINGS = {
    "1": ["1", 1, "Answer 1", "answer_1", "first", "回答1", "回答１", "１"],
    "2": ["2", 2, "Answer 2", "the second", "回答2", "２つ目"],
    "tie": ["tie", "Tie", "equal", "both", "引き分け", "同等"],
}
verdicts = st.tuples(st.sampled_from(KEYS), st.sampled_from(KEYS), st.sampled_from(("1", "2", "tie")))
prose = st.sampled_from(["", "Sure.", "Here is my judgment.", "以下が評価です。", "Let me think step by step."])


@st.composite
def json_outputs(draw):
    label_1, label_2, pref = verdict = draw(verdicts)
    keys = draw(
        st.sampled_from(
            [
                ("answer_1", "answer_2", "preference"),
                ("Answer 1", "Answer 2", "better"),
                ("label_1", "label_2", "winner"),
                ("回答1", "回答2", "より良い回答"),
                ("1", "2", "preferred_answer"),
            ]
        )
    )
    values = [
        draw(st.sampled_from(SPELLINGS[label_1])),
        draw(st.sampled_from(SPELLINGS[label_2])),
        draw(st.sampled_from(POSITION_SPELLINGS[pref])),
    ]
    obj = dict(zip(keys, values, strict=True))
    if draw(st.booleans()):
        obj["reason"] = draw(st.text(max_size=40))
    body = json.dumps(obj, ensure_ascii=draw(st.booleans()), indent=draw(st.sampled_from([None, 2])))
    if draw(st.booleans()):
        body = f"```json\n{body}\n```"
    return f"{draw(prose)}\n{body}\n{draw(prose)}", verdict


@st.composite
def text_outputs(draw):
    label_1, label_2, pref = verdict = draw(verdicts)
    japanese = draw(st.booleans())
    if japanese:
        heads = draw(
            st.sampled_from([("回答1", "回答2", "より良い回答"), ("回答１の評価", "回答２の評価", "好ましい回答")])
        )
        colon = draw(st.sampled_from([":", "：", ": "]))
    else:
        heads = draw(
            st.sampled_from(
                [("Answer 1", "Answer 2", "Preference"), ("Label for answer 1", "Label for answer 2", "Better answer")]
            )
        )
        colon = draw(st.sampled_from([":", ": ", " = "]))
    bold = draw(st.booleans())
    lines = [
        f"{'**' if bold else ''}{head}{'**' if bold else ''}{colon}{value}"
        for head, value in zip(
            heads,
            [
                draw(st.sampled_from(SPELLINGS[label_1])),
                draw(st.sampled_from(SPELLINGS[label_2])),
                str(draw(st.sampled_from(POSITION_SPELLINGS[pref]))),
            ],
            strict=True,
        )
    ]
    bullet = draw(st.sampled_from(["", "- ", "* "]))
    return draw(prose) + "\n" + "\n".join(bullet + line for line in lines) + "\n" + draw(prose), verdict


@settings(max_examples=200, deadline=None)
@given(json_outputs(), st.sampled_from([EN, JA]))
def test_a_json_verdict_is_read_whatever_its_keys_spellings_and_surroundings(output, labels):
    text, (label_1, label_2, pref) = output
    parsed = parse_verdict(text, labels)
    assert (parsed.label_1, parsed.label_2, parsed.preference, parsed.method) == (label_1, label_2, pref, "json")
    assert parsed.complete


@settings(max_examples=200, deadline=None)
@given(text_outputs(), st.sampled_from([EN, JA]))
def test_labelled_lines_are_read_in_english_and_japanese(output, labels):
    text, (label_1, label_2, pref) = output
    parsed = parse_verdict(text, labels)
    assert (parsed.label_1, parsed.label_2, parsed.preference, parsed.method) == (label_1, label_2, pref, "text")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_text_never_crashes_and_a_complete_verdict_names_real_labels(text):
    parsed = parse_verdict(text, EN)
    assert parsed.label_1 in (None, *KEYS) and parsed.label_2 in (None, *KEYS)
    assert parsed.preference in (None, "1", "2", "tie")
    assert parsed.complete == (None not in (parsed.label_1, parsed.label_2, parsed.preference))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), max_size=60).filter(lambda s: ":" not in s))
def test_text_without_any_statement_is_unparseable(text):
    parsed = parse_verdict(text, EN)
    assert not parsed.complete


def test_an_echo_of_the_answers_is_not_a_verdict():
    parsed = parse_verdict("Answer 1: Paris\nAnswer 2: London\nQuestion: What is the capital?", EN)
    assert not parsed.complete
    assert (parsed.label_1, parsed.label_2, parsed.preference) == (None, None, None)
    assert parsed.problems == ("no verdict found",)


def test_contradictory_statements_leave_the_field_unread():
    parsed = parse_verdict("Answer 1: correct\nAnswer 1: incorrect\nAnswer 2: correct\nPreference: 2", EN)
    assert (parsed.label_1, parsed.label_2, parsed.preference) == (None, "correct", "2")
    assert not parsed.complete
    assert "label_1 is contradictory (correct, incorrect)" in parsed.problems


def test_two_json_objects_that_disagree_are_not_resolved_by_picking_one():
    text = '{"answer_1": "correct", "answer_2": "partial", "preference": "1"}\n' * 1 + (
        '{"answer_1": "correct", "answer_2": "partial", "preference": "2"}'
    )
    parsed = parse_verdict(text, EN)
    assert parsed.preference is None and not parsed.complete


def test_fields_missing_from_the_json_are_read_from_labelled_lines():
    parsed = parse_verdict('{"answer_1": "correct", "answer_2": "wrong"}\nBetter answer: Answer 1', EN)
    assert (parsed.label_1, parsed.label_2, parsed.preference, parsed.method) == ("correct", "incorrect", "1", "json")


def test_a_label_inside_a_longer_label_is_not_read_as_that_label():
    assert read_label("incorrect", EN) == "incorrect"
    assert read_label("not correct", EN) == "incorrect"
    assert read_label("不正解です", JA) == "incorrect"
    assert read_label("部分的に正しい", JA) == "partial"
    assert read_label("correct or partial", EN) is None  # two labels named: not guessed
    assert read_label("excellent", EN) is None


def test_a_preference_naming_both_answers_is_not_guessed():
    assert read_position("Answer 2 is better than answer 1") is None
    assert read_position("回答２") == "2"
    assert read_position(True) is None


def test_custom_session_labels_are_read_by_key_and_text():
    labels = judge_labels([{"key": "good", "label": "Good answer"}, {"key": "bad", "label": "Bad answer"}])
    parsed = parse_verdict('{"answer_1": "Good answer", "answer_2": "bad", "preference": 1}', labels)
    assert (parsed.label_1, parsed.label_2, parsed.preference) == ("good", "bad", "1")
