"""The settings of a training job and of an evaluation run, each one value object (no Django).

The training form, the experiment presets (stored as JSON on the Experiment) and `create_training_run` all go
through `TrainingSettings.from_params`; the run row gets `column_values()`. Likewise `EvaluationSettings` for
the evaluation form, `start_evaluation` and `create_evaluation_run`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from decoding.precision import precision_problems
from qasynth_lib.run_params import RunParams

# Settings that depend on the architecture (config.model_type). Target modules come from the engine's table;
# these are the knobs we found worth changing per family. Anything here can be overridden per run.
ARCHITECTURE_DEFAULTS: dict[str, dict[str, Any]] = {
    # Gemma 3's 262k-token vocabulary makes the output layer heavy: keep sequences short on CPU.
    "gemma3_text": {"max_seq_length": 256, "learning_rate": 1e-4},
    "gemma3": {"max_seq_length": 256, "learning_rate": 1e-4},
}
GENERIC_LEARNING_RATE = 2e-4
GENERIC_MAX_SEQ_LENGTH = 256
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class TrainingSettings(RunParams):
    """What a LoRA training job is asked to do. None in learning_rate / max_seq_length means "the
    architecture's default" (`resolved()` fills them in), None in target_modules "the architecture's modules",
    None in max_steps "train for `epochs`". The engine's TrainConfig checks the step and schedule fields again
    when the service builds it, so a bad value fails at creation, not in the worker."""

    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None
    epochs: int = 3
    max_steps: int | None = None
    learning_rate: float | None = None
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_seq_length: int | None = None
    seed: int = 42
    warmup_ratio: float = 0.03
    checkpoint_every: int = 50
    device: str = "auto"
    dtype: str = "auto"

    def __post_init__(self) -> None:
        if self.target_modules is not None and not isinstance(self.target_modules, tuple):
            object.__setattr__(self, "target_modules", tuple(self.target_modules))  # a list from JSON or a form

    def errors(self) -> list[str]:
        problems = []
        if self.lora_r < 1 or self.lora_alpha < 1:
            problems.append("LoRA r and alpha must be at least 1")
        if not 0 <= self.lora_dropout < 1:
            problems.append("LoRA dropout must be in [0, 1)")
        if self.learning_rate is not None and not self.learning_rate > 0:
            problems.append("the learning rate must be positive")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {', '.join(DEVICES)}")
        if self.dtype not in DTYPES:
            problems.append(f"dtype must be one of {', '.join(DTYPES)}")
        return problems

    def resolved(self, model_type: str, default_target_modules: list[str] | None = None) -> TrainingSettings:
        """The settings with the architecture's defaults filled in where they were left open."""
        architecture = ARCHITECTURE_DEFAULTS.get(model_type, {})
        open_values = {
            "learning_rate": architecture.get("learning_rate", GENERIC_LEARNING_RATE),
            "max_seq_length": architecture.get("max_seq_length", GENERIC_MAX_SEQ_LENGTH),
            "target_modules": default_target_modules,
        }
        return replace(self, **{name: value for name, value in open_values.items() if getattr(self, name) is None})

    def column_values(self) -> dict[str, Any]:
        """The run row's setting columns (target_modules as a JSON list, or None)."""
        return self.to_params()


@dataclass(frozen=True)
class EvaluationSettings(RunParams):
    """How an evaluation run answers and scores: None in max_items is every reference pair, in
    bertscore_model_id the registered default encoder for the language, in bertscore_num_layers the encoder
    entry's layer; a blank bleu_tokenize picks the tokenizer by language."""

    max_items: int | None = None
    batch_size: int = 8
    max_new_tokens: int = 48
    bertscore_model_id: int | None = None
    bertscore_num_layers: int | None = None
    bleu_tokenize: str = ""
    bootstrap_resamples: int = 1000
    precision: str = "auto"  # the answering model's compute dtype (decoding.precision); BERTScore stays float32

    def errors(self) -> list[str]:
        problems = precision_problems(self.precision)
        if self.max_items is not None and self.max_items < 1:
            problems.append("max_items must be at least 1 (or blank for every reference pair)")
        if self.batch_size < 1:
            problems.append("batch size must be at least 1")
        if not 1 <= self.max_new_tokens <= 1024:
            problems.append("max_new_tokens must be between 1 and 1024")
        if self.bertscore_num_layers is not None and self.bertscore_num_layers < 1:
            problems.append("the BERTScore layer must be at least 1")
        if self.bootstrap_resamples < 1:
            problems.append("bootstrap resamples must be at least 1")
        return problems
