"""Greedy answers for (context, question) items, decoded in batches by `decoding.engine` (left padding).

Prompts are tokenised exactly as in training (`formatting.encode_prompt`), so a fine-tuned adapter sees the
format it learned. Items are sorted by prompt length before batching (less padding, and the longest batch
comes first so an out-of-memory error shows up at once); results carry the item's original index.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from decoding.engine import BatchDecoder, DecodeParams, DecoderOptions
from training.engine.formatting import PromptTemplate, encode_prompt
from training.engine.trainer import RUN_INFO_FILE, load_tokenizer

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


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
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, tokenizer) in eval mode: bf16 on CUDA, float32 on CPU (decoding.loading), with the adapter
    loaded by `PeftModel.from_pretrained` and merged (generation then runs at the base model's speed)."""
    from decoding.loading import load_causal_lm

    model, _ = load_causal_lm(base_model, device=device, dtype=dtype, adapter_dir=adapter_dir, merge=merge)
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


def _prompt_budget(model: PreTrainedModel, max_new_tokens: int, max_prompt_tokens: int | None) -> int:
    if max_prompt_tokens is not None:
        return max_prompt_tokens
    limit = getattr(model.config, "max_position_embeddings", None) or 2048
    return max(16, min(limit, 4096) - max_new_tokens)


def iter_predictions(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    items: Sequence[PredictItem | Mapping[str, str]],
    template: PromptTemplate,
    *,
    batch_size: int = 16,
    max_new_tokens: int = 64,
    max_prompt_tokens: int | None = None,
    stop_at_newline: bool = True,
    options: DecoderOptions | None = None,
) -> Iterator[list[Prediction]]:
    """Yield one list of predictions per batch (so a caller can store and report progress per batch).

    Decoding is `decoding.engine.BatchDecoder`: on CPU batches of `batch_size`, on CUDA batches sized by a
    token budget (at least `batch_size` rows), with the static-cache path when the call makes enough new
    tokens to pay for compiling it (decoding.engine.STATIC_MIN_TOKENS: a full JSQuAD evaluation does)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    budget = _prompt_budget(model, max_new_tokens, max_prompt_tokens)
    prompts = []
    for i, raw in enumerate(items):
        item = _as_item(raw, i)
        prompts.append(encode_prompt(tokenizer, template, item.context, item.question, budget, item=f"item {i + 1}"))
    if not prompts:
        return
    decoder = BatchDecoder(model, tokenizer, options or DecoderOptions.for_device(model, batch_size=batch_size))
    params = DecodeParams(max_new_tokens=max_new_tokens, eos_token_ids=(tokenizer.eos_token_id,))
    for decoded in decoder.iter_batches([ids for ids, _ in prompts], params):
        took = decoded.seconds
        size = len(decoded.completions)
        batch = []
        for completion in decoded.completions:
            row = list(completion.token_ids)
            batch.append(
                Prediction(
                    index=completion.index,
                    prediction=postprocess(completion.text, stop_at_newline=stop_at_newline),
                    raw_output=str(tokenizer.decode(row, skip_special_tokens=False)),
                    latency_s=took / size,
                    batch_latency_s=took,
                    prompt_tokens=completion.prompt_tokens,
                    output_tokens=len(row),
                    context_truncated=prompts[completion.index][1],
                )
            )
        yield batch


def predict(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    items: Sequence[PredictItem | Mapping[str, str]],
    template: PromptTemplate,
    **kwargs: Any,
) -> list[Prediction]:
    """All predictions, in the order of `items`."""
    out: list[Prediction | None] = [None] * len(items)
    for batch in iter_predictions(model, tokenizer, items, template, **kwargs):
        for p in batch:
            out[p.index] = p
    return out  # type: ignore[return-value]
