"""Fields every kind of run that loads a local model shares (generation, evaluation, LLM judging): the
precision it asks for and the dtype it got, written once so that the three stay alike."""

from __future__ import annotations

from django.db import models

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
