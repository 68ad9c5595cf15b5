"""A generation run's settings are one value object: params in, validated settings out, and back; N is called
pairs_per_passage everywhere, and params or rows stored under its old names (n_pairs, n) still load."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from generation.models import GenerationRun, PromptTemplate
from generation.prompts import PromptTemplate as EnginePromptTemplate
from generation.run_settings import RunSettings

# core's ModelEntry as it was then too: its later columns have no database default for old-state inserts.
BEFORE_RENAME = [("generation", "0004_yield_options"), ("core", "0001_initial")]


def test_settings_survive_the_round_trip_through_their_params():
    settings = RunSettings(pairs_per_passage=5, temperature=0.7, samples=2, round_trip=True, batch_size=3)

    assert RunSettings.from_params(settings.to_params()) == settings
    assert settings.to_params()["pairs_per_passage"] == 5 and "n_pairs" not in settings.to_params()


@pytest.mark.parametrize("old_name", ["n_pairs", "n"])
def test_params_stored_under_an_old_name_for_n_still_load(old_name):
    assert RunSettings.from_params({old_name: 4, "seed": 2}) == RunSettings(pairs_per_passage=4, seed=2)


def test_the_current_name_wins_over_an_old_one_in_the_same_params():
    assert RunSettings.from_params({"n_pairs": 4, "pairs_per_passage": 2}).pairs_per_passage == 2


def test_a_blank_value_takes_the_default_and_an_unknown_name_is_refused_by_name():
    assert RunSettings.from_params({"samples": None, "temperature": None}) == RunSettings()
    with pytest.raises(ValueError, match="unknown setting.*pairs_per_pasage"):
        RunSettings.from_params({"pairs_per_pasage": 3})


def test_validated_names_every_problem_at_once():
    with pytest.raises(ValueError) as caught:
        RunSettings(pairs_per_passage=0, batch_size=0, prompt_mode="odd").validated()
    message = str(caught.value)
    assert "pairs per passage" in message and "batch size" in message and "prompt mode" in message
    assert RunSettings(pairs_per_passage=50).validated() == RunSettings(pairs_per_passage=50)


def test_a_template_snapshot_frozen_before_the_rename_still_renders_n():
    old = {"name": "t", "language": "en", "shots": 0, "n_pairs": 4, "instruction": "Write {n} for {passage}."}

    template = EnginePromptTemplate.from_dict(old)

    assert template.pairs_per_passage == 4 and "n_pairs" not in template.to_dict()


@pytest.mark.django_db(transaction=True)
def test_runs_and_templates_stored_with_n_pairs_migrate_to_pairs_per_passage():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BEFORE_RENAME)
    try:
        executor.loader.build_graph()
        apps = executor.loader.project_state(BEFORE_RENAME).apps
        Job = apps.get_model("core", "Job")
        ModelEntry = apps.get_model("core", "ModelEntry")
        Corpus = apps.get_model("generation", "Corpus")
        Template = apps.get_model("generation", "PromptTemplate")
        Run = apps.get_model("generation", "GenerationRun")
        corpus = Corpus.objects.create(name="old-corpus", language="en")
        generator = ModelEntry.objects.create(name="old-generator", kind="hf", path="/nowhere")
        template = Template.objects.create(name="old-template", n_pairs=4, instruction="Write {n}: {passage}")
        snapshot = {"name": "old-template", "language": "en", "shots": 0, "n_pairs": 4, "instruction": "{passage}"}
        run = Run.objects.create(
            job=Job.objects.create(kind="generation", title="old run"), corpus=corpus, generator=generator,
            template=template, template_snapshot=snapshot, n_pairs=4, temperature=0.5, synthesis={"samples": 2},
        )  # fmt: skip
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)

    stored = GenerationRun.objects.get(pk=run.pk)
    assert PromptTemplate.objects.get(name="old-template").pairs_per_passage == 4
    assert stored.template_snapshot["pairs_per_passage"] == 4 and "n_pairs" not in stored.template_snapshot
    assert RunSettings.from_run(stored) == RunSettings(pairs_per_passage=4, temperature=0.5, samples=2)
    assert EnginePromptTemplate.from_dict(stored.template_snapshot).pairs_per_passage == 4
