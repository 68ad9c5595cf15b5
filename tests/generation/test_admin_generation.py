"""Admin: templates are validated, runs start from corpora/passages/the add form, runs resume and cancel."""

from __future__ import annotations

import pytest
from django.urls import reverse

from core.models import JobStatus, ModelEntry, ModelKind, ModelRole
from generation.models import GenerationRun, PromptTemplate
from generation.services.prompt_templates import seed_default_templates
from tests.generation.synth_helpers import make_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture
def generator():
    seed_default_templates()
    return ModelEntry.objects.create(name="ep", kind=ModelKind.OPENAI, role=ModelRole.GENERATOR, is_default=True,
                                     base_url="http://127.0.0.1:9/v1", api_model="m")  # fmt: skip


def test_an_invalid_template_edit_is_refused_with_the_reason(alice_client, generator):
    template = PromptTemplate.objects.get(name="en-zero-shot")
    url = reverse("admin:generation_prompttemplate_change", args=[template.pk])
    form = {"name": template.name, "language": "en", "shots": 0, "pairs_per_passage": 3,
            "instruction": "No placeholder here.",
            "example_pairs": "[]", "passage_label": "Passage:", "style": "qa"}  # fmt: skip

    response = alice_client.post(url, form)

    assert response.status_code == 200
    assert "The instruction must contain the {passage} placeholder" in response.content.decode()
    template.refresh_from_db()
    assert "{passage}" in template.instruction


def test_the_corpus_action_starts_a_run_with_the_default_model_and_template(alice_client, generator):
    corpus = make_corpus(passages=["One.", "Two."])

    response = alice_client.post(reverse("admin:generation_corpus_changelist"),
                                 {"action": "generate_default", "_selected_action": [corpus.pk]})  # fmt: skip

    assert response.status_code == 302
    run = GenerationRun.objects.get()
    assert (run.corpus, run.generator, run.template.name, run.passages_total) == (corpus, generator, "en-zero-shot", 2)
    assert run.job.status == JobStatus.QUEUED


def test_the_passage_action_starts_a_run_on_the_selected_passages_only(alice_client, generator):
    corpus = make_corpus(passages=["One.", "Two.", "Three."])
    chosen = list(corpus.passages.values_list("pk", flat=True))[1:]

    alice_client.post(reverse("admin:generation_passage_changelist"),
                      {"action": "generate_for_selected", "_selected_action": chosen})  # fmt: skip

    run = GenerationRun.objects.get()
    assert sorted(run.selection().values_list("pk", flat=True)) == sorted(chosen)
    assert run.passages_total == 2


def test_the_add_form_creates_a_run_with_its_job(alice_client, generator):
    corpus = make_corpus(passages=["One."])
    template = PromptTemplate.objects.get(name="en-one-shot")
    form = {"name": "from admin", "corpus": corpus.pk, "split": "", "generator": generator.pk, "template": template.pk,
            "pairs_per_passage": 2, "prompt_mode": "auto", "temperature": 0, "top_p": 1, "max_new_tokens": 32,
            "repetition_penalty": 1, "seed": 0, "batch_size": 4, "concurrency": 2, "validation": "{}"}  # fmt: skip

    response = alice_client.post(reverse("admin:generation_generationrun_add"), form)

    run = GenerationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert (run.name, run.pairs_per_passage, run.job.kind) == ("from admin", 2, "generation")


def test_resume_requeues_a_cancelled_run_and_cancel_stops_a_queued_one(alice_client, generator):
    from generation.services.generation_runs import create_run

    corpus = make_corpus(passages=["One."])
    run = create_run(corpus, generator, PromptTemplate.objects.get(name="en-zero-shot"), enqueue=False)
    url = reverse("admin:generation_generationrun_changelist")

    alice_client.post(url, {"action": "cancel_selected", "_selected_action": [run.pk]})
    run.job.refresh_from_db()
    assert run.job.status == JobStatus.CANCELLED

    alice_client.post(url, {"action": "resume_selected", "_selected_action": [run.pk]})
    run.job.refresh_from_db()
    assert run.job.status == JobStatus.QUEUED


def test_the_add_form_refuses_a_split_without_passages(alice_client, generator):
    corpus = make_corpus(passages=["One."], split="train")
    template = PromptTemplate.objects.get(name="en-zero-shot")
    form = {"corpus": corpus.pk, "split": "test", "generator": generator.pk, "template": template.pk,
            "pairs_per_passage": 2, "prompt_mode": "auto", "temperature": 0, "top_p": 1, "max_new_tokens": 32,
            "repetition_penalty": 1,
            "seed": 0, "batch_size": 4, "concurrency": 2, "validation": "{}"}  # fmt: skip

    response = alice_client.post(reverse("admin:generation_generationrun_add"), form)

    assert response.status_code == 200
    assert "has no passages in this split" in response.content.decode()
    assert not GenerationRun.objects.exists()


def test_a_japanese_corpus_gets_the_one_shot_template_by_default(alice_client, generator):
    corpus = make_corpus(language="ja", passages=["琵琶湖は滋賀県にある。"])

    alice_client.post(reverse("admin:generation_corpus_changelist"),
                      {"action": "generate_default", "_selected_action": [corpus.pk]})  # fmt: skip

    assert GenerationRun.objects.get().template.name == "ja-one-shot"
