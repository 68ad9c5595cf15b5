"""Batched decoding with a local Hugging Face causal LM: one engine for QA generation, evaluation predictions
and the judging demo. Callers hand in token ids and get token ids and text back; prompt building and answer
post-processing stay with them.

Batched greedy output equals one-prompt-at-a-time output. Two details make it so: rows are padded with an
attention mask (positions come from the mask, so padding shifts nothing), and the repetition penalty ignores
padding (otherwise the pad token, often EOS, would be penalised only in padded rows).

Speed comes from different places on the two kinds of device:
- CPU: reading the weights dominates a decoding step, so a batch of 16 costs little more than one row, and
  prefilling the prompts is a large share of the time. Prompts rendered from one template share a long token
  prefix (system text, instruction, one-shot example); it is run through the model once per call and its
  key/value cache reused by every batch, so only each prompt's own suffix is prefilled. Rows are laid out as
  [shared prefix][padding][own suffix], which the attention mask makes equivalent to the unpadded prompt.
- CUDA: bf16 weights, batches sized by a token budget (rows x (prompt + new tokens), from the free memory and
  the model's key/value size per token) rather than a fixed count, and a static key/value cache, with which
  `generate` compiles the decoding step (`torch.compile`). Prefill is cheap there, so the shared prefix is not
  split off (a static cache cannot take a pre-filled dynamic one anyway). If the static path fails (an
  architecture or a transformers version without support), the engine logs why and falls back to the dynamic
  cache for the rest of its life; QASYNTH_STATIC_CACHE=0 turns it off.

Stop strings end a row once its generated text contains one. They are checked on a short tail of the new
tokens only (enough tokens to hold the longest stop string), every step on CPU and every few steps on CUDA
(each check is a device sync and a tokenizer call); the kept tokens are then trimmed to where the stop string
completed, so the result does not depend on how often it was checked.

Only public transformers APIs are used (`Cache` objects passed under the name the model's `forward` takes:
`cache` from transformers 5.2x, `past_key_values` before), so the engine runs on the pinned version and on the
oldest supported one (see MIN_TRANSFORMERS).
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import torch
from transformers import LogitsProcessor, StoppingCriteria

log = logging.getLogger(__name__)

MIN_TRANSFORMERS = "5.10"  # oldest transformers the engine is tested under (scripts/make_oldtf_venv.sh)

FinishReason = Literal["stop", "length"]


@dataclass(frozen=True)
class DecodeParams:
    """temperature 0 means greedy decoding (then top_p, top_k and seed do not matter)."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    top_k: int | None = None
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    num_return_sequences: int = 1  # samples per prompt (rows are repeated; each sample is its own row)
    seed: int = 0
    min_new_tokens: int = 0  # benchmarks force the full token budget with it
    eos_token_ids: tuple[int, ...] | None = None  # None: the model's generation config, else the tokenizer's

    def __post_init__(self) -> None:
        problems = []
        if self.max_new_tokens < 1:
            problems.append("max_new_tokens must be at least 1")
        if self.temperature < 0:
            problems.append("temperature must be >= 0 (0 = greedy)")
        if not 0 < self.top_p <= 1:
            problems.append("top_p must be in (0, 1]")
        if self.top_k is not None and self.top_k < 1:
            problems.append("top_k must be at least 1 (or None)")
        if self.repetition_penalty <= 0:
            problems.append("repetition_penalty must be > 0 (1 = off)")
        if any(not s for s in self.stop):
            problems.append("stop strings must not be empty")
        if self.num_return_sequences < 1:
            problems.append("num_return_sequences must be at least 1")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            problems.append("min_new_tokens must be between 0 and max_new_tokens")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class Completion:
    index: int  # the prompt's position in the input
    sample: int  # 0 .. num_return_sequences - 1
    token_ids: tuple[int, ...]  # new tokens, without EOS or padding; up to the stop string's last token
    text: str  # decoded without special tokens, cut before the first stop string
    finish_reason: FinishReason  # "length" only when max_new_tokens ran out without EOS or stop string
    prompt_tokens: int


