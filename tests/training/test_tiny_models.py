from __future__ import annotations

from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.support.tiny_models import tiny_model_dir


def test_tiny_models_keep_the_real_smollm2_vocabulary_and_stay_small(tiny_dir):
    """Their size, not a load time, is what keeps tests fast: a wall-clock bound failed at 3.03 s beside a CPU hog."""
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)

    assert model.config.vocab_size == len(tokenizer) == 49152
    assert tokenizer.pad_token_id is not None and tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    assert sum(p.numel() for p in model.parameters()) < 5_000_000


def test_tiny_model_dir_is_built_once_and_reused():
    first = tiny_model_dir("llama")
    stamp = (first / "config.json").stat().st_mtime_ns
    again = tiny_model_dir("llama")
    assert again == first
    assert (again / "config.json").stat().st_mtime_ns == stamp
