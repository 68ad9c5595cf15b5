"""A run's precision (decoding.precision): `fast` computes in bf16 where bf16 is native (CUDA, a CPU with
bf16 instructions) and float32 on other CPUs; `auto` keeps the device's default as every other stage; a dtype
asked by name is taken. What was used, and why, is recorded beside the run. Choice scoring in bf16 on the CPU
still ranks options as float32 does, batched or one prompt at a time."""

from __future__ import annotations

import pytest
import torch

from decoding import device as device_rules
from decoding.device import native_cpu_bf16, resolve_inference_dtype
from decoding.lazy import precision_used
from decoding.loading import inference_placement
from decoding.precision import PRECISIONS
from decoding.scoring import ChoiceScorer
from tests.engine.test_choice_scoring import PROMPTS, STEPS, assert_bf16_alike
from tests.engine.tiny import tiny_model

CPU = torch.device("cpu")


def test_fast_takes_bf16_on_a_cpu_with_bf16_instructions_and_float32_on_one_without(monkeypatch):
    monkeypatch.setattr(device_rules, "native_cpu_bf16", lambda: True)
    assert resolve_inference_dtype("fast", CPU) == (torch.bfloat16, "fast: this CPU has bf16 instructions")
    assert inference_placement("cpu", "fast") == (CPU, torch.bfloat16)
    monkeypatch.setattr(device_rules, "native_cpu_bf16", lambda: False)
    assert resolve_inference_dtype("fast", CPU) == (
        torch.float32,
        "fast: this CPU has no bf16 instructions, so float32",
    )
    assert inference_placement("cpu", "fast") == (CPU, torch.float32)


def test_auto_and_named_dtypes_keep_their_meaning_whatever_the_cpu(monkeypatch):
    for native in (True, False):
        monkeypatch.setattr(device_rules, "native_cpu_bf16", lambda native=native: native)
        assert resolve_inference_dtype("auto", CPU) == (torch.float32, "auto: the device's default")
        assert resolve_inference_dtype(None, CPU) == (torch.float32, "auto: the device's default")
        assert resolve_inference_dtype("float32", CPU) == (torch.float32, "as asked")
        assert resolve_inference_dtype("bfloat16", CPU) == (torch.bfloat16, "as asked")
    with pytest.raises(ValueError, match="unknown dtype 'int4'"):
        resolve_inference_dtype("int4", CPU)
    with pytest.raises(ValueError, match="float16 is not supported"):
        resolve_inference_dtype("float16", CPU)


def test_fast_on_a_gpu_is_its_half_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert resolve_inference_dtype("fast", torch.device("cuda")) == (
        torch.bfloat16,
        "fast: the device's half precision",
    )
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert resolve_inference_dtype("fast", torch.device("cuda"))[0] == torch.float16


def test_every_precision_a_form_offers_resolves_and_the_environment_can_turn_native_bf16_off(monkeypatch):
    assert list(PRECISIONS) == ["fast", "auto", "float32", "bfloat16"]
    for name in PRECISIONS:
        assert resolve_inference_dtype(name, CPU)[0] in (torch.float32, torch.bfloat16)
    monkeypatch.setenv("QASYNTH_CPU_BF16", "0")
    assert native_cpu_bf16() is False
    assert resolve_inference_dtype("fast", CPU)[0] == torch.float32


def test_the_record_names_the_loaded_dtype_and_the_reason(monkeypatch):
    model, _ = tiny_model("llama", dtype=torch.bfloat16)
    assert precision_used("bfloat16", model) == "bfloat16 (as asked)"
    monkeypatch.setattr(device_rules, "native_cpu_bf16", lambda: True)
    assert precision_used("fast", model) == "bfloat16 (fast: this CPU has bf16 instructions)"
    model32, _ = tiny_model("llama")
    assert precision_used("auto", model32) == "float32 (auto: the device's default)"


@pytest.mark.parametrize("arch", ["llama", "gpt_neox"])
def test_choices_in_bf16_on_the_cpu_match_float32_and_batching_changes_nothing_beyond_rounding(arch):
    """Every path the batched scorer takes (shared prefix, packed groups and options, grouped attention) in
    bf16 on the CPU: the additive masks use bf16's own minimum, so no row attends to what it must not."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model32, tok = tiny_model(arch)
        model16, _ = tiny_model(arch, dtype=torch.bfloat16)
        exact = ChoiceScorer(model32, tok, batch_size=1, share_prefix=False).choose_text(PROMPTS, STEPS)
        alone = ChoiceScorer(model16, tok, batch_size=1, share_prefix=False).choose_text(PROMPTS, STEPS)
        batched = ChoiceScorer(model16, tok, batch_size=8, share_prefix=True).choose_text(PROMPTS, STEPS)
    finally:
        torch.set_num_threads(previous)
    assert next(model16.parameters()).dtype == torch.bfloat16
    assert_bf16_alike(exact, alone)
    for a, b in assert_bf16_alike(alone, batched):
        if a.choices[0] == b.choices[0]:
            assert b.logprobs[0] == pytest.approx(a.logprobs[0], abs=0.15)
