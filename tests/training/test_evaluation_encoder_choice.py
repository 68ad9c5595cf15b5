"""Which BERTScore encoder an evaluation run uses: explicit, the language's default, or Gemma for Japanese."""

from __future__ import annotations

import pytest

from core.models import ModelEntry, ModelKind, ModelRole
from core.services.model_registry import GEMMA_NAME, minilm_dir
from generation.models import Corpus
from tests.support.tiny_models import tiny_model_dir
from tests.training.web_helpers import minilm_entry, tiny_entry
from training.models import EvaluationRun
from training.services.evaluation_runs import GEMMA_BERTSCORE_LAYER, bertscore_encoder, make_scorer


def _run(language: str, **fields) -> EvaluationRun:
    corpus, _ = Corpus.objects.get_or_create(name=f"corpus {language}", language=language)
    base = ModelEntry.objects.filter(name="base").first() or tiny_entry(name="base")
    return EvaluationRun.objects.create(name="r", base_model=base, corpus=corpus, language=language, **fields)


def _gemma() -> ModelEntry:
    # Stands in for the converted Gemma directory (only the path matters here).
    return ModelEntry.objects.create(
        name=GEMMA_NAME,
        kind=ModelKind.GGUF,
        role=ModelRole.QA_BASE,
        language="ja",
        path="/nonexistent/gemma.gguf",
        converted_path=str(tiny_model_dir("llama")),
    )


def test_english_uses_the_registered_minilm_at_layer_6(db):
    minilm_entry()
    choice = bertscore_encoder(_run("en"))
    assert choice.path == str(minilm_dir()) and choice.num_layers == 6


def test_japanese_never_falls_back_to_the_english_encoder(db):
    minilm_entry()
    with pytest.raises(ValueError, match="no BERTScore encoder for language 'ja'"):
        bertscore_encoder(_run("ja"))
    _gemma()
    choice = bertscore_encoder(_run("ja"))
    assert choice.path == str(tiny_model_dir("llama")) and choice.num_layers == GEMMA_BERTSCORE_LAYER
    scorer = make_scorer(_run("ja", bertscore_num_layers=2))
    assert scorer.num_layers == 2 and not scorer.encoder.comparable_with_paper
    assert "not comparable with the paper" in scorer.encoder.note


def test_an_explicit_encoder_and_layer_win(db):
    minilm_entry()
    other = ModelEntry.objects.create(
        name="my encoder", kind=ModelKind.HF, role=ModelRole.BERTSCORE, path=str(tiny_model_dir("llama")), num_layers=1
    )
    assert bertscore_encoder(_run("en", bertscore_model=other)).num_layers == 1
    assert bertscore_encoder(_run("en", bertscore_model=other, bertscore_num_layers=2)).num_layers == 2
