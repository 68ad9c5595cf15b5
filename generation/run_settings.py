"""A generation run's settings as one value object (no Django): the form, the admin form, the `generate`
command, experiments and `create_run` all build it through `from_params`, and the run's row stores it (its
columns plus the `synthesis` options) through `column_values()` / `from_run()`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from decoding.precision import precision_problems
from generation.engine.base import SamplingParams
from generation.synthesis import SynthesisOptions
from qasynth_lib.run_params import RunParams

SYNTHESIS_FIELDS = ("rotate_exemplars", "answer_aware", "samples", "round_trip", "round_trip_threshold", "copy_guard")


@dataclass(frozen=True)
class DecodingSettings(RunParams):
    """What every run that drives a model shares (generation runs, LLM judging runs): sampling, batching and how
    many requests an endpoint gets at once. Written once here; each run kind adds its own fields and may give
    these other defaults (a judge writes a short verdict: fewer new tokens)."""

    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    seed: int = 0
    batch_size: int = 8
    concurrency: int = 4
    precision: str = "auto"  # a local model's compute dtype (decoding.precision); endpoints ignore it

    def sampling_params(self, **more: Any) -> SamplingParams:
        """The engine's sampling parameters (raises ValueError naming every bad value)."""
        return SamplingParams(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p, seed=self.seed,
            **more,
        )  # fmt: skip

    def decoding_errors(self, **more: Any) -> list[str]:
        problems = []
        if self.batch_size < 1:
            problems.append("batch size must be at least 1")
        if self.concurrency < 1:
            problems.append("concurrency must be at least 1")
        problems += precision_problems(self.precision)
        try:
            self.sampling_params(**more)
        except ValueError as exc:
            problems.append(str(exc))
        return problems


@dataclass(frozen=True)
class RunSettings(DecodingSettings):
    """Sampling, batching and validation settings of a run (the defaults suit a small instruct model)."""

    # N, the pairs asked for per passage. Stored params from before the rename say n_pairs (runs, templates,
    # experiment settings) or n (the generate command's option): both still load.
    ALIASES: ClassVar[dict[str, str]] = {"n_pairs": "pairs_per_passage", "n": "pairs_per_passage"}

    pairs_per_passage: int = 3
    prompt_mode: str = "auto"
    repetition_penalty: float = 1.0
    # Beyond the paper's method (generation.synthesis); the defaults reproduce the paper.
    rotate_exemplars: bool = False
    answer_aware: bool = False
    samples: int = 1
    round_trip: bool = False
    round_trip_threshold: float = 0.5
    copy_guard: bool = False

    def synthesis_options(self) -> SynthesisOptions:
        return SynthesisOptions(**{name: getattr(self, name) for name in SYNTHESIS_FIELDS})

    def errors(self) -> list[str]:
        problems = self.synthesis_options().errors(temperature=self.temperature)
        if not 1 <= self.pairs_per_passage <= 50:
            problems.append("pairs per passage must be between 1 and 50")
        if self.prompt_mode not in ("auto", "chat", "plain"):
            problems.append("prompt mode must be auto, chat or plain")
        problems += self.decoding_errors(repetition_penalty=self.repetition_penalty)
        return problems

    @classmethod
    def column_names(cls) -> tuple[str, ...]:
        """The fields stored as columns of the run row (the synthesis options go to its `synthesis` field)."""
        return tuple(name for name in cls.field_names() if name not in SYNTHESIS_FIELDS)

    def column_values(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.column_names()}

    @classmethod
    def from_run(cls, run: Any) -> RunSettings:
        """The settings a stored run was created with (its columns and its synthesis options)."""
        options = SynthesisOptions.from_dict(getattr(run, "synthesis", None) or {})
        return cls.from_params(
            {name: getattr(run, name) for name in cls.column_names()},
            **{name: getattr(options, name) for name in SYNTHESIS_FIELDS},
        )
