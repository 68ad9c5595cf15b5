"""`manage.py generate` queues a run, or runs it in-process with --now; bad names get a helpful error."""

from __future__ import annotations

import io

import pytest
import torch
from django.core.management import CommandError, call_command

from core.models import Job, JobStatus
from generation.models import GenerationRun, RawOutput
from tests.generation.synth_helpers import hf_model, make_corpus
from tests.support.tiny_models import tiny_model_dir

torch.set_num_threads(1)


@pytest.mark.django_db(transaction=True)
def test_generate_now_runs_the_job_in_this_process():
    corpus = make_corpus("cmd", passages=["Alpha passage.", "Beta passage.", "Gamma passage."])
    hf_model(tiny_model_dir("llama"), name="tiny")
    out = io.StringIO()

    call_command("generate", "--corpus", "cmd", "--model", "tiny", "--n", "2", "--max-new-tokens", "6",
                 "--batch-size", "2", "--limit", "2", "--now", stdout=out)  # fmt: skip

    run = GenerationRun.objects.get()
    assert run.job.status == JobStatus.SUCCEEDED
    assert RawOutput.objects.filter(run=run).count() == 2
    assert f"Generation run #{run.pk}" in out.getvalue() and "succeeded" in out.getvalue()
    assert run.template.name == "en-zero-shot" and run.corpus == corpus


@pytest.mark.django_db
def test_generate_without_now_only_queues_the_job():
    make_corpus("q", passages=["Alpha passage."])
    hf_model(tiny_model_dir("llama"), name="tiny")

    call_command("generate", "--corpus", "q", "--model", "tiny", "--shots", "1", stdout=io.StringIO())

    run = GenerationRun.objects.get()
    assert (run.job.status, run.job.queue, run.template.name) == (JobStatus.QUEUED, "gpu", "en-one-shot")


@pytest.mark.django_db
@pytest.mark.parametrize("option", ["--pairs-per-passage", "--n"])
def test_n_is_given_as_pairs_per_passage_or_by_its_old_option_name(option):
    make_corpus("q", passages=["Alpha passage."])
    hf_model(tiny_model_dir("llama"), name="tiny")

    call_command("generate", "--corpus", "q", "--model", "tiny", option, "5", stdout=io.StringIO())

    run = GenerationRun.objects.get()
    assert run.pairs_per_passage == 5 and run.template_snapshot["pairs_per_passage"] == 5


@pytest.mark.django_db
def test_unknown_names_are_reported_with_what_exists():
    make_corpus("c", passages=["A."])
    hf_model(tiny_model_dir("llama"), name="tiny")

    with pytest.raises(CommandError, match="No model named 'nope'. Registered: tiny"):
        call_command("generate", "--corpus", "c", "--model", "nope")
    with pytest.raises(CommandError, match="No corpus named 'missing'"):
        call_command("generate", "--corpus", "missing")
    with pytest.raises(CommandError, match="has no passages in split 'test'"):
        call_command("generate", "--corpus", "c", "--model", "tiny", "--split", "test")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_round_trip_reader_is_chosen_by_name_and_an_unknown_one_is_reported():
    make_corpus("c", passages=["A."])
    hf_model(tiny_model_dir("llama"), name="tiny")
    reader = hf_model(tiny_model_dir("gpt_neox"), name="tiny reader")

    with pytest.raises(CommandError, match="No model named 'nobody'"):
        call_command("generate", "--corpus", "c", "--model", "tiny", "--round-trip", "--round-trip-reader", "nobody")
    assert not GenerationRun.objects.exists()
    call_command("generate", "--corpus", "c", "--model", "tiny", "--round-trip", "--round-trip-reader", "tiny reader",
                 stdout=io.StringIO())  # fmt: skip

    assert GenerationRun.objects.get().round_trip_reader == reader
