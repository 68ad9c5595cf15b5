from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from training.engine.formatting import (
    IGNORE_INDEX,
    FormattingError,
    PromptTemplate,
    QAExample,
    default_template,
    encode_example,
    encode_prompt,
)


@pytest.fixture(scope="module")
def tokenizer(llama_dir):
    return AutoTokenizer.from_pretrained(llama_dir)


def test_labels_cover_only_the_answer_tokens_and_the_eos(tokenizer):
    template = default_template("en")
    example = QAExample(context="Paris is the capital of France.", question="Capital of France?", answer="Paris")
    encoded = encode_example(tokenizer, template, example, max_seq_length=128)

    prompt_ids, _ = encode_prompt(tokenizer, template, example.context, example.question, 128)
    answer_ids = tokenizer(" Paris", add_special_tokens=False)["input_ids"]
    assert encoded.input_ids == prompt_ids + answer_ids + [tokenizer.eos_token_id]
    assert encoded.labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    assert encoded.labels[len(prompt_ids) :] == answer_ids + [tokenizer.eos_token_id]
    labelled = [t for t in encoded.labels if t != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == " Paris<|im_end|>"


def test_japanese_template_puts_the_answer_right_after_the_marker(tokenizer):
    template = default_template("ja")
    example = QAExample(context="東京は日本の首都です。", question="日本の首都は？", answer="東京")
    encoded = encode_example(tokenizer, template, example, max_seq_length=256)
    labelled = [t for t in encoded.labels if t != IGNORE_INDEX]
    assert tokenizer.decode(labelled) == "東京<|im_end|>"
    assert tokenizer.decode(encoded.input_ids).endswith("回答:東京<|im_end|>")


def test_long_contexts_are_cut_at_the_end_and_the_question_is_kept(tokenizer):
    template = default_template("en")
    context = " ".join(f"word{i}" for i in range(400))
    example = QAExample(context=context, question="Which word comes first?", answer="word0")
    encoded = encode_example(tokenizer, template, example, max_seq_length=96)

    assert len(encoded.input_ids) <= 96
    assert encoded.context_truncated
    text = tokenizer.decode(encoded.input_ids)
    assert "word0 word1" in text and "word399" not in text
    assert "Question: Which word comes first?" in text


def test_an_answer_that_cannot_fit_is_rejected_with_the_item_named(tokenizer):
    example = QAExample(context="c", question="q", answer="very long answer " * 50)
    with pytest.raises(FormattingError, match="item 7"):
        encode_example(tokenizer, default_template("en"), example, max_seq_length=64, item="item 7")


def test_templates_must_use_exactly_context_and_question():
    with pytest.raises(FormattingError, match="placeholders"):
        PromptTemplate(language="en", prompt="Q: {question} A: {answer}")
    template = PromptTemplate.from_dict(default_template("ja").to_dict())
    assert template == default_template("ja")
