from __future__ import annotations

import pytest
from transformers import AutoModelForCausalLM

from training.engine.lora import LoraSettings, build_lora_config, default_target_modules, resolve_target_modules


@pytest.mark.parametrize(
    ("model_type", "expected"),
    [
        ("gpt_neox", ["query_key_value"]),
        ("llama", ["q_proj", "v_proj"]),
        ("mistral", ["q_proj", "v_proj"]),
        ("qwen2", ["q_proj", "v_proj"]),
        ("gemma3_text", ["q_proj", "v_proj"]),
    ],
)
def test_default_target_modules_follow_the_model_type(model_type, expected):
    assert default_target_modules(model_type) == expected


def test_targets_are_chosen_from_the_config_model_type(gpt_neox_dir, llama_dir):
    neox = AutoModelForCausalLM.from_pretrained(gpt_neox_dir)
    llama = AutoModelForCausalLM.from_pretrained(llama_dir)
    assert set(build_lora_config(neox, LoraSettings()).target_modules) == {"query_key_value"}
    assert set(build_lora_config(llama, LoraSettings()).target_modules) == {"q_proj", "v_proj"}


def test_an_explicit_override_wins_and_a_typo_is_reported_with_the_available_names(llama_dir):
    llama = AutoModelForCausalLM.from_pretrained(llama_dir)
    assert resolve_target_modules(llama, LoraSettings(target_modules="q_proj,k_proj,o_proj")) == [
        "q_proj",
        "k_proj",
        "o_proj",
    ]
    with pytest.raises(ValueError, match="qproj.*available: .*q_proj"):
        resolve_target_modules(llama, LoraSettings(target_modules=["qproj"]))


def test_invalid_lora_settings_are_rejected():
    with pytest.raises(ValueError, match="r must be"):
        LoraSettings(r=0)
    with pytest.raises(ValueError, match="dropout"):
        LoraSettings(dropout=1.5)
