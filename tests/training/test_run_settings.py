"""Training jobs and evaluation runs each have one settings value object: params in (a form, an experiment's
stored JSON), validated settings out, and back; settings left open take the architecture's defaults."""

from __future__ import annotations

import pytest

from training.run_settings import EvaluationSettings, TrainingSettings


def test_training_settings_survive_the_round_trip_through_their_params():
    settings = TrainingSettings(lora_r=4, target_modules=("q_proj",), max_steps=8, learning_rate=1e-3)

    params = settings.to_params()

    assert params["target_modules"] == ["q_proj"]  # JSON-ready
    assert TrainingSettings.from_params(params) == settings


def test_open_training_settings_take_the_architecture_defaults_and_given_ones_stay():
    gemma = TrainingSettings(max_seq_length=128).resolved("gemma3_text", ["q_proj", "v_proj"])
    generic = TrainingSettings().resolved("llama", None)

    assert (gemma.learning_rate, gemma.max_seq_length, gemma.target_modules) == (1e-4, 128, ("q_proj", "v_proj"))
    assert (generic.learning_rate, generic.max_seq_length, generic.target_modules) == (2e-4, 256, None)


def test_bad_training_settings_are_refused_with_every_problem_named():
    with pytest.raises(ValueError) as caught:
        TrainingSettings(lora_dropout=1.5, device="tpu", learning_rate=0).validated()
    assert "dropout" in str(caught.value) and "device" in str(caught.value) and "learning rate" in str(caught.value)
    with pytest.raises(ValueError, match="unknown setting.*lora_rank"):
        TrainingSettings.from_params({"lora_rank": 4})


def test_evaluation_settings_round_trip_and_refuse_what_cannot_run():
    settings = EvaluationSettings.from_params({"max_items": 24, "batch_size": 12, "bleu_tokenize": "char"})

    assert EvaluationSettings.from_params(settings.to_params()) == settings
    assert settings.bootstrap_resamples == 1000 and settings.bertscore_model_id is None
    with pytest.raises(ValueError, match="max_new_tokens"):
        EvaluationSettings(max_new_tokens=0).validated()


@pytest.mark.django_db
def test_an_experiment_with_a_bad_stored_setting_is_refused_when_created(monkeypatch):
    from core.models import ModelEntry, ModelRole
    from generation.models import Corpus
    from training.services import experiments

    corpus = Corpus.objects.create(name="c", language="en")
    qa_base = ModelEntry.objects.create(name="base", kind="hf", path="/nowhere", role=ModelRole.QA_BASE)
    preset = experiments.PRESETS["small-en"]
    broken = experiments.Preset(**{**preset.__dict__, "training": {**preset.training, "lora_dropout": 2.0}})
    monkeypatch.setitem(experiments.PRESETS, "broken", broken)

    with pytest.raises(experiments.ExperimentError, match="dropout"):
        experiments.create_from_preset("broken", corpus=corpus, qa_base=qa_base)
    assert not experiments.Experiment.objects.exists()


def test_every_presets_generation_settings_validate_and_the_japanese_one_computes_fast():
    """`fast` generated 2.9x faster per accepted pair on JSQuAD with the same yield (README "Precision,
    measured"); the English preset keeps the device's default."""
    from generation.run_settings import RunSettings
    from training.services import experiments

    for preset in experiments.PRESETS.values():
        assert RunSettings.from_params(experiments.generation_options(preset.generation)).errors() == []
    assert experiments.PRESETS["ja-gemma"].generation["precision"] == "fast"
    assert "precision" not in experiments.PRESETS["small-en"].generation
