"""Sampling settings and generation results shared by the local and the endpoint backends."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

FinishReason = Literal["stop", "length"]
ProgressCallback = Callable[[int, int], None]  # (prompts done, prompts total); may raise to cancel


@dataclass(frozen=True)
class CopyGuard:
    """Words a prompt's completion should not write, their logits lowered by ``penalty``: the tokens of the
    ``avoid`` texts (the one-shot example's questions and answers) that the ``content`` texts (the example's
    passage) also have, and the ``allow`` texts (the passage asked about, the answer, question phrasing) do
    not (compared as text: LocalGenerator.avoided_tokens). A word of an example question that its passage
    lacks is phrasing ("何ですか", "How many"), which any question may use. Local models only: an endpoint's
    token ids are not known here."""

    avoid: tuple[str, ...]
    allow: tuple[str, ...]
    content: tuple[str, ...] = ()  # empty: every avoided token counts as content
    penalty: float = 8.0

    def __post_init__(self) -> None:
        if not 0 <= self.penalty < float("inf"):
            raise ValueError("the copy guard's penalty must be >= 0 and finite")


@dataclass(frozen=True)
class SamplingParams:
    """temperature 0 means greedy decoding (then top_p and seed do not matter)."""

    max_new_tokens: int = 128
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        problems = self.errors()
        if problems:
            raise ValueError("; ".join(problems))

    def errors(self) -> list[str]:
        problems = []
        if self.max_new_tokens < 1:
            problems.append("max_new_tokens must be at least 1")
        if self.temperature < 0:
            problems.append("temperature must be >= 0 (0 = greedy)")
        if not 0 < self.top_p <= 1:
            problems.append("top_p must be in (0, 1]")
        if self.repetition_penalty <= 0:
            problems.append("repetition_penalty must be > 0 (1 = off)")
        if any(not s for s in self.stop):
            problems.append("stop strings must not be empty")
        return problems

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class GenerationOutput:
    text: str  # the completion only, cut before the first stop string
    finish_reason: FinishReason
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """Text before the earliest stop string, and whether one was found."""
    cut = min((i for i in (text.find(s) for s in stop) if i != -1), default=-1)
    return (text[:cut], True) if cut != -1 else (text, False)
