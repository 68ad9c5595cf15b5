"""Batched generation with a local Hugging Face causal LM (left padding), equal to one-at-a-time greedy.

Batching is where the speed comes from on CPU and GPU alike (16-wide batches were 6.5x faster than one
prompt at a time for SmolLM2-135M on 2 CPU cores). Two details keep batched greedy output identical to
sequential output: prompts are left-padded with an attention mask (so every row's last real token is
at the end and positions come from the mask), and the repetition penalty ignores each row's padding
(otherwise the pad token, often the EOS token, would be penalised only in padded rows).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from transformers import LogitsProcessorList, RepetitionPenaltyLogitsProcessor, StoppingCriteria, StoppingCriteriaList

from generation.engine.base import GenerationOutput, ProgressCallback, SamplingParams, cut_at_stop


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    if ids is None:
        ids = tokenizer.eos_token_id
    if ids is None:
        return []
    return list(ids) if isinstance(ids, list | tuple) else [int(ids)]


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

    def __init__(self, model: Any, tokenizer: Any, *, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
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
    ) -> LocalGenerator:
        """Load a saved model directory (or a GGUF file inside `path`, which de-quantises slowly)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        tokenizer = AutoTokenizer.from_pretrained(str(path), **kwargs)
        model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype, **kwargs)
        if device:
            model.to(device)
        return cls(model, tokenizer, batch_size=batch_size)

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
        size = batch_size or self.batch_size
        encoded = [self._encode(p) for p in prompts]
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        results: list[GenerationOutput | None] = [None] * len(prompts)
        done = 0
        for batch_no, start in enumerate(range(0, len(order), size)):
            idx = order[start : start + size]
            outputs = self._generate_batch([encoded[i] for i in idx], params, batch_no)
            for i, out in zip(idx, outputs, strict=True):
                results[i] = out
            done += len(idx)
            if progress is not None:
                progress(done, len(prompts))
        return [r for r in results if r is not None]

    @torch.inference_mode()
    def _generate_batch(self, batch: list[list[int]], params: SamplingParams, batch_no: int) -> list[GenerationOutput]:
        width = max(len(ids) for ids in batch)
        pad_lengths = [width - len(ids) for ids in batch]
        input_ids = torch.tensor([[self.pad_id] * p + ids for p, ids in zip(pad_lengths, batch, strict=True)])
        attention = torch.tensor([[0] * p + [1] * len(ids) for p, ids in zip(pad_lengths, batch, strict=True)])
        processors = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            processors.append(
                RepetitionPenaltyLogitsProcessor(
                    params.repetition_penalty, prompt_ignore_length=torch.tensor(pad_lengths)
                )
            )
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
            kwargs["stopping_criteria"] = StoppingCriteriaList([StopOnStrings(self.tokenizer, params.stop, width)])
        device = self.device
        with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
            torch.manual_seed(params.seed + batch_no)
            output = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
        new_tokens = output[:, width:].tolist()
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
