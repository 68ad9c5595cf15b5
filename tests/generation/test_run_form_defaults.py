"""The new-run form lists only QA generators and starts from the defaults: the default generator and the
language's default template (zero-shot for English, one-shot for Japanese), switching with the corpus."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from core.models import ModelEntry, ModelRole
from core.services.model_registry import ensure_default_models
from generation.models import PromptTemplate
from generation.services.prompt_templates import seed_default_templates
from tests.generation.synth_helpers import make_corpus

pytestmark = pytest.mark.django_db


def options(page: str, name: str) -> list[tuple[str, str, bool]]:
    select = re.search(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S).group(1)
    found = re.findall(r'<option value="([^"]*)"( selected)?>(.*?)</option>', select)
    return [(value, label.strip(), bool(chosen)) for value, chosen, label in found]


def selected(page: str, name: str) -> str:
    return next((value for value, _, chosen in options(page, name) if chosen), "")


@pytest.fixture
def registry():
    ensure_default_models()
    seed_default_templates()
    return {entry.name: entry for entry in ModelEntry.objects.all()}


def test_only_generators_are_offered(alice_client, registry):
    make_corpus("news")
    page = alice_client.get(reverse("generation:run-new")).content.decode()

    offered = {int(value) for value, _, _ in options(page, "generator") if value}
    assert offered == {entry.pk for entry in registry.values() if entry.role == ModelRole.GENERATOR}
    assert all(registry[name].pk not in offered for name in ("all-MiniLM-L6-v2", "SmolLM2-135M-Instruct (LoRA base)"))


def test_an_english_corpus_starts_from_the_default_generator_and_the_zero_shot_template(alice_client, registry):
    corpus = make_corpus("news", language="en")
    page = alice_client.get(reverse("generation:run-new"), {"corpus": corpus.pk}).content.decode()

    assert selected(page, "generator") == str(registry["SmolLM2-135M-Instruct"].pk)
    assert selected(page, "template") == str(PromptTemplate.objects.get(name="en-zero-shot").pk)


def test_a_japanese_corpus_starts_from_the_japanese_generator_and_the_one_shot_template(alice_client, registry):
    corpus = make_corpus("jsquad", language="ja")
    page = alice_client.get(reverse("generation:run-new"), {"corpus": corpus.pk}).content.decode()

    assert selected(page, "generator") == str(registry["Gemma-3-270M (generator)"].pk)
    assert selected(page, "template") == str(PromptTemplate.objects.get(name="ja-one-shot").pk)


def test_without_a_corpus_in_the_url_the_form_still_preselects_and_knows_each_corpus_defaults(alice_client, registry):
    english, japanese = make_corpus("news", language="en"), make_corpus("jsquad", language="ja")
    page = alice_client.get(reverse("generation:run-new")).content.decode()

    assert selected(page, "generator") == str(registry["SmolLM2-135M-Instruct"].pk)
    assert selected(page, "template") == str(PromptTemplate.objects.get(name="en-zero-shot").pk)
    defaults = json.loads(
        re.search(r'<script id="corpus-defaults" type="application/json">(.*?)</script>', page).group(1)
    )
    assert defaults[str(japanese.pk)] == {
        "template": PromptTemplate.objects.get(name="ja-one-shot").pk,
        "generator": registry["Gemma-3-270M (generator)"].pk,
    }
    assert defaults[str(english.pk)]["template"] == PromptTemplate.objects.get(name="en-zero-shot").pk


def test_a_single_corpus_is_preselected(alice_client, registry):
    corpus = make_corpus("only", language="en")
    page = alice_client.get(reverse("generation:run-new")).content.decode()

    assert selected(page, "corpus") == str(corpus.pk)


def test_a_model_of_another_role_is_refused_when_posted(alice_client, registry):
    corpus = make_corpus("news", language="en", passages=["Kyoto was the capital."])
    template = PromptTemplate.objects.get(name="en-zero-shot")
    form = {"corpus": corpus.pk, "generator": registry["all-MiniLM-L6-v2"].pk, "template": template.pk,
            "pairs_per_passage": 3, "prompt_mode": "auto", "temperature": 0, "top_p": 1, "max_new_tokens": 64,
            "repetition_penalty": 1.0,
            "seed": 0, "batch_size": 2, "concurrency": 2}  # fmt: skip

    response = alice_client.post(reverse("generation:run-new"), form)

    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
