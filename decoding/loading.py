"""Load a causal LM and its tokenizer for inference, in one place: device and dtype resolved like training
(bf16 on CUDA, fp16 on cards without bf16, float32 on CPU), an optional LoRA adapter merged, a pad token set.

Loading a CUDA model in float32 (what generation did before) halves decoding speed and doubles memory;
every inference caller comes through here so that cannot happen again.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from decoding.device import resolve_device, resolve_inference_dtype


def inference_placement(
    device: str | torch.device | None = "auto", dtype: str | torch.dtype | None = "auto"
) -> tuple[torch.device, torch.dtype]:
    """(device, dtype) an inference load will use; `auto` dtype follows the device, `fast` takes bf16 where it
    is native (see decoding.device)."""
    dev = resolve_device(device)
    return dev, resolve_inference_dtype(dtype, dev)[0]


def prepare_tokenizer(tokenizer: Any) -> Any:
    """Pad with EOS when the tokenizer has no pad token; pad on the left (generation appends on the right)."""
    if tokenizer.pad_token_id is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_causal_lm(
    path: str | os.PathLike[str],
    *,
    device: str | torch.device | None = "auto",
    dtype: str | torch.dtype | None = "auto",
    adapter_dir: str | os.PathLike[str] | None = None,
    merge: bool = True,
    gguf_file: str | None = None,
) -> tuple[Any, Any]:
    """(model, tokenizer) in eval mode on the resolved device and dtype.

    With `adapter_dir`, the LoRA adapter is loaded by `PeftModel.from_pretrained` and (by default) merged:
    merging folds the update into the base weights, so decoding runs at the base model's speed.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dev, dt = inference_placement(device, dtype)
    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(str(path), **kwargs))
    # A PreTrainedModel, or a PeftModel with an adapter (whose stubs type `.to` as a tensor attribute).
    model: Any = AutoModelForCausalLM.from_pretrained(str(path), dtype=dt, **kwargs)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter_dir))
        if merge:
            model = model.merge_and_unload()
    model = model.to(dev)
    model.eval()
    return model, tokenizer
