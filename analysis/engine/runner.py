"""Running a judge: every pair in both orders, n votes each, through any generator, in resumable chunks.

The engine depends only on the generator interface of ``generation.engine.base`` (``generate(prompts,
params, progress=...)`` returning ``GenerationOutput`` in prompt order), so a local batched model and an
OpenAI-compatible endpoint (bounded concurrency) are driven the same way, and so is whatever decoding engine
replaces today's local one.

Resuming: the caller passes the keys of the votes it has already stored; only the others are asked for, in
chunks, and ``on_votes`` receives each chunk's votes before the next chunk starts, so a job that stores them
in one transaction per chunk and is killed loses at most one chunk and never stores a vote twice.
Vote k of every request is sampled with seed ``params.seed + k``: n votes of one prompt differ on an
endpoint that honours the seed, and a greedy run (temperature 0) allows exactly one vote.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from analysis.engine.choice import Chooser, choice_steps, choice_vote
from analysis.engine.parsing import parse_verdict
from analysis.engine.templates import (
    ORDERS,
    JudgeLabel,
    JudgePair,
    JudgeTemplate,
    Order,
    PromptRenderer,
    as_messages,
    render_messages,
)
from analysis.engine.verdicts import Vote
from generation.engine.base import GenerationOutput, ProgressCallback, SamplingParams

VoteKey = tuple[Hashable, Order, int]
VERDICT_MODES = ("generate", "choice")
"""generate: free text, parsed (unparseable outputs counted, never guessed); choice: the most likely of the
allowed options per field (engine/choice.py), always a verdict, with its option probabilities kept."""


class Generator(Protocol):
    """What the engine needs from a backend (``LocalGenerator``, ``OpenAIEndpointGenerator``, ...)."""

    def generate(
        self, prompts: Sequence[Any], params: SamplingParams = ..., *, progress: ProgressCallback | None = None
    ) -> list[GenerationOutput]: ...


@dataclass(frozen=True)
class Request:
    pair: JudgePair
    order: Order
    vote: int

    @property
    def key(self) -> VoteKey:
        return (self.pair.key, self.order, self.vote)


def check_votes(votes: int, params: SamplingParams) -> None:
    if votes < 1:
        raise ValueError(f"votes per assignment must be at least 1, got {votes}")
    if votes > 1 and params.greedy:
        raise ValueError(f"{votes} votes need sampling (temperature > 0): greedy decoding gives identical votes")


def plan(pairs: Sequence[JudgePair], votes: int, done: Collection[VoteKey] = ()) -> list[Request]:
    """Requests still to run, vote by vote (one seed per vote), each pair's two orders side by side."""
    keys = [p.key for p in pairs]
    if len(set(keys)) != len(keys):
        seen: set[Hashable] = set()
        duplicate = next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise ValueError(f"pair key {duplicate!r} appears twice")
    done = set(done)
    return [
        Request(pair, order, vote)
        for vote in range(votes)
        for pair in pairs
        for order in ORDERS
        if (pair.key, order, vote) not in done
    ]


