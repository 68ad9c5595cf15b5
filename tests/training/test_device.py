from __future__ import annotations

import pytest
import torch

from training.engine.device import resolve_device, resolve_dtype


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_auto_runs_on_cpu_in_float32_without_cuda():
    device = resolve_device("auto")
    assert device.type == "cpu"
    assert resolve_dtype("auto", device) == torch.float32


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_asking_for_cuda_without_cuda_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available"):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_uses_cuda_with_half_precision():
    device = resolve_device("auto")
    assert device.type == "cuda"
    assert resolve_dtype("auto", device) in (torch.bfloat16, torch.float16)


def test_explicit_dtypes_are_checked():
    cpu = torch.device("cpu")
    assert resolve_dtype("bf16", cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="float16 is not supported for training on CPU"):
        resolve_dtype("fp16", cpu)
    with pytest.raises(ValueError, match="unknown dtype"):
        resolve_dtype("int8", cpu)
