from __future__ import annotations

from training.engine.predict import load_for_inference
from training.engine.trainer import TrainConfig, TrainProgress, dataset_loss, train


def test_training_lowers_the_loss_on_a_small_fixed_dataset(tiny_dir, qa_set, tmp_path):
    config = TrainConfig(
        base_model=tiny_dir,
        output_dir=str(tmp_path / "run"),
        max_steps=20,
        batch_size=3,
        learning_rate=3e-2,
        warmup_ratio=0.0,
        lora={"r": 8, "alpha": 16, "dropout": 0.0},
    )
    base, tokenizer = load_for_inference(tiny_dir)
    before = dataset_loss(base, tokenizer, qa_set, config.template)
    reports: list[TrainProgress] = []

    result = train(config, qa_set, progress=reports.append)

    tuned, tokenizer = load_for_inference(tiny_dir, result.adapter_dir)
    after = dataset_loss(tuned, tokenizer, qa_set, config.template)
    assert result.status == "completed" and result.step == 20
    assert after < before - 0.1, (before, after)
    assert result.loss_history[-1]["loss"] < result.loss_history[0]["loss"]
    assert [r.step for r in reports] == list(range(1, 21))
    assert all(r.total_steps == 20 and r.tokens_per_s > 0 for r in reports)
    assert reports[-1].eta_s == 0 and reports[0].eta_s > 0
    assert [h["step"] for h in result.loss_history] == list(range(1, 21))


def test_epochs_and_gradient_accumulation_set_the_number_of_steps(llama_dir, qa_set, tmp_path):
    config = TrainConfig(
        base_model=llama_dir,
        output_dir=str(tmp_path / "run"),
        epochs=2,
        batch_size=2,
        gradient_accumulation_steps=2,
        learning_rate=1e-3,
    )
    result = train(config, qa_set)
    # 6 items / batch 2 = 3 micro-batches per epoch, 6 in two epochs, 2 per step -> 3 steps
    assert result.total_steps == 3 and result.step == 3
    assert result.target_modules == ["q_proj", "v_proj"]
    assert result.device == "cpu" and result.dtype == "float32"