class LLMJudge:
    """A judging run's settings; ``run`` asks the generator for every vote not yet done."""

    def __init__(
        self,
        generator: Generator | None,
        template: JudgeTemplate,
        labels: Sequence[JudgeLabel],
        *,
        params: SamplingParams = SamplingParams(max_new_tokens=96),
        votes: int = 1,
        render: PromptRenderer = as_messages,
        chunk_size: int = 64,
        response_prefix: str = "",
        chooser: Chooser | None = None,
    ) -> None:
        problems = template.errors()
        if problems:
            raise ValueError(f"judging template {template.name!r}: " + "; ".join(problems))
        if chooser is not None and votes != 1:
            raise ValueError(f"choice mode is deterministic: one vote per order, got {votes}")
        check_votes(votes, params)
        if chooser is None and generator is None:
            raise ValueError("a judge needs a generator (generate mode) or a chooser (choice mode)")
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.generator = generator
        self.template = template
        self.labels = tuple(labels)
        self.params = params
        self.votes = votes
        self.render = render
        self.chunk_size = chunk_size
        # Text the prompt already ends with (a prefilled assistant turn such as '{"answer_1": "'): small
        # chat models that ignore the format instruction continue a started JSON object instead. It is
        # prepended to every output, so the stored raw text is the whole verdict as the parser read it.
        self.response_prefix = response_prefix
        # Choice mode: no text is generated; each field of the verdict object is the most likely option.
        self.chooser = chooser

    @property
    def verdict_mode(self) -> str:
        return "choice" if self.chooser is not None else "generate"

    def prompt(self, request: Request) -> Any:
        return self.render(render_messages(self.template, request.pair, request.order, self.labels))

    def prompt_and_prefix(self, request: Request) -> tuple[Any, str]:
        """The prompt sent to the generator and the prefix it ends with (text prompts only: chat messages
        sent to an endpoint cannot end inside the assistant's turn)."""
        prompt = self.prompt(request)
        if self.response_prefix and isinstance(prompt, str):
            return prompt + self.response_prefix, self.response_prefix
        return prompt, ""

    def chunks(self, requests: Sequence[Request]) -> list[list[Request]]:
        """Consecutive requests of one vote index, at most ``chunk_size`` each."""
        out: list[list[Request]] = []
        for request in requests:
            if out and len(out[-1]) < self.chunk_size and out[-1][0].vote == request.vote:
                out[-1].append(request)
            else:
                out.append([request])
        return out

    def run(
        self,
        pairs: Sequence[JudgePair],
        *,
        done: Collection[VoteKey] = (),
        on_votes: Callable[[list[Vote]], None] | None = None,
        progress: ProgressCallback | None = None,
    ) -> list[Vote]:
        """Judge every pair in both orders; returns the new votes (``on_votes`` sees them chunk by chunk).

        ``progress(done, total)`` counts outputs over the whole run, including those done before; it runs
        in the calling thread and may raise to cancel (the current chunk's votes are then not returned)."""
        requests = plan(pairs, self.votes, done)
        total = len(pairs) * len(ORDERS) * self.votes
        finished = total - len(requests)
        new_votes: list[Vote] = []
        for chunk in self.chunks(requests):
            params = replace(self.params, seed=self.params.seed + chunk[0].vote)
            base = finished

            def chunk_progress(n_done: int, _n_total: int, base: int = base) -> None:
                if progress is not None:
                    progress(base + n_done, total)

            if self.chooser is not None:
                votes = self._choose(chunk, chunk_progress)
                if on_votes is not None:
                    on_votes(votes)
                new_votes.extend(votes)
                finished += len(chunk)
                continue
            assert self.generator is not None
            prompts = [self.prompt_and_prefix(r) for r in chunk]
            outputs = self.generator.generate([p for p, _ in prompts], params, progress=chunk_progress)
            if len(outputs) != len(chunk):
                raise RuntimeError(f"the generator returned {len(outputs)} outputs for {len(chunk)} prompts")
            votes = [
                Vote(
                    pair_key=r.pair.key,
                    order=r.order,
                    vote=r.vote,
                    raw=prefix + out.text,
                    parsed=parse_verdict(prefix + out.text, self.labels),
                    finish_reason=out.finish_reason,
                    prompt_tokens=out.prompt_tokens,
                    completion_tokens=out.completion_tokens,
                )
                for r, (_, prefix), out in zip(chunk, prompts, outputs, strict=True)
            ]
            if on_votes is not None:
                on_votes(votes)
            new_votes.extend(votes)
            finished += len(chunk)
        return new_votes

    def _choose(self, chunk: list[Request], progress: ProgressCallback) -> list[Vote]:
        """Choice mode: every field of both orders' verdicts by likelihood; the raw output is the options'
        probabilities (engine/choice.py), so how close each choice was stays visible."""
        assert self.chooser is not None
        prompts = [self.prompt(r) for r in chunk]
        if not all(isinstance(p, str) for p in prompts):
            raise ValueError("choice mode needs text prompts (a local model's chat template or plain prompts)")
        results = self.chooser.choose_text(prompts, choice_steps(self.labels), progress=progress)
        if len(results) != len(chunk):
            raise RuntimeError(f"the chooser returned {len(results)} results for {len(chunk)} prompts")
        votes = []
        for request, result in zip(chunk, results, strict=True):
            raw, parsed = choice_vote(result, self.labels)
            votes.append(
                Vote(
                    pair_key=request.pair.key,
                    order=request.order,
                    vote=request.vote,
                    raw=raw,
                    parsed=parsed,
                    finish_reason="choice",
                    prompt_tokens=result.prompt_tokens,
                    completion_tokens=0,
                )
            )
        return votes
