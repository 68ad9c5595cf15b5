"""An experiment through its real stages on tiny models, in-process: human dataset, LoRA training, evaluation.

The synthetic dataset is the one stand-in (a tiny random model writes no parsable QA pairs): a fixed set.
The first test fakes the generation job too; the baseline-reader test runs it for real, read by the human
baseline's adapter. Everything else is the real code path.
"""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from core.models import Job, JobStatus, ModelRole
from core.services import jobs
from core.services.jobs import job_handler
from generation.models import Corpus, GenerationRun, Passage, ReferenceQA
from tests.training.web_helpers import make_dataset, make_eval_corpus, minilm_entry, tiny_entry
from training.models import Experiment
from training.services import evaluation_runs, experiments

FAKE_GENERATION = "trainweb.fake_generation"


@job_handler(FAKE_GENERATION, description="Test stand-in for a generation run.")
def fake_generation(ctx) -> dict:
    return {}


@pytest.fixture
def real_generation(settings, monkeypatch, minilm_scorer):
    settings.QASYNTH_HEARTBEAT_SECONDS = 3600
    monkeypatch.setattr(jobs, "publish", lambda job_id: False)
    monkeypatch.setattr(evaluation_runs, "make_scorer", lambda run: minilm_scorer)
    monkeypatch.setattr(experiments, "synthetic_dataset", lambda cell: make_dataset(f"synthetic {cell.label}"))


@pytest.fixture
def in_process(real_generation, monkeypatch):
    monkeypatch.setattr(experiments, "start_generation", lambda cell, reader=None: jobs.create_job(FAKE_GENERATION, {}))


def _tiny_grid(user, **fields) -> Experiment:
    """One synthetic cell (0-shot, N=1) and the human baseline on the tiny corpus, tiny models throughout."""
    corpus = make_eval_corpus()
    values = dict(
        name="tiny grid",
        corpus=corpus,
        qa_base=tiny_entry(),
        generator=tiny_entry("gpt_neox", name="tiny generator"),
        context_sources=[corpus.name],
        shots=[0],
        pairs_per_passage=[1],
        include_human_baseline=True,
        max_concurrent=1,
        created_by=user,
    )
    values.update(fields)
    return Experiment.objects.create(**values)


def test_a_small_grid_trains_and_evaluates_every_cell_and_shows_the_table(alice_client, alice, in_process):
    minilm_entry()
    experiment = _tiny_grid(
        alice,
        include_base_model=True,
        training_settings={"max_steps": 2, "batch_size": 3, "learning_rate": 1e-2},
        evaluation_settings={"max_items": 3, "batch_size": 3, "max_new_tokens": 4, "bootstrap_resamples": 200},
    )
    response = alice_client.post(reverse("training:experiment-launch", args=[experiment.pk]))
    assert response.status_code == 302

    experiments.run_in_process(experiment, log=lambda line: None, poll_s=0.01, timeout_s=600)

    experiment.refresh_from_db()
    assert experiment.status == "succeeded"
    cells = {c.kind: c for c in experiment.cells.select_related("dataset", "training_run", "evaluation_run")}
    human = cells["human"]
    assert human.dataset.source == "human" and human.dataset.examples.count() == 6  # the corpus's train pairs
    assert human.training_run.steps_done == 2 and human.training_run.has_adapter
    assert cells["base"].training_run is None and cells["base"].evaluation_run.training_run is None
    for cell in cells.values():
        assert cell.evaluation_run.predictions.count() == 3 and cell.evaluation_run.metrics["bleu"]
        assert cell.evaluation_run.job.status == JobStatus.SUCCEEDED
    assert not Job.objects.filter(status__in=["queued", "running"]).exists()

    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert "Succeeded" in page and "6 of 6 stage jobs done" in page
    assert page.count("<tr><td><a href=") == 3  # one table row per evaluated cell
    assert "human reference pairs" in page and "base model, no training" in page


def test_the_human_baselines_adapter_reads_the_round_trip_of_a_real_generation_run(alice, real_generation):
    experiment = _tiny_grid(
        alice,
        max_concurrent=2,
        max_passages=2,
        reader_from_baseline=True,
        generation_settings={"round_trip": True, "max_new_tokens": 8},
        training_settings={"max_steps": 1, "batch_size": 3},
        evaluation_settings={"max_items": 2, "batch_size": 2, "max_new_tokens": 4, "bootstrap_resamples": 100},
    )

    experiments.run_in_process(experiment, log=lambda line: None, poll_s=0.01, timeout_s=600)

    experiment.refresh_from_db()
    assert experiment.status == "succeeded"
    human_training = experiment.cells.get(kind="human").training_run
    generation = GenerationRun.objects.select_related("job", "round_trip_reader").get()
    reader = generation.round_trip_reader
    assert reader.role == ModelRole.QA_READER and reader.adapter_path == human_training.adapter_dir
    assert generation.synthesis["round_trip"] is True
    assert generation.job.status == JobStatus.SUCCEEDED and generation.job.created_at > human_training.job.finished_at
    assert f"loading the round-trip reader {reader.name}" in generation.job.log


