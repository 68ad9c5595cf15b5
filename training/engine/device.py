"""Device and dtype for training: the rules live in `decoding.device` (shared with generation and
evaluation); this module adds the autocast context the training loop needs."""

from __future__ import annotations

import contextlib

import torch

from decoding.device import dtype_name, resolve_device, resolve_dtype

__all__ = ["autocast", "dtype_name", "resolve_device", "resolve_dtype"]


def autocast(device: torch.device, dtype: torch.dtype) -> contextlib.AbstractContextManager[None]:
    """Mixed-precision context for the forward pass; a no-op in float32."""
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)
