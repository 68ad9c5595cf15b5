"""Tiny random Llama / GPT-NeoX models with the real SmolLM2 tokenizer from bench/assets (no GGUF, no
Django), so the engine tests run in any environment the engine supports: the pinned transformers, the oldest
supported one (scripts/make_oldtf_venv.sh) and a GPU machine's own image (bench/gpu_device_check.sh)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch

ASSETS = Path(__file__).resolve().parents[2] / "bench" / "assets" / "smollm2-135m"


@lru_cache(maxsize=1)
def tokenizer():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(ASSETS))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def tiny_model(arch: str, *, device: str = "cpu", dtype: torch.dtype = torch.float32, seed: int = 1234):
    """(model, tokenizer): two layers, hidden 64, the tokenizer's full vocabulary, random weights."""
    from transformers import AutoModelForCausalLM, GPTNeoXConfig, LlamaConfig

    tok = tokenizer()
    common = dict(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    if arch == "llama":
        config = LlamaConfig(num_key_value_heads=2, tie_word_embeddings=True, **common)
    elif arch == "gpt_neox":
        config = GPTNeoXConfig(rotary_pct=0.25, use_parallel_residual=True, **common)
    else:
        raise ValueError(arch)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype).to(device).eval()
    return model, tok
