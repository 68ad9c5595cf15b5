"""A stage that needs a GGUF model which no conversion job has converted yet converts it itself, once.

The conversion job queued at first run may not have run when a training or an evaluation starts: no worker
yet, `run_experiment` after `bootstrap --no-jobs`, or a grid whose first stage is the human baseline's
training (when its adapter reads the round trip). Generation already converted on demand; now every stage
does. The conversion itself is replaced by a copy of a tiny model (the real one takes a minute)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from core.models import ModelEntry, ModelKind, ModelRole
from core.services import jobs, model_registry
from generation.models import Corpus
from tests.support.tiny_models import tiny_model_dir
from tests.training.web_helpers import make_dataset, make_eval_corpus
from training.models import EvaluationRun
from training.services.evaluation_runs import GEMMA_BERTSCORE_LAYER, bertscore_encoder, create_evaluation_run
from training.services.training_runs import create_training_run


@pytest.fixture
def conversions(settings, tmp_path, monkeypatch) -> list[Path]:
    """Each (fake) conversion's output directory, in order."""
    settings.DATA_DIR = tmp_path / "data"
    made: list[Path] = []

    def convert(gguf_file: Path, out_dir: Path, *, progress=lambda message: None):
        made.append(out_dir)
        shutil.copytree(tiny_model_dir("llama"), out_dir)
        return model_registry.ConversionResult(out_dir, 0)

    monkeypatch.setattr(model_registry, "convert_gguf", convert)
    return made


def _unconverted(tmp_path: Path, name: str, role: str = ModelRole.QA_BASE) -> ModelEntry:
    gguf = tmp_path / f"{name}.gguf"
    gguf.write_bytes(b"GGUF")
    return ModelEntry.objects.create(name=name, kind=ModelKind.GGUF, role=role, language="en", path=str(gguf))


def test_a_training_on_an_unconverted_model_converts_it_once(db, alice, in_process, conversions, tmp_path):
    base = _unconverted(tmp_path, "tiny-gguf")
    first = create_training_run(base_model=base, dataset=make_dataset(), user=alice, max_steps=1, batch_size=3)
    second = create_training_run(base_model=base, dataset=make_dataset("again"), user=alice, max_steps=1, batch_size=3)

    assert jobs.run_job(first.job_id, owner="test:1") == "succeeded"
    assert jobs.run_job(second.job_id, owner="test:2") == "succeeded"

    base.refresh_from_db()
    assert conversions == [model_registry.converted_dir_for(base)]
    assert base.converted_path == str(conversions[0])
    first.job.refresh_from_db()
    assert "converting tiny-gguf from GGUF once" in first.job.log


def test_an_evaluation_of_an_unconverted_base_model_converts_it(db, alice, in_process, conversions, tmp_path):
    base = _unconverted(tmp_path, "tiny-gguf")
    corpus = make_eval_corpus()
    encoder = ModelEntry.objects.create(
        name="enc", kind=ModelKind.HF, role=ModelRole.BERTSCORE, path=str(tiny_model_dir("llama")), num_layers=1
    )
    run = create_evaluation_run(
        corpus=corpus, base_model=base, user=alice, bertscore_model=encoder, max_items=2, max_new_tokens=4,
        bootstrap_resamples=50,
    )  # fmt: skip

    assert jobs.run_job(run.job_id, owner="test:1") == "succeeded"

    assert conversions == [model_registry.converted_dir_for(base)]
    assert EvaluationRun.objects.get(pk=run.pk).predictions.exists()


def test_japanese_bertscore_converts_gemma_when_no_job_has(db, conversions, tmp_path):
    gemma = _unconverted(tmp_path, model_registry.GEMMA_NAME)
    corpus = Corpus.objects.create(name="ja", language="ja")
    run = EvaluationRun.objects.create(name="r", base_model=gemma, corpus=corpus, language="ja")

    choice = bertscore_encoder(run)

    assert choice.path == str(model_registry.converted_dir_for(gemma)) and choice.num_layers == GEMMA_BERTSCORE_LAYER
    assert len(conversions) == 1