def test_staff_create_an_experiment_from_a_preset_and_see_its_grid(alice_client, db):
    corpus = make_eval_corpus()
    tiny_entry()
    response = alice_client.post(
        reverse("training:experiment-list"),
        {"preset": "small-en", "name": "mine", "corpus": corpus.pk, "shots": "0, 1", "pairs_per_passage": "3",
         "max_concurrent": 2, "max_steps": 5},
    )  # fmt: skip
    experiment = Experiment.objects.get()
    assert response.status_code == 302 and response["Location"] == experiment.get_absolute_url()
    assert (experiment.shots, experiment.pairs_per_passage, experiment.max_concurrent) == ([0, 1], [3], 2)
    assert experiment.context_sources == [corpus.name] and experiment.training_settings["max_steps"] == 5
    assert experiment.status == "draft" and not experiment.cells.exists()
    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert "Launching creates 3 cells" in page and "1-shot, N=3" in page

    bad = alice_client.post(reverse("training:experiment-list"), {"preset": "small-en", "shots": "2"})
    assert "only 0, 1 are supported" in bad.content.decode() and Experiment.objects.count() == 1


def test_staff_choose_the_human_baselines_adapter_or_a_registered_model_as_round_trip_reader(alice_client, db):
    corpus = make_eval_corpus()
    tiny_entry()
    reader = tiny_entry(name="tiny reader")
    form = {"preset": "small-en", "corpus": corpus.pk, "shots": "1", "pairs_per_passage": "1"}

    alice_client.post(
        reverse("training:experiment-list"), {**form, "name": "baseline", "round_trip_reader": "baseline"}
    )
    alice_client.post(reverse("training:experiment-list"), {**form, "name": "chosen", "round_trip_reader": reader.pk})

    baseline, chosen = Experiment.objects.get(name="baseline"), Experiment.objects.get(name="chosen")
    assert baseline.reader_from_baseline and baseline.round_trip_reader is None
    assert chosen.round_trip_reader == reader and not chosen.reader_from_baseline
    assert baseline.generation_settings["round_trip"] and chosen.generation_settings["round_trip"]
    page = alice_client.get(baseline.get_absolute_url()).content.decode()
    assert "round-trip reader the human baseline's adapter (trained first)" in page
    assert page.index("human baseline</li>") < page.index("1-shot, N=1</li>")  # trained first
    assert "round-trip reader tiny reader" in alice_client.get(chosen.get_absolute_url()).content.decode()


def test_the_command_names_a_reader_it_does_not_know(db):
    with pytest.raises(CommandError, match="No model named 'nobody'"):
        call_command("run_experiment", preset="small-en", round_trip_reader="nobody")
    assert not Experiment.objects.exists()


def test_a_corpus_split_into_train_and_test_is_evaluated_on_test_and_the_form_limits_the_passages(alice_client, db):
    jsquad_like = Corpus.objects.create(name="split by article", language="en")
    for split in ("train", "test"):
        passage = Passage.objects.create(corpus=jsquad_like, text=f"A {split} passage about Paris.", split=split)
        ReferenceQA.objects.create(passage=passage, question="Where?", answers=["Paris"])
    tiny_entry()
    form = {"preset": "small-en", "corpus": jsquad_like.pk}

    alice_client.post(reverse("training:experiment-list"), {**form, "name": "auto", "max_passages": 60})
    alice_client.post(reverse("training:experiment-list"), {**form, "name": "chosen", "eval_split": "validation"})

    auto = Experiment.objects.get(name="auto")
    assert (auto.eval_split, auto.max_passages) == ("test", 60)  # it has no validation pairs
    assert Experiment.objects.get(name="chosen").eval_split == "validation"  # asked for: launch will say why not
    assert experiments.create_from_preset("small-en", corpus=make_eval_corpus()).eval_split == "validation"


def test_the_command_names_a_corpus_it_does_not_know(db):
    with pytest.raises(CommandError, match="No corpus named 'nowhere'"):
        call_command("run_experiment", preset="small-en", corpus="nowhere")
    assert not Experiment.objects.exists()


def test_a_precision_chosen_for_the_grid_reaches_its_generation_and_evaluation_settings(alice_client, db):
    tiny_entry()
    corpus = make_eval_corpus()
    alice_client.post(reverse("training:experiment-list"), {"preset": "small-en", "corpus": corpus.pk, "name": "f",
                                                           "precision": "fast"})  # fmt: skip
    alice_client.post(reverse("training:experiment-list"), {"preset": "small-en", "corpus": corpus.pk, "name": "p"})
    fast, preset = Experiment.objects.get(name="f"), Experiment.objects.get(name="p")
    assert fast.generation_settings["precision"] == fast.evaluation_settings["precision"] == "fast"
    assert "precision" not in preset.generation_settings and "precision" not in preset.evaluation_settings
    with pytest.raises(CommandError, match="invalid choice: 'int8'"):
        call_command("run_experiment", "--preset", "small-en", "--precision", "int8")
    with pytest.raises(ValueError, match="precision must be one of"):
        experiments.create_from_preset("small-en", corpus=corpus, precision="int8")
    assert Experiment.objects.count() == 2
