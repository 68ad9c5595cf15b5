"""Constructors for the decoding parts that need torch, importing it on first use.

The web process imports the LLM-judging service (to create runs) but never scores anything: building the choice
scorer through here keeps torch and transformers out of that process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from decoding.scoring import ChoiceScorer


def precision_used(spec: str, model: Any) -> str:
    """What a loaded model computes in and why, for a run's record: "bfloat16 (fast: this CPU has bf16
    instructions)"."""
    from decoding.device import dtype_name, resolve_inference_dtype

    parameter = next(model.parameters())
    _, why = resolve_inference_dtype(spec, parameter.device)
    return f"{dtype_name(parameter.dtype)} ({why})"


def choice_scorer(model: Any, tokenizer: Any, *, batch_size: int) -> ChoiceScorer:
    """`ChoiceScorer(model, tokenizer, batch_size=...)`, importing torch only now."""
    from decoding.scoring import ChoiceScorer

    return ChoiceScorer(model, tokenizer, batch_size=batch_size)
