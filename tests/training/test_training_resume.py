from __future__ import annotations

import pytest
import torch
from peft.utils import load_peft_weights

from training.engine.trainer import TrainConfig, TrainingError, latest_checkpoint, train


class WorkerKilled(Exception):
    pass


def _config(model_dir: str, out, **overrides) -> TrainConfig:
    settings = {
        "base_model": model_dir,
        "output_dir": str(out),
        "max_steps": 6,
        "batch_size": 2,
        "gradient_accumulation_steps": 2,
        "learning_rate": 1e-2,
        "checkpoint_every": 2,
        "seed": 7,
        # dropout > 0 makes the result depend on the RNG state, which the checkpoint must restore
        "lora": {"r": 4, "alpha": 8, "dropout": 0.2},
    }
    settings.update(overrides)
    return TrainConfig(**settings)


def _weights(adapter_dir: str) -> dict[str, torch.Tensor]:
    return load_peft_weights(adapter_dir, device="cpu")


def _assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys() and a
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-7, msg=key)


def test_a_killed_worker_resumes_from_the_last_checkpoint_to_the_same_adapter(tiny_dir, qa_set, tmp_path):
    straight = train(_config(tiny_dir, tmp_path / "straight"), qa_set)

    def die_after_step_3(progress):
        if progress.step == 3:
            raise WorkerKilled

    with pytest.raises(WorkerKilled):
        train(_config(tiny_dir, tmp_path / "killed"), qa_set, progress=die_after_step_3)
    assert latest_checkpoint(tmp_path / "killed").name == "step-00000002"

    resumed = train(_config(tiny_dir, tmp_path / "killed"), qa_set)

    assert resumed.resumed_from_step == 2 and resumed.status == "completed"
    _assert_same_weights(_weights(straight.adapter_dir), _weights(resumed.adapter_dir))
    assert [h["loss"] for h in resumed.loss_history] == pytest.approx(
        [h["loss"] for h in straight.loss_history], abs=1e-6
    )


def test_a_cancelled_run_stops_with_a_checkpoint_and_continues_to_the_same_adapter(llama_dir, qa_set, tmp_path):
    straight = train(_config(llama_dir, tmp_path / "straight", checkpoint_every=100), qa_set)
    steps_seen: list[int] = []

    stopped = train(
        _config(llama_dir, tmp_path / "run", checkpoint_every=100),
        qa_set,
        progress=lambda p: steps_seen.append(p.step),
        should_stop=lambda: len(steps_seen) >= 3,
    )
    assert stopped.status == "stopped" and stopped.step == 3 and stopped.adapter_dir is None
    assert stopped.checkpoint_dir.endswith("step-00000003")

    resumed = train(_config(llama_dir, tmp_path / "run", checkpoint_every=100), qa_set)
    assert resumed.resumed_from_step == 3
    _assert_same_weights(_weights(straight.adapter_dir), _weights(resumed.adapter_dir))


def test_only_the_newest_checkpoints_are_kept(llama_dir, qa_set, tmp_path):
    train(_config(llama_dir, tmp_path / "run", max_steps=7, checkpoint_every=2, keep_checkpoints=2), qa_set)
    names = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert names == ["step-00000004", "step-00000006"]


def test_a_checkpoint_from_other_settings_is_refused_with_the_difference_named(llama_dir, qa_set, tmp_path):
    train(_config(llama_dir, tmp_path / "run"), qa_set, should_stop=lambda: True)
    train(_config(llama_dir, tmp_path / "run", max_steps=2), qa_set, should_stop=iter([False, True]).__next__)
    with pytest.raises(TrainingError, match="learning_rate: 0.01 vs 0.001"):
        train(_config(llama_dir, tmp_path / "run", max_steps=2, learning_rate=1e-3), qa_set)
    with pytest.raises(TrainingError, match="different training set"):
        train(_config(llama_dir, tmp_path / "run", max_steps=2), qa_set[:-1])


def test_a_finished_run_is_not_trained_again(llama_dir, qa_set, tmp_path):
    first = train(_config(llama_dir, tmp_path / "run", max_steps=2), qa_set)
    stamp = (tmp_path / "run" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns
    again = train(_config(llama_dir, tmp_path / "run", max_steps=2), qa_set)
    assert again.status == "completed" and again.loss_history == first.loss_history
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").stat().st_mtime_ns == stamp
