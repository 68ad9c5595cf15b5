"""LoRA settings and the default target modules per architecture (chosen from `config.model_type`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import torch
    from peft import LoraConfig
    from transformers import PreTrainedModel

# Attention projections that LoRA adapts by default. Fused QKV layers (GPT-NeoX, Falcon, Phi-3) are adapted
# whole; split projections get q and v, as in the LoRA paper.
DEFAULT_TARGET_MODULES: dict[str, tuple[str, ...]] = {
    "gpt_neox": ("query_key_value",),
    "falcon": ("query_key_value",),
    "bloom": ("query_key_value",),
    "llama": ("q_proj", "v_proj"),
    "mistral": ("q_proj", "v_proj"),
    "mixtral": ("q_proj", "v_proj"),
    "qwen2": ("q_proj", "v_proj"),
    "qwen2_moe": ("q_proj", "v_proj"),
    "qwen3": ("q_proj", "v_proj"),
    "qwen3_moe": ("q_proj", "v_proj"),
    "gemma": ("q_proj", "v_proj"),
    "gemma2": ("q_proj", "v_proj"),
    "gemma3": ("q_proj", "v_proj"),
    "gemma3_text": ("q_proj", "v_proj"),
    "smollm3": ("q_proj", "v_proj"),
    "olmo": ("q_proj", "v_proj"),
    "olmo2": ("q_proj", "v_proj"),
    "granite": ("q_proj", "v_proj"),
    "stablelm": ("q_proj", "v_proj"),
    "opt": ("q_proj", "v_proj"),
    "gptj": ("q_proj", "v_proj"),
    "phi": ("q_proj", "v_proj"),
    "phi3": ("qkv_proj",),
    "gpt2": ("c_attn",),
}


@dataclass
class LoraSettings:
    """What the user chooses for LoRA; `target_modules=None` means the default for the model's architecture."""

    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] | None = None
    bias: Literal["none", "all", "lora_only"] = "none"

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError(f"LoRA r must be >= 1, got {self.r}")
        if self.alpha <= 0:
            raise ValueError(f"LoRA alpha must be > 0, got {self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LoRA dropout must be in [0, 1), got {self.dropout}")
        if self.target_modules is not None:
            if isinstance(self.target_modules, str):
                self.target_modules = [m.strip() for m in self.target_modules.split(",") if m.strip()]
            self.target_modules = list(self.target_modules)
            if not self.target_modules:
                raise ValueError("LoRA target_modules is empty; leave it unset to use the architecture default")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LoraSettings:
        return cls(**data)


def default_target_modules(model_type: str) -> list[str] | None:
    """Default LoRA targets for a `config.model_type`, or None when the architecture is not in the table."""
    found = DEFAULT_TARGET_MODULES.get((model_type or "").lower())
    return list(found) if found else None


def _linear_leaf_names(model: torch.nn.Module) -> set[str]:
    import torch

    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


def resolve_target_modules(model: PreTrainedModel, settings: LoraSettings) -> list[str]:
    """The explicit targets, else the table default, else whichever known projection names the model has.

    Every target must name a Linear layer of the model: a typo would otherwise train nothing (PEFT errors
    late and vaguely), so the error here lists the names that do exist.
    """
    model_type = getattr(model.config, "model_type", "")
    targets = settings.target_modules or default_target_modules(model_type)
    leaves = _linear_leaf_names(model)
    if targets is None:
        for candidate in (("q_proj", "v_proj"), ("query_key_value",), ("qkv_proj",), ("c_attn",)):
            if set(candidate) <= leaves:
                targets = list(candidate)
                break
    if targets is None:
        raise ValueError(
            f"no default LoRA target modules for model_type {model_type!r}; set target_modules explicitly "
            f"(linear layers in this model: {', '.join(sorted(leaves))})"
        )
    missing = [t for t in targets if t not in leaves]
    if missing:
        raise ValueError(
            f"LoRA target module(s) {', '.join(missing)} not found in {model_type!r} model; "
            f"linear layers available: {', '.join(sorted(leaves))}"
        )
    return list(targets)


def build_lora_config(model: PreTrainedModel, settings: LoraSettings) -> LoraConfig:
    """A PEFT `LoraConfig` for causal-LM fine-tuning of `model`."""
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=resolve_target_modules(model, settings),
        bias=settings.bias,
    )