@dataclass(frozen=True)
class DecodedBatch:
    completions: list[Completion]
    seconds: float  # wall time of this batch (device synchronised)
    rows_done: int  # rows (prompt x sample) finished so far, this batch included
    rows_total: int


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i != -1), default=-1)
    return (text[:cut], True) if cut != -1 else (text, False)


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return None


@dataclass(frozen=True)
class DecoderOptions:
    """How rows are grouped and which decoding path runs; the defaults depend on the device (`for_device`)."""

    batch_size: int = 16  # most rows per batch
    token_budget: int | None = None  # most rows x (prompt + new tokens) per batch; None: batch_size alone
    share_prefix: bool = True  # prefill a long common prompt prefix once (dynamic cache only)
    min_prefix_tokens: int = 16  # shorter common prefixes are not worth splitting off
    static_cache: bool = False  # static KV cache (+ compiled decoding step on CUDA)
    static_min_tokens: int = 0  # a decode call with fewer new tokens (rows x max_new_tokens) stays dynamic
    stop_check_every: int = 1  # steps between stop-string checks

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if self.token_budget is not None and self.token_budget < 1:
            raise ValueError("token_budget must be at least 1")
        if self.stop_check_every < 1:
            raise ValueError("stop_check_every must be at least 1")
        if self.static_min_tokens < 0:
            raise ValueError("static_min_tokens must be at least 0")

    @classmethod
    def for_device(cls, model: Any, *, batch_size: int = 16, **overrides: Any) -> DecoderOptions:
        """CPU: `batch_size` rows, shared prefix, stop strings checked every step (what measured fastest on
        2 cores). CUDA: up to max(batch_size, 256) rows within a token budget from the free memory, static
        cache unless QASYNTH_STATIC_CACHE=0 or the architecture cannot compile (and only for calls that
        decode at least QASYNTH_STATIC_MIN_TOKENS new tokens, see STATIC_MIN_TOKENS), stop checks every 4
        steps."""
        device = next(model.parameters()).device
        if device.type != "cuda":
            return cls(batch_size=batch_size, **overrides)
        static, why = static_cache_support(model)
        if not static:
            log.info("decoding without a static cache: %s", why)
        values: dict[str, Any] = {
            "batch_size": max(batch_size, int(os.environ.get("QASYNTH_GPU_MAX_BATCH", "256"))),
            "token_budget": cuda_token_budget(model),
            "static_cache": static,
            "static_min_tokens": int(os.environ.get("QASYNTH_STATIC_MIN_TOKENS", str(STATIC_MIN_TOKENS))),
            "stop_check_every": 4,
        }
        values.update(overrides)
        return cls(**values)


def static_cache_support(model: Any) -> tuple[bool, str]:
    """Whether the static-cache + compile path should be tried for this model, and why not if not."""
    if _env_flag("QASYNTH_STATIC_CACHE") is False:
        return False, "turned off by QASYNTH_STATIC_CACHE=0"
    device = next(model.parameters()).device
    if device.type != "cuda":
        return False, f"the model is on {device.type}, not CUDA (generate compiles only there)"
    if not getattr(model, "_can_compile_fullgraph", False):
        return False, f"{type(model).__name__} does not declare torch.compile support"
    return True, ""


STATIC_MIN_TOKENS = 131_072
"""On CUDA, a decode call that makes fewer new tokens than this takes the dynamic cache: on an H200 (SmolLM2
architecture, bf16) the first compile of the static path cost 30-40 s, and the dynamic cache decoded at
3.8k tokens/s against the static path's 21k, so compiling pays back after about 140k new tokens. A QA
generation run over thousands of passages compiles; a judging chunk or a demo does not."""

STATIC_WIDTH_STEP = 64
"""Prompt widths on the static path are padded up to a multiple of this many tokens."""


