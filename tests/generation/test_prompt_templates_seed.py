"""The shipped en/ja zero-/one-shot templates are seeded once as editable rows; edits are never reset."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from generation.models import PromptTemplate
from generation.prompts import DEFAULT_TEMPLATES
from generation.services.prompt_templates import default_template_for, seed_default_templates

pytestmark = pytest.mark.django_db


def test_seeding_creates_the_four_defaults_once_and_keeps_edits():
    assert seed_default_templates() == len(DEFAULT_TEMPLATES) == 4
    row = PromptTemplate.objects.get(name="ja-one-shot")
    assert (row.language, row.shots, row.style) == ("ja", 1, "ja")
    assert row.as_engine() == DEFAULT_TEMPLATES["ja-one-shot"]
    row.instruction = "{passage}\n質問を{n}個。"
    row.save()

    assert seed_default_templates() == 0
    assert PromptTemplate.objects.count() == 4
    assert PromptTemplate.objects.get(name="ja-one-shot").instruction == "{passage}\n質問を{n}個。"


def test_bootstrap_seeds_the_templates():
    from firstrun.bootstrap import run_bootstrap

    run_bootstrap(with_jobs=False)

    assert set(PromptTemplate.objects.values_list("name", flat=True)) == set(DEFAULT_TEMPLATES)


def test_the_default_for_a_language_falls_back_to_english():
    assert default_template_for("ja", 1).name == "ja-one-shot"
    assert default_template_for("de", 0).name == "en-zero-shot"


def test_a_template_without_the_passage_placeholder_does_not_validate():
    template = PromptTemplate(name="bad", instruction="Write {n} questions.", shots=1, example_pairs=[["q", "a"]])

    with pytest.raises(ValidationError) as caught:
        template.full_clean()

    message = str(caught.value)
    assert "{passage}" in message and "example passage" in message
