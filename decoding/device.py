"""Choose the device and the compute dtype: CPU float32 by default, CUDA with bf16 (or fp16) when present.

Training, evaluation and generation all resolve through here, so a CUDA worker runs every stage in half
precision and a CPU worker every stage in float32.
"""

from __future__ import annotations

import torch

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """`auto` picks CUDA when available, else CPU; an explicit CUDA request without CUDA is an error."""
    if isinstance(spec, torch.device):
        return spec
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(spec)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {spec!r} requested but CUDA is not available on this machine")
    return device


def resolve_dtype(spec: str | torch.dtype | None = "auto", device: torch.device | None = None) -> torch.dtype:
    """`auto`: bf16 on CUDA cards that support it, fp16 on older cards, float32 on CPU.

    CPU stays in float32 because bf16 matmuls are slow on most CPUs and the tiny speed-up is not worth the
    precision loss in the LoRA updates.
    """
    if isinstance(spec, torch.dtype):
        return spec
    spec = (spec or "auto").strip().lower()
    device = device or resolve_device("auto")
    if spec == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if spec not in _DTYPES:
        raise ValueError(f"unknown dtype {spec!r}; expected auto, {', '.join(sorted(_DTYPES))}")
    dtype = _DTYPES[spec]
    if device.type == "cpu" and dtype == torch.float16:
        raise ValueError("float16 is not supported for training on CPU; use float32 or bfloat16")
    return dtype


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")