def static_shape(width: int, rows: int) -> tuple[int, int]:
    """(padded prompt width, filler rows) for a static-cache batch. `generate` compiles its decoding step for
    each distinct batch shape and static cache length (prompt width + new tokens): a judging run decoding
    chunk after chunk of prompts of every length, or one prompt at a time, recompiled at almost every batch
    (1.5 s each on an H200, slower than not compiling at all). Widths rounded up to a step and row counts to a
    power of two (with copies of a row whose outputs are dropped) leave a handful of shapes; left padding is
    masked out, so the real rows decode as before."""
    padded = -(-width // STATIC_WIDTH_STEP) * STATIC_WIDTH_STEP
    return padded, (1 << (rows - 1).bit_length()) - rows


def kv_bytes_per_token(model: Any) -> int:
    """Bytes of key/value cache one token takes in this model (all layers), from its config."""
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    layers = int(config.num_hidden_layers)
    heads = int(getattr(config, "num_attention_heads", 1))
    kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(config, "head_dim", None) or config.hidden_size // heads)
    itemsize = int(next(model.parameters()).element_size())
    return 2 * layers * kv_heads * head_dim * itemsize


def cuda_token_budget(model: Any, *, memory_share: float = 0.35) -> int:
    """Tokens per batch whose key/value cache fits in `memory_share` of the free CUDA memory (at least 4096)."""
    device = next(model.parameters()).device
    free, _total = torch.cuda.mem_get_info(device)
    return max(4096, int(free * memory_share) // max(1, kv_bytes_per_token(model)))


def cache_argument(model: Any) -> str:
    """The keyword under which this model's forward (and generate) takes a Cache object: transformers renamed
    `past_key_values` to `cache`; both names are public in their versions."""
    try:
        parameters = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in parameters else "past_key_values"


def repeated_cache(cache: Any, rows: int) -> Any:
    """A copy of ``cache`` (one row, e.g. a shared prefix's) for ``rows`` rows; the original stays as it was,
    since a forward pass extends the cache it is given in place."""
    copied = copy.deepcopy(cache)
    if rows > 1:
        copied.batch_repeat_interleave(rows)
    return copied


def output_cache(output: Any) -> Any:
    """The Cache object a forward pass returned, under either name."""
    for name in ("cache", "past_key_values"):
        value = output.get(name) if hasattr(output, "get") else getattr(output, name, None)
        if value is not None:
            return value
    raise RuntimeError("the model returned no key/value cache (use_cache=True was passed)")


def model_eos_ids(model: Any, tokenizer: Any) -> list[int]:
    ids = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if ids is None:
        ids = tokenizer.eos_token_id
    if ids is None:
        return []
    return [int(i) for i in ids] if isinstance(ids, list | tuple) else [int(ids)]


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
        return cast(torch.FloatTensor, torch.where(present[:, :vocab], penalised, scores))  # as transformers' own


Avoid = Mapping[int, float]
"""Token id -> how much its logit is lowered, for one prompt (decode's ``avoid``)."""


class RowTokenPenalty(LogitsProcessor):
    """Lowers, row by row, the logits of that row's own tokens by their penalties: each prompt of a batch may
    avoid different tokens (the copy guard: the words of the example its prompt shows that its passage lacks).
    A finite penalty, not a ban: a token the model is very sure of still comes."""

    def __init__(self, avoided: Sequence[Avoid]) -> None:
        if any(not 0 <= p < float("inf") for row in avoided for p in row.values()):
            raise ValueError("a token penalty must be >= 0 and finite")
        self.avoided = [dict(row) for row in avoided]
        self._bias: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        bias = self._bias
        if bias is None or bias.shape != scores.shape or bias.device != scores.device or bias.dtype != scores.dtype:
            bias = torch.zeros(scores.shape, dtype=scores.dtype)
            for row, penalties in enumerate(self.avoided):
                for token, penalty in penalties.items():
                    if 0 <= token < scores.shape[1]:
                        bias[row, token] = penalty
            bias = self._bias = bias.to(scores.device)
        return cast(torch.FloatTensor, scores - bias)  # built once per batch: one subtraction per step


class StopOnStrings(StoppingCriteria):
    """Ends a row once its generated text (not the prompt) contains a stop string.

    Only the last few new tokens are decoded (a stop string of n UTF-8 bytes spans at most n tokens, plus
    slack for the step interval), so a check costs the same at token 10 as at token 500. transformers' own
    `stop_strings` also matches across the prompt boundary: a prompt ending in "Hi" and a first token "Hi"
    stop on "iHi" before anything of the stop string was generated; this one never looks at the prompt."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_width: int, every: int = 1) -> None:
        self.tokenizer = tokenizer
        self.stops = tuple(stops)
        self.prompt_width = prompt_width
        self.every = every
        self.window = max(len(s.encode("utf-8")) for s in self.stops) + 2 + every

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        new = input_ids.shape[1] - self.prompt_width
        if new <= 0 or new % self.every:
            return cast(torch.BoolTensor, torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device))
        tails = input_ids[:, -min(new, self.window) :].tolist()
        texts = self.tokenizer.batch_decode(tails, skip_special_tokens=True)
        done = [any(s in text for s in self.stops) for text in texts]
        return cast(torch.BoolTensor, torch.tensor(done, dtype=torch.bool, device=input_ids.device))


@dataclass
class _Row:
    index: int
    sample: int
    ids: list[int]
    avoid: Avoid = field(default_factory=dict)


@dataclass
class _Plan:
    rows: list[_Row]
    prefix_len: int
    static: bool
    batches: list[list[_Row]] = field(default_factory=list)


class BatchDecoder:
    """Wraps a loaded model and tokenizer; `decode` / `iter_batches` take token-id prompts."""

    def __init__(self, model: Any, tokenizer: Any, options: DecoderOptions | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.options = options or DecoderOptions.for_device(model)
        self.eos_ids = model_eos_ids(model, tokenizer)
        pad = tokenizer.pad_token_id
        if pad is None:
            if not self.eos_ids:
                raise ValueError("the tokenizer has neither a pad token nor an EOS token to pad with")
            pad = self.eos_ids[0]
        self.pad_id = int(pad)
        self.cache_kwarg = cache_argument(model)
        try:
            self._takes_logits_to_keep = "logits_to_keep" in inspect.signature(model.forward).parameters
        except (TypeError, ValueError):
            self._takes_logits_to_keep = False
        self.static_cache = self.options.static_cache
        self.static_fallback_reason: str | None = None
        self.expected_new_tokens = 0
        """New tokens the caller expects this decoder to make over its life (a generation run sets it from its
        remaining passages): a job decoding in small chunks still compiles when the whole job will pay."""
        self._compiled = False

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self.model.parameters()).device
        return device

    # --- planning -------------------------------------------------------------------------------------

    def shared_prefix_length(self, encoded: Sequence[Sequence[int]], *, static: bool | None = None) -> int:
        """Tokens all prompts start with, leaving each at least one token of its own; 0 if too short to pay
        or if the prefix is not split (static cache, or turned off)."""
        static = self.static_cache if static is None else static
        if not self.options.share_prefix or static or not encoded:
            return 0
        first = encoded[0]
        length = min(len(ids) for ids in encoded) - 1
        for ids in encoded[1:]:
            k = 0
            while k < length and ids[k] == first[k]:
                k += 1
            length = k
        return length if length >= self.options.min_prefix_tokens else 0

    def uses_static(self, new_tokens: int) -> bool:
        """Whether a call making `new_tokens` new tokens takes the static path: when this decoder has one, and
        has compiled it already or the work (this call's, or what the caller announced) pays for compiling."""
        work = max(new_tokens, self.expected_new_tokens)
        return self.static_cache and (self._compiled or work >= self.options.static_min_tokens)

    def _rows_for(self, width: int, max_new_tokens: int, batch_size: int | None, static: bool) -> int:
        rows = batch_size or self.options.batch_size
        if self.options.token_budget is not None:
            rows = min(rows, max(1, self.options.token_budget // (width + max_new_tokens)))
            if static:  # few distinct batch shapes: each one compiles the decoding step again
                rows = 1 << (rows.bit_length() - 1)
        return rows

    def _plan(
        self,
        prompts: Sequence[Sequence[int]],
        params: DecodeParams,
        batch_size: int | None,
        avoid: Sequence[Avoid] | None = None,
    ) -> _Plan:
        if avoid is not None and len(avoid) != len(prompts):
            raise ValueError(f"avoid has {len(avoid)} token maps for {len(prompts)} prompts")
        rows = [
            _Row(i, s, list(ids), avoid[i] if avoid is not None else {})
            for i, ids in enumerate(prompts)
            for s in range(params.num_return_sequences)
        ]
        static = self.uses_static(len(rows) * params.max_new_tokens)
        prefix_len = self.shared_prefix_length([list(p) for p in prompts], static=static)
        plan = _Plan(rows, prefix_len, static)
        # longest first: less padding per batch, and an out-of-memory error shows at once
        order = sorted(rows, key=lambda r: -len(r.ids))
        start = 0
        while start < len(order):
            size = self._rows_for(len(order[start].ids), params.max_new_tokens, batch_size, static)
            plan.batches.append(order[start : start + size])
            start += size
        return plan

    # --- decoding -------------------------------------------------------------------------------------

    def decode(
        self,
        prompts: Sequence[Sequence[int]],
        params: DecodeParams = DecodeParams(),
        *,
        batch_size: int | None = None,
        on_batch: Callable[[DecodedBatch], None] | None = None,
        avoid: Sequence[Avoid] | None = None,
    ) -> list[Completion]:
        """Completions in prompt order (samples of one prompt together). `on_batch` runs after each batch
        (a job's cancellation check can raise from it); `batch_size` overrides the options' row limit;
        `avoid`: per prompt, {token id: penalty} by which those logits drop (RowTokenPenalty)."""
        out: dict[tuple[int, int], Completion] = {}
        for batch in self.iter_batches(prompts, params, batch_size=batch_size, avoid=avoid):
            for c in batch.completions:
                out[(c.index, c.sample)] = c
            if on_batch is not None:
                on_batch(batch)
        return [out[key] for key in sorted(out)]

    def iter_batches(
        self,
        prompts: Sequence[Sequence[int]],
        params: DecodeParams,
        *,
        batch_size: int | None = None,
        avoid: Sequence[Avoid] | None = None,
    ) -> Iterator[DecodedBatch]:
        """One DecodedBatch per batch, longest prompts first."""
        if not prompts:
            return
        if any(len(p) == 0 for p in prompts):
            raise ValueError("every prompt needs at least one token")
        plan = self._plan(prompts, params, batch_size, avoid)
        prefix_cache = self._prefix_cache(list(prompts[0][: plan.prefix_len])) if plan.prefix_len else None
        done = 0
        for batch_no, batch in enumerate(plan.batches):
            began = time.perf_counter()
            completions = self._run_batch(batch, plan.prefix_len, prefix_cache, params, batch_no, plan.static)
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            done += len(batch)
            yield DecodedBatch(completions, time.perf_counter() - began, done, len(plan.rows))

    @torch.inference_mode()
    def continuation_logprobs(
        self,
        prompt: Sequence[int],
        continuations: Sequence[Sequence[int]],
        *,
        batch_size: int = 16,
        prefix: tuple[int, Any] | None = None,
    ) -> list[list[float]]:
        """Log-probability of every token of each continuation after `prompt` (teacher forcing), for choosing
        among given answers (extractive QA with a causal LM). The prompt is run once; the continuations run
        in right-padded batches on copies of its key/value cache (padding after a row's last token changes
        nothing before it under the causal mask). `prefix` = (length, cache) of a prefill of the prompt's
        first `length` tokens (see `prefix_cache`), shared by prompts about one passage."""
        conts = [list(c) for c in continuations]
        if not conts:
            return []
        if any(not c for c in conts):
            raise ValueError("every continuation needs at least one token")
        done, cache = (0, None) if prefix is None else prefix
        if not 0 <= done < len(prompt):
            raise ValueError("the shared prefix must be shorter than the prompt")
        cache_arg = {self.cache_kwarg: repeated_cache(cache, 1)} if cache is not None else {}
        ids = torch.tensor([list(prompt[done:])], device=self.device)
        last_only = {"logits_to_keep": 1} if self._takes_logits_to_keep else {}  # not [prompt x vocab] logits
        attention = torch.ones((1, len(prompt)), dtype=torch.long, device=self.device)
        output = self.model(input_ids=ids, attention_mask=attention, use_cache=True, **cache_arg, **last_only)
        first = torch.log_softmax(output.logits[0, -1].float(), dim=-1)
        cache = output_cache(output)
        scores: list[list[float]] = []
        for start in range(0, len(conts), batch_size):
            chunk = conts[start : start + batch_size]
            width = max(len(c) for c in chunk)
            rows = repeated_cache(cache, len(chunk))
            input_ids = torch.tensor([c + [self.pad_id] * (width - len(c)) for c in chunk], device=self.device)
            mask = torch.tensor(
                [[1] * (len(prompt) + len(c)) + [0] * (width - len(c)) for c in chunk], device=self.device
            )
            out = self.model(input_ids=input_ids, attention_mask=mask, use_cache=True, **{self.cache_kwarg: rows})
            logp = torch.log_softmax(out.logits.float(), dim=-1)
            for row, c in enumerate(chunk):
                values = [float(first[c[0]])]
                values += [float(logp[row, j - 1, c[j]]) for j in range(1, len(c))]
                scores.append(values)
        return scores

    def prefix_cache(self, prefix: Sequence[int]) -> tuple[int, Any]:
        """(length, key/value cache) of `prefix`, for `continuation_logprobs(prefix=...)`."""
        return len(prefix), self._prefix_cache(list(prefix))

    @torch.inference_mode()
    def _prefix_cache(self, prefix: list[int]) -> Any:
        """The prefix's key/value cache. Its logits are never read, so where the model has its decoder apart
        only the decoder runs (no output layer over every prefix position)."""
        ids = torch.tensor([prefix], device=self.device)
        decoder = self.model.get_decoder() if hasattr(self.model, "get_decoder") else None
        runner = decoder if decoder is not None else self.model
        output = runner(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
        return output_cache(output)

    def _run_batch(
        self,
        batch: list[_Row],
        prefix_len: int,
        prefix_cache: Any,
        params: DecodeParams,
        batch_no: int,
        static: bool,
    ) -> list[Completion]:
        if not (static and self.static_cache):  # a failure earlier in this call turned it off
            return self._generate(batch, prefix_len, prefix_cache, params, batch_no, static=False)
        try:
            completions = self._generate(batch, prefix_len, prefix_cache, params, batch_no, static=True)
            self._compiled = True  # paid for: later calls, however small, keep the static path
            return completions
        except Exception as exc:  # any failure of the optional fast path: fall back, say why, keep going
            self.static_fallback_reason = f"{type(exc).__name__}: {exc}"
            log.warning("static-cache decoding failed (%s); using the dynamic cache from now on", exc)
            self.static_cache = False
            return self._generate(batch, prefix_len, prefix_cache, params, batch_no, static=False)

    @torch.inference_mode()
    def _generate(
        self,
        batch: list[_Row],
        prefix_len: int,
        prefix_cache: Any,
        params: DecodeParams,
        batch_no: int,
        *,
        static: bool,
    ) -> list[Completion]:
        prefix = batch[0].ids[:prefix_len]
        suffixes = [row.ids[prefix_len:] for row in batch]
        width = max(len(s) for s in suffixes)
        if static:  # one compiled decoding step per (rows, cache length): keep the shapes few
            width, fillers = static_shape(width, len(batch))
            suffixes += [suffixes[-1]] * fillers
        input_ids = torch.tensor([prefix + [self.pad_id] * (width - len(s)) + s for s in suffixes])
        attention = torch.tensor([[1] * prefix_len + [0] * (width - len(s)) + [1] * len(s) for s in suffixes])
        total = prefix_len + width
        eos_ids = list(params.eos_token_ids) if params.eos_token_ids is not None else self.eos_ids
        kwargs = self._generate_kwargs(params, attention, total, eos_ids)
        if any(any(row.avoid.values()) for row in batch):
            avoided = [row.avoid for row in batch] + [batch[-1].avoid] * (len(suffixes) - len(batch))
            kwargs["logits_processor"].append(RowTokenPenalty(avoided))
        if static:
            kwargs["cache_implementation"] = "static"
        elif prefix_cache is not None:
            kwargs[self.cache_kwarg] = repeated_cache(prefix_cache, len(batch))  # generate() extends it in place
        device = self.device
        with torch.random.fork_rng(devices=[] if device.type == "cpu" else [device]):
            torch.manual_seed(params.seed + batch_no)
            output = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs)
        new_tokens = output[: len(batch), total:].tolist()  # filler rows, if any, are dropped
        return [self._completion(row, ids, params, eos_ids) for row, ids in zip(batch, new_tokens, strict=True)]

    def _generate_kwargs(
        self, params: DecodeParams, attention: torch.Tensor, total: int, eos_ids: list[int]
    ) -> dict[str, Any]:
        from transformers import LogitsProcessorList, StoppingCriteriaList

        processors = LogitsProcessorList()
        if params.repetition_penalty != 1.0:
            processors.append(PaddingAwareRepetitionPenalty(params.repetition_penalty, attention))
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "pad_token_id": self.pad_id,
            "eos_token_id": eos_ids or None,
            "logits_processor": processors,
            "do_sample": not params.greedy,
            "num_beams": 1,
        }
        if params.min_new_tokens:
            kwargs["min_new_tokens"] = params.min_new_tokens
        if params.greedy:
            # the model's generation_config may default to sampling settings; greedy must ignore them
            kwargs.update(temperature=None, top_p=None, top_k=None)
        else:
            kwargs.update(temperature=params.temperature, top_p=params.top_p, top_k=params.top_k)
        if params.stop:
            criterion = StopOnStrings(self.tokenizer, params.stop, total, self.options.stop_check_every)
            kwargs["stopping_criteria"] = StoppingCriteriaList([criterion])
        return kwargs

    def _completion(self, row: _Row, ids: list[int], params: DecodeParams, eos_ids: list[int]) -> Completion:
        end = next((k for k, tok in enumerate(ids) if tok in eos_ids), None)
        kept = ids if end is None else ids[:end]
        if end is None and self.pad_id not in eos_ids:
            # a row stopped by a stop string is filled up with pad tokens, which are not output
            while kept and kept[-1] == self.pad_id:
                kept = kept[:-1]
        text, stopped = cut_at_stop(self.tokenizer.decode(kept, skip_special_tokens=True), params.stop)
        if stopped:
            kept = self._trim_to_stop(kept, params.stop)
        ran_out = end is None and not stopped and len(kept) >= params.max_new_tokens
        return Completion(row.index, row.sample, tuple(kept), text, "length" if ran_out else "stop", len(row.ids))

    def _trim_to_stop(self, kept: list[int], stop: Sequence[str]) -> list[int]:
        """The shortest prefix whose text holds a stop string: where a check every step would have ended."""
        while len(kept) > 1 and cut_at_stop(self.tokenizer.decode(kept[:-1], skip_special_tokens=True), stop)[1]:
            kept = kept[:-1]
        return kept
