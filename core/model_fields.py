"""Fields every kind of run that loads a local model shares (generation, evaluation, LLM judging): the
precision it asks for and the dtype it got, written once so that the three stay alike, with the one function
that fills the second."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import models

from decoding.lazy import precision_used
from decoding.precision import PRECISIONS


def precision_field(default: str = "auto") -> models.CharField:
    """What a run asks its local model to compute in (decoding.precision; endpoints ignore it)."""
    return models.CharField(
        max_length=16,
        default=default,
        choices=[(name, name) for name in PRECISIONS],
        help_text="A local model's compute precision (decoding.precision.PRECISIONS); endpoints ignore it.",
    )


def dtype_used_field() -> models.CharField:
    """What the model ran in and why ("bfloat16 (fast: this CPU has bf16 instructions)"), set when it loads."""
    return models.CharField(
        max_length=80, blank=True, help_text="The dtype the local model ran in, and why (set when it loads)."
    )


def record_dtype_used(run: models.Model, model: Any, name: str, log: Callable[[str], None]) -> None:
    """Keep on ``run`` (its ``precision`` and ``dtype_used`` fields) what its loaded model computes in and why,
    and say so in the job log."""
    run.dtype_used = precision_used(run.precision, model)  # type: ignore[attr-defined]
    run.save(update_fields=["dtype_used"])
    log(f"loaded {name} in {run.dtype_used}")  # type: ignore[attr-defined]
