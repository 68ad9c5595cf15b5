"""Prompt templates: placeholders, shipped defaults, chat-template and plain completion rendering."""

from __future__ import annotations

import json

import pytest

from generation.parsing import parse_qa_pairs, render_pairs
from generation.prompts import (
    DEFAULT_TEMPLATES,
    PromptTemplate,
    default_template,
    fill,
    render_prompt,
)
from tests.support.tiny_models import load_tokenizer

PASSAGE = "The Rhine flows through six countries. Its source is in the Swiss Alps."


@pytest.fixture(scope="module")
def chat_tokenizer():
    return load_tokenizer()


class _NoChatTemplate:
    chat_template = None


def test_four_defaults_ship_for_english_and_japanese_zero_and_one_shot():
    assert set(DEFAULT_TEMPLATES) == {"en-zero-shot", "en-one-shot", "ja-zero-shot", "ja-one-shot"}
    for template in DEFAULT_TEMPLATES.values():
        assert template.errors() == []
    assert default_template("ja-JP", 1).name == "ja-one-shot"
    assert default_template("de", 0).name == "en-zero-shot"


def test_the_one_shot_examples_pass_our_own_parser():
    """The example teaches the output form, so it must be a form the parser reads back."""
    for template in DEFAULT_TEMPLATES.values():
        if template.shots == 1:
            assert parse_qa_pairs(render_pairs(template.example_pairs, template.style)).pairs == list(
                template.example_pairs
            )


def test_fill_replaces_known_placeholders_once_and_leaves_other_braces():
    text = 'Write {n} pairs as [{"question": "..."}] about {title}:\n{passage}'
    filled = fill(text, passage="A passage mentioning {n} and {passage}.", pairs_per_passage=3, title="T")
    assert filled == 'Write 3 pairs as [{"question": "..."}] about T:\nA passage mentioning {n} and {passage}.'


def test_template_errors_are_sentences_for_a_form():
    bad = PromptTemplate(name="x", language="en", shots=1, pairs_per_passage=0, instruction="Write {count} pairs.")
    errors = bad.errors()
    assert "the instruction must contain the {passage} placeholder" in errors
    assert any("unknown placeholder(s) {count}" in e for e in errors)
    assert any("at least 1" in e for e in errors)
    assert any("one-shot template needs an example passage" in e for e in errors)


def test_a_template_round_trips_through_a_dict_for_storage():
    template = default_template("ja", 1)
    assert PromptTemplate.from_dict(json.loads(json.dumps(template.to_dict()))) == template


def test_chat_models_get_their_chat_template_with_the_example_as_a_previous_turn(chat_tokenizer):
    rendered = render_prompt(default_template("en", 1), PASSAGE, tokenizer=chat_tokenizer)
    assert rendered.mode == "chat"
    assert [m["role"] for m in rendered.messages] == ["user", "assistant", "user"]
    assert rendered.messages[1]["content"].startswith("Q1: In which part of London is the Thames Barrier?")
    assert PASSAGE in rendered.messages[2]["content"]
    assert rendered.text == chat_tokenizer.apply_chat_template(
        list(rendered.messages), tokenize=False, add_generation_prompt=True
    )
    assert rendered.text.endswith("<|im_start|>assistant\n")
    assert rendered.stop == ("Q4:",)  # three pairs asked for: the fourth label ends the output


def test_zero_shot_chat_has_a_single_user_turn(chat_tokenizer):
    rendered = render_prompt(default_template("ja", 0), "本文です。", tokenizer=chat_tokenizer)
    assert [m["role"] for m in rendered.messages] == ["user"]
    assert "本文です。" in rendered.text and "3個" in rendered.text


def test_a_base_model_gets_a_plain_prompt_ending_in_the_first_question_label():
    rendered = render_prompt(default_template("ja", 1), "富士山は日本一高い山である。", tokenizer=_NoChatTemplate())
    assert rendered.mode == "plain"
    assert "<|im_start|>" not in rendered.text
    assert "本文: 琵琶湖は滋賀県にある" in rendered.text
    assert "質問1: 琵琶湖はどの県にありますか？\n回答1: 滋賀県" in rendered.text
    assert rendered.text.endswith("本文: 富士山は日本一高い山である。\n質問1:")
    assert rendered.response_prefix == "質問1:"
    assert "\n本文:" in rendered.stop and "質問4:" in rendered.stop
    # what a base model continues with parses once the prefix is put back
    continuation = " 日本一高い山は？\n回答1: 富士山"
    assert parse_qa_pairs(continuation, prefix=rendered.response_prefix).pairs == [("日本一高い山は？", "富士山")]


def test_plain_mode_can_be_forced_for_a_base_model_whose_tokenizer_has_a_chat_template(chat_tokenizer):
    rendered = render_prompt(default_template("en", 0), PASSAGE, tokenizer=chat_tokenizer, mode="plain")
    assert rendered.mode == "plain"
    assert rendered.text.endswith(f"Passage: {PASSAGE}\nQ1:")


def test_chat_mode_without_a_tokenizer_stores_the_messages_for_an_endpoint():
    rendered = render_prompt(default_template("en", 0), PASSAGE, mode="chat")
    assert json.loads(rendered.text) == list(rendered.messages)


def test_chat_mode_with_a_tokenizer_without_a_template_is_an_error():
    with pytest.raises(ValueError, match="no chat template"):
        render_prompt(default_template("en", 0), PASSAGE, tokenizer=_NoChatTemplate(), mode="chat")
