"""A finished training run's adapter becomes a model a generation run may choose as its round-trip reader:
one staff click registers it (base model directory, adapter directory, the prompt it was trained with)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import ModelEntry, ModelRole
from core.services import jobs
from core.services.model_registry import load_causal_lm
from training.engine.formatting import default_template
from training.models import TrainingRun
from training.services.readers import ReaderError, reader_name, register_reader


def test_a_trained_adapter_registers_as_a_reader_with_the_prompt_it_learnt(run, in_process):
    assert jobs.run_job(run.job_id, owner="test:1") == "succeeded"
    run.refresh_from_db()

    entry = register_reader(run)

    trained = default_template(run.language)
    assert entry.role == ModelRole.QA_READER and entry.kind == "hf" and entry.name == reader_name(run)
    assert entry.path == run.base_model.path and entry.adapter_path == run.adapter_dir
    assert entry.qa_prompt == {"prompt": trained.prompt, "answer_prefix": trained.answer_prefix}
    assert register_reader(run).pk == entry.pk and ModelEntry.objects.filter(name=entry.name).count() == 1
    model, _ = load_causal_lm(entry)  # the adapter is merged in: no PEFT wrapper left
    assert type(model).__name__ == "LlamaForCausalLM"


def test_a_run_without_an_adapter_cannot_be_a_reader(run):
    with pytest.raises(ReaderError, match="has no adapter yet"):
        register_reader(run)
    assert not ModelEntry.objects.filter(role=ModelRole.QA_READER).exists()


def test_only_staff_register_a_reader_and_only_by_post(client, alice, bob, run, in_process):
    assert jobs.run_job(run.job_id, owner="test:1") == "succeeded"
    url = reverse("training:run-reader", args=[run.pk])
    client.force_login(bob)
    assert client.post(url).status_code == 403
    client.force_login(alice)
    assert client.get(url).status_code == 405
    assert not ModelEntry.objects.filter(role=ModelRole.QA_READER).exists()

    response = client.post(url, follow=True)

    page = response.content.decode()
    assert response.status_code == 200 and "round-trip reader" in page and reader_name(run) in page
    assert ModelEntry.objects.get(role=ModelRole.QA_READER).adapter_path == TrainingRun.objects.get().adapter_dir


def test_a_staff_click_on_an_unfinished_run_says_why_and_registers_nothing(alice_client, run):
    response = alice_client.post(reverse("training:run-reader", args=[run.pk]), follow=True)
    assert "has no adapter yet" in response.content.decode()
    assert not ModelEntry.objects.filter(role=ModelRole.QA_READER).exists()
