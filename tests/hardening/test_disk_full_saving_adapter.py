"""The disk fills up (or turns read-only) while the final LoRA adapter is being written: the training job
fails with a message that says so, no half-written adapter sits where a good one is expected, the last
checkpoint survives, and a retry resumes from it and saves the adapter.

The fault is injected at the file write itself (safetensors' save_file, which PEFT calls): it writes part
of the file, as a write into a full disk does, then raises the OSError the kernel would give.
"""

from __future__ import annotations

import errno
import os

import peft.peft_model
import pytest

from core.models import Job, JobStatus
from core.services import jobs
from tests.training.web_helpers import make_dataset, tiny_entry
from training.models import TrainingRun
from training.services.training_runs import create_training_run


def _half_written(error_number: int):
    real = peft.peft_model.safe_save_file

    def save_file(tensors, filename, metadata=None):
        if "checkpoints" in str(filename):
            return real(tensors, filename, metadata=metadata)
        with open(filename, "wb") as handle:
            handle.write(b"\x00" * 128)
        raise OSError(error_number, os.strerror(error_number), str(filename))

    return save_file


@pytest.mark.parametrize(
    ("error_number", "expected"),
    [(errno.ENOSPC, "The disk is full while writing"), (errno.EROFS, "Read-only file system")],
)
def test_a_failed_adapter_save_leaves_no_adapter_and_a_retry_resumes_from_the_checkpoint(
    in_process, monkeypatch, error_number, expected
):
    run = create_training_run(
        base_model=tiny_entry(), dataset=make_dataset(), max_steps=6, batch_size=3, checkpoint_every=3,
        learning_rate=1e-2, warmup_ratio=0.0, enqueue=False,
    )  # fmt: skip
    in_process(run.job_id)
    with monkeypatch.context() as patch:
        patch.setattr(peft.peft_model, "safe_save_file", _half_written(error_number))
        assert jobs.run_job(run.job_id, owner="hardening") == JobStatus.FAILED

    job = Job.objects.get(pk=run.job_id)
    assert expected in job.error and "adapter_model.safetensors" in job.error and "retry" in job.error, job.error
    run = TrainingRun.objects.get(pk=run.pk)
    assert run.adapter_dir == "" and not run.has_adapter
    leftovers = [p.name for p in run.output_dir.iterdir() if p.name != "checkpoints"]
    assert leftovers == [], f"half-written adapter files were left: {leftovers}"
    assert (run.output_dir / "checkpoints" / "step-00000003" / "state.json").is_file()

    jobs.retry_job(job)
    assert jobs.run_job(run.job_id, owner="hardening") == JobStatus.SUCCEEDED
    job.refresh_from_db()
    assert job.result["resumed_from_step"] == 3
    run = TrainingRun.objects.get(pk=run.pk)
    assert run.has_adapter and run.steps_done == 6
    assert list(run.loss_points.order_by("step").values_list("step", flat=True)) == [1, 2, 3, 4, 5, 6]
