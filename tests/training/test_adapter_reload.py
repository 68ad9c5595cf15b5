from __future__ import annotations

import json

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from training.engine.predict import training_template
from training.engine.trainer import TrainConfig, train


def test_the_saved_adapter_reloads_with_peft_and_reproduces_the_trained_model(tiny_dir, qa_set, tmp_path):
    config = TrainConfig(
        base_model=tiny_dir, output_dir=str(tmp_path / "run"), max_steps=3, batch_size=3, learning_rate=5e-2
    )
    result = train(config, qa_set)

    base = AutoModelForCausalLM.from_pretrained(tiny_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    inputs = tokenizer(["Paris is the capital of France."], return_tensors="pt")
    with torch.no_grad():
        plain = base(**inputs).logits
    model = PeftModel.from_pretrained(base, result.adapter_dir)
    model.eval()
    with torch.no_grad():
        adapted = model(**inputs).logits

    adapter_config = json.loads((tmp_path / "run" / "adapter" / "adapter_config.json").read_text())
    assert adapter_config["peft_type"] == "LORA"
    assert adapter_config["base_model_name_or_path"] == tiny_dir
    assert not torch.allclose(plain, adapted), "the trained adapter must change the model's output"
    assert training_template(result.adapter_dir) == config.template
