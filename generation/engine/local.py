"""Batched generation with a local Hugging Face causal LM (left padding), equal to one-at-a-time greedy.

Batching is where the speed comes from: decoding one token costs about the same for 1 or 16 rows on a
CPU (reading the weights dominates). Two details keep batched greedy output identical to sequential
output: prompts are padded with an attention mask (positions come from the mask, so padding shifts
nothing), and the repetition penalty ignores padding (otherwise the pad token, often the EOS token,
would be penalised only in padded rows).

Prompts built from one template share a long token prefix (system text, instruction, the one-shot
example): it is run through the model once per `generate` call and its key/value cache is reused for
every batch, so only each prompt's own suffix is prefilled. Rows are laid out as
[shared prefix][padding][own suffix], which the attention mask makes equivalent to the unpadded prompt.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from generation.engine.base import GenerationOutput, ProgressCallback, SamplingParams, cut_at_stop


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    if ids is None:
        ids = tokenizer.eos_token_id
    if ids is None:
        return []
    return list(ids) if isinstance(ids, list | tuple) else [int(ids)]


class PaddingAwareRepetitionPenalty(LogitsProcessor):
    """transformers' repetition penalty (divide positive logits of tokens already present by `penalty`,
    multiply negative ones), counting only real prompt tokens: `prompt_mask` is the batch's attention
    mask over the prompt, whose padding may sit anywhere (between a shared prefix and a suffix)."""

    def __init__(self, penalty: float, prompt_mask: torch.Tensor) -> None:
        self.penalty = penalty
        self.prompt_mask = prompt_mask.bool()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        batch, length = input_ids.shape
        vocab = scores.shape[-1]
        mask = self.prompt_mask.to(input_ids.device)
        generated = torch.ones((batch, length - mask.shape[1]), dtype=torch.bool, device=input_ids.device)
        valid = torch.cat([mask, generated], dim=1)
        ids = input_ids.masked_fill(~valid, vocab)  # padding goes to an extra column that is dropped
        present = torch.zeros((batch, vocab + 1), dtype=torch.bool, device=scores.device)
        present.scatter_(1, ids, True)
        penalised = torch.where(scores < 0, scores * self.penalty, scores / self.penalty)
        return torch.where(present[:, :vocab], penalised, scores)


class StopOnStrings(StoppingCriteria):
    """Ends a row once its generated text (not the prompt) contains a stop string.

    transformers' own `stop_strings` also matches across the prompt boundary: a prompt ending in "Hi"
    and a first token "Hi" stop on "iHi" before anything of the stop string was generated."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_width = prompt_width

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        rows = input_ids[:, self.prompt_width :].tolist()
        done = [any(s in self.tokenizer.decode(row, skip_special_tokens=True) for s in self.stops) for row in rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class LocalGenerator:
    """Wraps a loaded model and tokenizer; `generate` takes fully rendered prompt strings."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        batch_size: int = 16,
        share_prefix: bool = True,
        min_prefix_tokens: int = 16,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.share_prefix = share_prefix
        self.min_prefix_tokens = min_prefix_tokens
        self.eos_ids = _eos_ids(model, tokenizer)
        if tokenizer.pad_token_id is None:
            if not self.eos_ids:
                raise ValueError("the tokenizer has neither a pad token nor an EOS token to pad with")
            tokenizer.pad_token_id = self.eos_ids[0]
        self.pad_id = int(tokenizer.pad_token_id)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike,
        *,
        gguf_file: str | None = None,
        batch_size: int = 16,
        dtype: torch.dtype = torch.float32,
        device: str | None = None,
        share_prefix: bool = True,
    ) -> LocalGenerator:
        """Load a saved model directory (or a GGUF file inside `path`, which de-quantises slowly)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        tokenizer = AutoTokenizer.from_pretrained(str(path), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, **kwargs)
        if device:
            model.to(device)
        return cls(model, tokenizer, batch_size=batch_size, share_prefix=share_prefix)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _encode(self, prompt: str) -> list[int]:
        # A chat-templated prompt already starts with the BOS token (or the template's own first special
        # token); adding special tokens again would double it. Plain prompts get them (Gemma needs <bos>).
        bos = self.tokenizer.bos_token
        add_special = not (bos and prompt.startswith(bos))
        return self.tokenizer(prompt, add_special_tokens=add_special)["input_ids"]

    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams = SamplingParams(),
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationOutput]:
        """Outputs in the order of `prompts`. Prompts are grouped by length so batches carry little padding;
        `progress(done, total)` runs after each batch (a job's cancellation check can raise from it)."""
        if not prompts:
            return []
        size = batch_size or self.batch_size
        encoded = [self._encode(p) for p in prompts]
        prefix_len = self._shared_prefix_length(encoded)
        prefix_cache = self._prefix_cache(encoded[0][:prefix_len]) if prefix_len else None
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        results: list[GenerationOutput | None] = [None] * len(prompts)
        done = 0
        for batch_no, start in enumerate(range(0, len(order), size)):
            idx = order[start : start + size]
            outputs = self._generate_batch([encoded[i] for i in idx], prefix_len, prefix_cache, params, batch_no)
            for i, out in zip(idx, outputs, strict=True):
                results[i] = out
            done += len(idx)
            if progress is not None:
                progress(done, len(prompts))
        return [r for r in results if r is not None]

    def _shared_prefix_length(self, encoded: list[list[int]]) -> int:
        """Tokens all prompts start with, leaving each at least one token of its own; 0 if too short to pay."""
        if not self.share_prefix:
            return 0
        first = encoded[0]
        length = min(len(ids) for ids in encoded) - 1
        for ids in encoded[1:]:
            k = 0
            while k < length and ids[k] == first[k]:
                k += 1
            length = k
        return length if length >= self.min_prefix_tokens else 0

    @torch.inference_mode()
    def _prefix_cache(self, prefix: list[int]) -> Any:
        ids = torch.tensor([prefix], device=self.device)
        return self.model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True).cache

    @torch.inference_mode()
    def _generate_batch(
        self,
        batch: list[list[int]],
        prefix_len: int,
        prefix_cache: Any,
        params: SamplingParams,
        batch_no: int,
    ) -> list[GenerationOutput]:
        prefix = batch[0][:prefix_len]
        suffixes = [ids[prefix_len:] for ids in batch]
        width = max(len(s) for s in suffixes)
        rows = [prefix + [self.pad_id] * (width - len(s)) + s for s in suffixes]
        masks = [[1] * prefix_len + [0] * (width - len(s)) + [1] * len(s) for s in suffixes]
        input_ids = torch.tensor(rows)
        attention = torch.tensor(masks)
        total = prefix_len + width
        processors = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            processors.append(PaddingAwareRepetitionPenalty(params.repetition_penalty, attention))
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": self.pad_id,
            "eos_token_id": self.eos_ids or None,
            "logits_processor": processors,
            "do_sample": not params.greedy,
        }
        if params.greedy:
            # the model's generation_config may default to sampling settings; greedy must ignore them
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=None)
        if params.stop:
            kwargs["stopping_criteria"] = StoppingCriteriaList([StopOnStrings(self.tokenizer, params.stop, total)])
        if prefix_cache is not None:
            cache = copy.deepcopy(prefix_cache)  # generate() extends the cache in place
            if len(batch) > 1:
                cache.batch_repeat_interleave(len(batch))
            kwargs["cache"] = cache
        device = self.device
        with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
            torch.manual_seed(params.seed + batch_no)
            output = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
        new_tokens = output[:, total:].tolist()
        results = []
        for ids, prompt in zip(new_tokens, batch, strict=True):
            end = next((k for k, tok in enumerate(ids) if tok in self.eos_ids), None)
            kept = ids if end is None else ids[:end]
            if end is None and self.pad_id not in self.eos_ids:
                # a row stopped by a stop string is filled up with pad tokens, which are not output
                while kept and kept[-1] == self.pad_id:
                    kept = kept[:-1]
            text, stopped = cut_at_stop(self.tokenizer.decode(kept, skip_special_tokens=True), params.stop)
            ran_out = end is None and not stopped and len(kept) >= params.max_new_tokens
            results.append(GenerationOutput(text, "length" if ran_out else "stop", len(prompt), len(kept)))
        return results
