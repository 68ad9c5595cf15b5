"""Parsing what instruct models really write into (question, answer) pairs; no Django, no database."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.parsing import ParseFormat, RenderStyle, parse_qa_pairs, render_pairs

# ------------------------------------------------------------------------------------- real outputs

CASES = [
    pytest.param(
        '```json\n[{"question": "What is X?", "answer": "Y"},\n {"question": "Who made Z?", "answer": "Bob",},]\n```',
        ParseFormat.JSON,
        [("What is X?", "Y"), ("Who made Z?", "Bob")],
        id="fenced-json-with-trailing-commas",
    ),
    pytest.param(
        'Sure! Here are the pairs:\n[{"question": "What is X?", "answer": "Y"}]\nHope this helps.',
        ParseFormat.JSON,
        [("What is X?", "Y")],
        id="json-list-inside-prose",
    ),
    pytest.param(
        '{"qa_pairs": [{"Question": "Where?", "Answer": "Here"}, {"q": "When?", "a": 1990}]}',
        ParseFormat.JSON,
        [("Where?", "Here"), ("When?", "1990")],
        id="json-wrapper-object-with-key-variants",
    ),
    pytest.param(
        '[{"質問": "富士山の高さは？", "回答": "3776メートル"}]',
        ParseFormat.JSON,
        [("富士山の高さは？", "3776メートル")],
        id="json-japanese-keys",
    ),
    pytest.param(
        '[{"question": "What is X?", "answer": "Y"}, {"question": "Who is Z?", "answer": "Bob"}, {"question": "Wh',
        ParseFormat.JSON_PARTIAL,
        [("What is X?", "Y"), ("Who is Z?", "Bob")],
        id="json-cut-off-at-max-new-tokens",
    ),
    pytest.param(
        '{"text": "a comma, inside a string,]"}\n[{"question": "Is \\"A,]\\" kept?", "answer": "yes, it is"},]',
        ParseFormat.JSON,
        [('Is "A,]" kept?', "yes, it is")],
        id="trailing-comma-repair-leaves-strings-alone",
    ),
    pytest.param(
        "Q1: What is X?\nA1: Y\n\nQ2: Who is Z?\nA2: Bob",
        ParseFormat.QA_LINES,
        [("What is X?", "Y"), ("Who is Z?", "Bob")],
        id="numbered-q-a-lines",
    ),
    pytest.param(
        "Q: What is X?\nA: Y\nQ: Why?\nA: Because it\nspans two lines.",
        ParseFormat.QA_LINES,
        [("What is X?", "Y"), ("Why?", "Because it spans two lines.")],
        id="unnumbered-q-a-with-continuation-line",
    ),
    pytest.param(
        "**Question 1:** What is X?\n**Answer 1:** Y\n\n**Question 2:** Why?\n**Answer 2:** Because",
        ParseFormat.QA_LINES,
        [("What is X?", "Y"), ("Why?", "Because")],
        id="markdown-bold-question-answer",
    ),
    pytest.param(
        "1. Question: What is X?\n   Answer: Y\n2. Question: Who?\n   Answer: Z",
        ParseFormat.QA_LINES,
        [("What is X?", "Y"), ("Who?", "Z")],
        id="list-numbers-before-labels",
    ),
    pytest.param(
        "質問１：富士山の高さは何メートルですか？\n回答１：3776メートル\n質問２：富士山はどこにありますか？\n回答２：静岡県と山梨県",
        ParseFormat.QA_LINES,
        [("富士山の高さは何メートルですか？", "3776メートル"), ("富士山はどこにありますか？", "静岡県と山梨県")],
        id="japanese-full-width-colons-and-numbers",
    ),
    pytest.param(
        "質問1: 日本の首都はどこですか？回答1: 東京",
        ParseFormat.QA_LINES,
        [("日本の首都はどこですか？", "東京")],
        id="japanese-answer-on-the-question-line",
    ),
    pytest.param(
        "【質問1】日本の首都は？\n【回答1】東京",
        ParseFormat.QA_LINES,
        [("日本の首都は？", "東京")],
        id="japanese-bracket-labels",
    ),
    pytest.param(
        "Q1. What is X? A1. Y\nQ2. Who made it? A2. Bob",
        ParseFormat.QA_LINES,
        [("What is X?", "Y"), ("Who made it?", "Bob")],
        id="q1-dot-a1-dot-on-one-line",
    ),
    pytest.param(
        "Ｑ１．日本一長い川は？\nＡ１．信濃川",
        ParseFormat.QA_LINES,
        [("日本一長い川は？", "信濃川")],
        id="full-width-latin-labels",
    ),
    pytest.param(
        "<think>Q1: a draft? A1: no</think>\nQ1: What is X?\nA1: Y",
        ParseFormat.QA_LINES,
        [("What is X?", "Y")],
        id="reasoning-block-is-ignored",
    ),
    pytest.param(
        "1. What is X?\nY is a thing.\n2. Who made it?\n- Bob",
        ParseFormat.NUMBERED,
        [("What is X?", "Y is a thing."), ("Who made it?", "Bob")],
        id="numbered-questions-with-unlabeled-answers",
    ),
    pytest.param(
        "Q1: What is X?\nQ2: Who is Z?\nA2: Bob",
        ParseFormat.QA_LINES,
        [("What is X?", ""), ("Who is Z?", "Bob")],
        id="unanswered-question-is-kept-with-empty-answer-for-validation",
    ),
]


@pytest.mark.parametrize(("text", "expected_format", "expected_pairs"), CASES)
def test_it_reads_the_forms_models_write(text, expected_format, expected_pairs):
    result = parse_qa_pairs(text)
    assert result.format == expected_format, result
    assert result.pairs == expected_pairs


def test_it_uses_the_prefix_a_completion_prompt_already_wrote():
    result = parse_qa_pairs(" 日本の首都は？\n回答1: 東京\n質問2: 一番高い山は？\n回答2: 富士山", prefix="質問1:")
    assert result.pairs == [("日本の首都は？", "東京"), ("一番高い山は？", "富士山")]


def test_it_notes_the_trailing_comma_repair():
    result = parse_qa_pairs('[{"question": "a?", "answer": "b"},]')
    assert result.format == ParseFormat.JSON
    assert "trailing commas" in result.note


@pytest.mark.parametrize(
    "text",
    ["", "   \n", "I cannot help with that.", "{{{ [[[ ]", "null", "[1, 2, 3]", '{"a": 1}', "Q", "A1: orphan answer"],
)
def test_it_returns_an_empty_typed_result_for_garbage(text):
    result = parse_qa_pairs(text)
    assert result.format == ParseFormat.NONE
    assert result.pairs == []
    assert not result.ok
    assert result.note and not result.note.startswith("parser error")


def test_plan_a_in_an_answer_is_not_taken_for_an_answer_label():
    result = parse_qa_pairs("Q1: What did they choose?\nA1: They chose Plan A. Then they left.")
    assert result.pairs == [("What did they choose?", "They chose Plan A. Then they left.")]


# ------------------------------------------------------------------------------------------ properties

# Text that a model could write inside a pair: letters, digits, kana/kanji, spaces and common punctuation.
# Label characters ("A", "Q", 答, 問 and colons), newlines and brackets are left out: inside content they
# would be ambiguous to any parser (the JSON style has no such limits).
_SAFE_ALPHABET = st.characters(
    whitelist_categories=("Ll", "Lu", "Lo", "Nd", "Zs"),
    whitelist_characters=",.!?'-、。？！",
    blacklist_characters="AQＡＱ答問\u3000",
    max_codepoint=0x9FFF,
)
_safe_text = st.text(_SAFE_ALPHABET, min_size=1, max_size=40).map(str.strip).filter(bool)
_any_text = st.text(min_size=1, max_size=60).map(str.strip).filter(bool)
_LINE_STYLES = [s for s in RenderStyle if s is not RenderStyle.JSON]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pairs=st.lists(st.tuples(_safe_text, _safe_text), min_size=1, max_size=6), style=st.sampled_from(_LINE_STYLES))
def test_rendered_line_formats_parse_back_to_the_same_pairs(pairs, style):
    text = render_pairs(pairs, style)
    result = parse_qa_pairs(text)
    assert result.pairs == pairs, (style, text, result)
    assert result.format == ParseFormat.QA_LINES


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(_any_text, _any_text), min_size=1, max_size=6), fenced=st.booleans())
def test_rendered_json_parses_back_to_the_same_pairs_whatever_the_text(pairs, fenced):
    text = render_pairs(pairs, RenderStyle.JSON)
    if fenced:
        text = f"Here you are:\n```json\n{text}\n```\n"
    result = parse_qa_pairs(text)
    assert result.pairs == pairs
    assert result.format == ParseFormat.JSON


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_random_text_never_raises_and_always_gives_a_typed_result(text):
    result = parse_qa_pairs(text)
    assert isinstance(result.format, ParseFormat)
    assert isinstance(result.pairs, list)
    assert all(isinstance(q, str) and isinstance(a, str) for q, a in result.pairs)
    assert not result.note.startswith("parser error"), result.note


_STRUCTURED_NOISE = st.lists(
    st.sampled_from(
        [
            '{"question": ',
            '"answer": ',
            "[",
            "]",
            "{",
            "}",
            ",",
            '"',
            "Q1:",
            "A1:",
            "質問1：",
            "回答：",
            "\n",
            "```json",
            "x",
            "？",
        ]
    ),
    max_size=60,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(text=_STRUCTURED_NOISE)
def test_broken_structure_never_raises(text):
    result = parse_qa_pairs(text)
    assert isinstance(result.format, ParseFormat)
    assert not result.note.startswith("parser error"), result.note
