"""Batched greedy answer generation for (context, question) items, with left padding.

Prompts are tokenised exactly as in training (`formatting.encode_prompt`), so a fine-tuned adapter sees the
format it learned. Items are sorted by prompt length before batching (less padding, and the longest batch
comes first so an out-of-memory error shows up at once); results carry the item's original index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from training.engine.device import resolve_device, resolve_dtype
from training.engine.formatting import PromptTemplate, encode_prompt, left_pad
from training.engine.trainer import RUN_INFO_FILE, load_tokenizer


@dataclass(frozen=True)
class PredictItem:
    context: str
    question: str


@dataclass(frozen=True)
class Prediction:
    index: int  # position of the item in the input sequence
    prediction: str  # the answer after post-processing (first line, stripped)
    raw_output: str  # everything generated before EOS, special tokens kept
    latency_s: float  # this item's share of its batch's wall time
    batch_latency_s: float
    prompt_tokens: int
    output_tokens: int
    context_truncated: bool


def load_for_inference(
    base_model: str,
    adapter_dir: str | None = None,
    *,
    device: str = "auto",
    dtype: str = "auto",
    merge: bool = True,
):
    """(model, tokenizer) in eval mode; with an adapter, loaded by `PeftModel.from_pretrained` and merged.

    Merging folds the LoRA update into the base weights, so generation runs at the base model's speed.
    """
    from transformers import AutoModelForCausalLM

    dev = resolve_device(device)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=resolve_dtype(dtype, dev)).to(dev)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
        if merge:
            model = model.merge_and_unload()
    model.eval()
    return model, load_tokenizer(base_model)


def training_template(adapter_dir: str | Path) -> PromptTemplate | None:
    """The prompt template an adapter was trained with (None for adapters not trained by this engine)."""
    path = Path(adapter_dir) / RUN_INFO_FILE
    if not path.is_file():
        return None
    return PromptTemplate.from_dict(json.loads(path.read_text())["config"]["template"])


def postprocess(raw: str, *, stop_at_newline: bool = True) -> str:
    """The answer is the first non-empty line: the model was trained to stop with EOS, but an untrained or
    weak model often continues with a new "Question:" block, which must not count as part of the answer."""
    text = raw.strip()
    if stop_at_newline:
        text = text.split("\n", 1)[0].strip()
    return text


def _as_item(item: Any, index: int) -> PredictItem:
    if isinstance(item, PredictItem):
        return item
    try:
        return PredictItem(context=str(item["context"]), question=str(item["question"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"evaluation item {index + 1} needs context and question ({exc})") from exc


def _prompt_budget(model, max_new_tokens: int, max_prompt_tokens: int | None) -> int:
    if max_prompt_tokens is not None:
        return max_prompt_tokens
    limit = getattr(model.config, "max_position_embeddings", None) or 2048
    return max(16, min(limit, 4096) - max_new_tokens)


@torch.inference_mode()
def iter_predictions(
    model,
    tokenizer,
    items: Sequence[PredictItem | Mapping[str, str]],
    template: PromptTemplate,
    *,
    batch_size: int = 16,
    max_new_tokens: int = 64,
    max_prompt_tokens: int | None = None,
    stop_at_newline: bool = True,
) -> Iterator[list[Prediction]]:
    """Yield one list of predictions per batch (so a caller can store and report progress per batch)."""
    from transformers import GenerationConfig

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    budget = _prompt_budget(model, max_new_tokens, max_prompt_tokens)
    prompts = []
    for i, raw in enumerate(items):
        item = _as_item(raw, i)
        prompts.append(encode_prompt(tokenizer, template, item.context, item.question, budget, item=f"item {i + 1}"))
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i][0]))
    eos = tokenizer.eos_token_id
    generation = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        num_beams=1,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=eos,
        bos_token_id=tokenizer.bos_token_id,
    )
    device = next(model.parameters()).device
    model.eval()
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        ids, mask = left_pad([prompts[i][0] for i in chunk], tokenizer.pad_token_id)
        input_ids = torch.tensor(ids, dtype=torch.long, device=device)
        attention = torch.tensor(mask, dtype=torch.long, device=device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        began = time.perf_counter()
        output = model.generate(input_ids=input_ids, attention_mask=attention, generation_config=generation)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        took = time.perf_counter() - began
        new_tokens = output[:, input_ids.shape[1] :].tolist()
        batch = []
        for row, index in zip(new_tokens, chunk, strict=True):
            if eos in row:
                row = row[: row.index(eos)]
            raw = tokenizer.decode(row, skip_special_tokens=False)
            batch.append(
                Prediction(
                    index=index,
                    prediction=postprocess(
                        tokenizer.decode(row, skip_special_tokens=True), stop_at_newline=stop_at_newline
                    ),
                    raw_output=raw,
                    latency_s=took / len(chunk),
                    batch_latency_s=took,
                    prompt_tokens=len(prompts[index][0]),
                    output_tokens=len(row),
                    context_truncated=prompts[index][1],
                )
            )
        yield batch


def predict(
    model, tokenizer, items: Sequence[PredictItem | Mapping[str, str]], template: PromptTemplate, **kwargs
) -> list[Prediction]:
    """All predictions, in the order of `items`."""
    out: list[Prediction | None] = [None] * len(items)
    for batch in iter_predictions(model, tokenizer, items, template, **kwargs):
        for p in batch:
            out[p.index] = p
    return out  # type: ignore[return-value]
