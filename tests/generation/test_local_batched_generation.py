"""Batched local generation (left padding) gives the same greedy output as one prompt at a time.

Tiny random Llama / GPT-NeoX models with the real SmolLM2 tokenizer (tests/support/tiny_models.py):
random weights produce varied tokens, so any padding or position bug changes the text.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

import decoding.engine as decoding_engine
from generation.engine.base import SamplingParams
from generation.engine.local import LocalGenerator
from tests.support.tiny_models import load_tiny_model

PROMPTS = [
    "The quick brown fox jumps over the lazy dog again and again while the farmer watches",
    "Hi",
    "<|im_start|>user\nWrite two questions about rivers.<|im_end|>\n<|im_start|>assistant\n",
    "富士山は日本で一番高い山です。",
    "x y z",
    "Question: What is the capital of France?\nAnswer:",
    "A",
]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module", params=["llama", "gpt_neox"])
def generator(request) -> LocalGenerator:
    model, tokenizer = load_tiny_model(request.param)
    return LocalGenerator(model, tokenizer, batch_size=4)


def sequential(generator: LocalGenerator, prompts, params):
    return [generator.generate([p], params, batch_size=1)[0] for p in prompts]


def test_batched_greedy_equals_one_at_a_time(generator):
    params = SamplingParams(max_new_tokens=24)
    batched = generator.generate(PROMPTS, params)
    assert batched == sequential(generator, PROMPTS, params)
    assert len({o.text for o in batched}) > 3  # the outputs differ per prompt: the comparison means something


# Prompts rendered from one template: a long shared prefix, then each passage.
TEMPLATED = [
    "<|im_start|>system\nYou write question-answer pairs about passages, one pair per line.<|im_end|>\n"
    f"<|im_start|>user\nWrite three pairs.\nPassage:\n{passage}<|im_end|>\n<|im_start|>assistant\n"
    for passage in [
        "The Rhine flows through six countries.",
        "Mount Fuji is 3,776 metres high and last erupted in 1707, during the Edo period.",
        "琵琶湖は滋賀県にある日本最大の湖である。",
        "Tea",
        "Honey never spoils if it is kept sealed, because its low water content stops microbes from growing.",
    ]
]


def test_the_shared_prompt_prefix_is_computed_once_and_changes_nothing(generator, monkeypatch):
    params = SamplingParams(max_new_tokens=16, repetition_penalty=1.3)
    prefix_lengths = []
    real_prefix_cache = generator.decoder._prefix_cache
    monkeypatch.setattr(
        generator.decoder, "_prefix_cache", lambda ids: prefix_lengths.append(len(ids)) or real_prefix_cache(ids)
    )
    shared = generator.generate(TEMPLATED, params)
    assert len(prefix_lengths) == 1 and prefix_lengths[0] >= 20  # once per call, reused by both batches
    monkeypatch.setattr(generator.decoder, "options", replace(generator.decoder.options, share_prefix=False))
    assert shared == generator.generate(TEMPLATED, params)
    assert shared == sequential(generator, TEMPLATED, params)
    assert len(prefix_lengths) == 1


def test_prompts_without_a_long_common_start_are_not_split(generator):
    assert generator.decoder.shared_prefix_length([generator._encode(p) for p in PROMPTS]) == 0
    identical = [generator._encode("Same prompt, twice over.")] * 2
    assert generator.decoder.shared_prefix_length(identical) == 0  # below min_prefix_tokens; never the whole prompt


def test_outputs_come_back_in_prompt_order_with_token_counts(generator):
    params = SamplingParams(max_new_tokens=5)
    outputs = generator.generate(PROMPTS, params)
    for prompt, output in zip(PROMPTS, outputs, strict=True):
        assert output == generator.generate([prompt], params)[0]
        assert output.prompt_tokens == len(generator._encode(prompt))
    assert {o.finish_reason for o in outputs} == {"length"}
    assert {o.completion_tokens for o in outputs} == {5}


@pytest.mark.parametrize("layout", ["left padding", "padding after a shared prefix"])
def test_repetition_penalty_ignores_padding_so_batched_still_equals_sequential(generator, monkeypatch, layout):
    """The pad token sits in every padded row; a penalty that counted it would change those rows only.
    The pad token here is the token the most padded prompt would write first, so the bug would show."""
    if layout == "left padding":
        prompts, short = [PROMPTS[0], "x y z", PROMPTS[5]], "x y z"
    else:
        prompts, short = TEMPLATED[:3] + TEMPLATED[4:], TEMPLATED[3]
        prompts = [*prompts[:2], short, *prompts[2:]]
    params = SamplingParams(max_new_tokens=12, repetition_penalty=3.0)
    first = generator.generate([short], SamplingParams(max_new_tokens=1, repetition_penalty=3.0))[0]
    pad = generator.tokenizer(first.text, add_special_tokens=False)["input_ids"][0]
    assert pad not in generator._encode(short)
    monkeypatch.setattr(generator.decoder, "pad_id", pad)
    expected = sequential(generator, prompts, params)
    assert generator.generate(prompts, params) == expected

    class PenaltyCountingPadding(decoding_engine.PaddingAwareRepetitionPenalty):
        def __init__(self, penalty, prompt_mask):
            super().__init__(penalty, torch.ones_like(prompt_mask))

    monkeypatch.setattr(decoding_engine, "PaddingAwareRepetitionPenalty", PenaltyCountingPadding)
    assert generator.generate(prompts, params) != expected


def test_stop_strings_cut_the_output_and_end_generation(generator):
    free = generator.generate(["Hi"], SamplingParams(max_new_tokens=16))[0]
    stop = free.text[len(free.text) // 2 : len(free.text) // 2 + 3]
    assert stop.strip()
    params = SamplingParams(max_new_tokens=16, stop=(stop,))
    [cut] = generator.generate(["Hi"], params)
    assert cut.text == free.text[: free.text.find(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens < 16
    assert generator.generate(PROMPTS, params) == sequential(generator, PROMPTS, params)


def test_a_stop_string_spanning_the_prompt_end_does_not_stop_generation(generator):
    """transformers' own stop_strings would stop here: the prompt's last character plus the first
    generated characters form the stop string, though the output itself does not contain it."""
    params = SamplingParams(max_new_tokens=8, repetition_penalty=3.0)  # the tiny Llama repeats itself otherwise
    cases = []
    for prompt, free in zip(PROMPTS, generator.generate(PROMPTS, params), strict=True):
        stop = prompt[-1] + free.text[:2]
        if len(free.text) > 2 and stop not in free.text:
            cases.append((prompt, stop, free))
    assert cases, "no prompt whose end and output start form a new string"
    for prompt, stop, free in cases:
        stopped = generator.generate([prompt], SamplingParams(max_new_tokens=8, repetition_penalty=3.0, stop=(stop,)))
        assert stopped == [free]


def test_sampling_is_repeatable_with_a_seed(generator):
    params = SamplingParams(max_new_tokens=12, temperature=1.0, top_p=0.95, seed=5)
    first = generator.generate(PROMPTS, params)
    assert generator.generate(PROMPTS, params) == first
    other = generator.generate(PROMPTS, SamplingParams(max_new_tokens=12, temperature=1.0, top_p=0.95, seed=6))
    assert other != first


def test_progress_is_reported_per_batch_and_can_cancel(generator):
    seen = []
    generator.generate(
        PROMPTS, SamplingParams(max_new_tokens=2), progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(4, 7), (7, 7)]

    class Cancelled(Exception):
        pass

    def cancel(done, total):
        raise Cancelled

    with pytest.raises(Cancelled):
        generator.generate(PROMPTS, SamplingParams(max_new_tokens=2), progress=cancel)


def test_bad_sampling_settings_are_refused():
    with pytest.raises(ValueError, match="top_p"):
        SamplingParams(top_p=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams(max_new_tokens=0)
