"""QA generation with a local Hugging Face causal LM: prompt strings in, `GenerationOutput`s out.

This module only turns rendered prompts into token ids and the engine's completions into generation
outputs; batching, the shared-prefix prefill, stop strings, the repetition penalty and the CUDA fast path
live in `decoding.engine` (shared with evaluation and the judging demo). Batched greedy output equals
one-prompt-at-a-time output (tests/generation/test_local_batched_generation.py).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch

from decoding.engine import BatchDecoder, DecodedBatch, DecodeParams, DecoderOptions
from generation.engine.base import CopyGuard, GenerationOutput, ProgressCallback, SamplingParams


def decode_params(params: SamplingParams) -> DecodeParams:
    return DecodeParams(
        max_new_tokens=params.max_new_tokens,
        temperature=params.temperature,
        top_p=params.top_p,
        seed=params.seed,
        repetition_penalty=params.repetition_penalty,
        stop=tuple(params.stop),
    )


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
        options: DecoderOptions | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        options = options or DecoderOptions.for_device(
            model, batch_size=batch_size, share_prefix=share_prefix, min_prefix_tokens=min_prefix_tokens
        )
        self.decoder = BatchDecoder(model, tokenizer, options)
        self.model = self.decoder.model
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token_id = self.decoder.pad_id

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        gguf_file: str | None = None,
        batch_size: int = 16,
        dtype: str | torch.dtype = "auto",
        device: str | None = "auto",
        share_prefix: bool = True,
    ) -> LocalGenerator:
        """Load a saved model directory (or a GGUF file inside `path`, which de-quantises slowly); the dtype
        follows the device (bf16 on CUDA, float32 on CPU) unless given."""
        from decoding.loading import load_causal_lm

        model, tokenizer = load_causal_lm(path, device=device, dtype=dtype, gguf_file=gguf_file)
        return cls(model, tokenizer, batch_size=batch_size, share_prefix=share_prefix)

    @property
    def device(self) -> torch.device:
        return self.decoder.device

    def _encode(self, prompt: str) -> list[int]:
        # A chat-templated prompt already starts with the BOS token (or the template's own first special
        # token); adding special tokens again would double it. Plain prompts get them (Gemma needs <bos>).
        bos = self.tokenizer.bos_token
        add_special = not (bos and prompt.startswith(bos))
        return list(self.tokenizer(prompt, add_special_tokens=add_special)["input_ids"])

    def expect(self, new_tokens: int) -> None:
        """Tell the decoder how many new tokens the caller will ask for in all (see
        decoding.engine.STATIC_MIN_TOKENS): on CUDA it compiles only when that much work pays for it."""
        self.decoder.expected_new_tokens = max(0, int(new_tokens))

    def generate(
        self,
        prompts: Sequence[str],
        params: SamplingParams = SamplingParams(),
        *,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
        guards: Sequence[CopyGuard | None] | None = None,
    ) -> list[GenerationOutput]:
        """Outputs in the order of `prompts`. Prompts are grouped by length so batches carry little padding;
        `progress(done, total)` runs after each batch (a job's cancellation check can raise from it);
        `guards`: per prompt, the words its completion should avoid (CopyGuard), or None."""
        if not prompts:
            return []
        on_batch = None
        if progress is not None:
            total = len(prompts)

            def on_batch(batch: DecodedBatch) -> None:
                progress(batch.rows_done, total)

        encoded = [self._encode(p) for p in prompts]
        decoding = decode_params(params)
        avoid = None
        if guards is not None and any(guards):
            if len(guards) != len(prompts):
                raise ValueError(f"{len(guards)} copy guards for {len(prompts)} prompts")
            avoid = [dict.fromkeys(self.avoided_tokens(g), g.penalty) if g is not None else {} for g in guards]
        completions = self.decoder.decode(encoded, decoding, batch_size=batch_size, on_batch=on_batch, avoid=avoid)
        return [GenerationOutput(c.text, c.finish_reason, c.prompt_tokens, len(c.token_ids)) for c in completions]

    def avoided_tokens(self, guard: CopyGuard) -> frozenset[int]:
        """The guard's tokens as this tokenizer splits its avoided texts, kept where the token's text (case
        folded) occurs in a content text (if the guard names any) and in no allowed text, and spells content
        (_spells_content; never special tokens). Texts, not token ids, are compared: a tokenizer splits a
        word differently in other company ("開発" alone, "資源開発" in the passage), and the passage's word
        must stay allowed however it was split there."""
        texts = list(guard.avoid)
        rows = self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []
        special = set(getattr(self.tokenizer, "all_special_ids", ()) or ())
        candidates = sorted({i for row in rows for i in row} - special)
        allow = [t.casefold() for t in guard.allow]
        content = [t.casefold() for t in guard.content]
        avoided = set()
        for i, raw in zip(candidates, self.tokenizer.batch_decode([[i] for i in candidates]), strict=True):
            text = raw.strip().casefold()
            if not _spells_content(text) or any(text in a for a in allow):
                continue
            if not content or any(text in c for c in content):
                avoided.add(i)
        return frozenset(avoided)

    def score(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """For each (prompt, continuations): the mean log-probability per token of each continuation (higher
        = the model prefers it); the round-trip check's extractive answer is the span that scores highest.
        Consecutive prompts that share a long start (the questions about one passage) prefill it once."""
        encoded = [self._encode(prompt) for prompt, _ in items]
        results: list[list[float]] = []
        prefix: tuple[int, Any] | None = None
        prefix_ids: list[int] = []
        for i, (ids, (_, continuations)) in enumerate(zip(encoded, items, strict=True)):
            if prefix is None or ids[: len(prefix_ids)] != prefix_ids or len(ids) <= len(prefix_ids):
                prefix, prefix_ids = None, []
                shared = _common_prefix(encoded[i : i + 8])
                if shared:
                    prefix_ids = ids[:shared]
                    prefix = self.decoder.prefix_cache(prefix_ids)
            conts = [list(self.tokenizer(c, add_special_tokens=False)["input_ids"]) for c in continuations]
            logprobs = self.decoder.continuation_logprobs(ids, conts, prefix=prefix)
            results.append([sum(v) / len(v) for v in logprobs])
        return results


def _spells_content(text: str) -> bool:
    """Whether a token's text holds a letter other than hiragana: punctuation, digits, spaces and Japanese
    particles and endings (hiragana: の, が, とは) are what every question needs, and no copy is made of them."""
    return any(c.isalpha() and not "\u3040" <= c <= "\u309f" for c in text)


def _common_prefix(encoded: Sequence[Sequence[int]], minimum: int = 64) -> int:
    """Tokens the first prompt shares with the next ones that share at least `minimum` with it (the
    questions about one passage); 0 when the next prompt shares less (nothing to reuse)."""
    first = encoded[0]
    length = len(first) - 1
    shared_with = 0
    for ids in encoded[1:]:
        k = 0
        while k < min(length, len(ids) - 1) and ids[k] == first[k]:
            k += 1
        if k < minimum:
            break
        length, shared_with = k, shared_with + 1
    return length if shared_with else 0
