"""The precisions an inference run may ask for, importable without torch (the web process validates a run's
settings and renders its form, but never loads a model). ``decoding.device.resolve_inference_dtype`` turns
one into a dtype on the worker."""

from __future__ import annotations

PRECISIONS: dict[str, str] = {
    "fast": "fast: bf16 where it is native (CUDA, CPUs with bf16 instructions), else float32",
    "auto": "auto: the device's default (bf16 on CUDA, float32 on CPU), as every other stage",
    "float32": "float32 everywhere (slowest; verdicts reproducible across CPUs)",
    "bfloat16": "bfloat16 everywhere (slow on CPUs without bf16 instructions)",
}
"""Name -> what it means, in the order a form lists them."""


def precision_problems(precision: str) -> list[str]:
    """The settings check every run kind with a precision makes (empty when it is one of PRECISIONS)."""
    if precision in PRECISIONS:
        return []
    return [f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"]
