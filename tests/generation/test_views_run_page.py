"""The run page shows accepted and rejected pairs beside their passage with counts per reason, and staff
can reject or edit a pair by hand; each change keeps the previous version as a revision."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.models import MANUAL_REASON, PairStatus, SyntheticPair
from tests.generation.synth_helpers import finished_run, make_corpus

pytestmark = pytest.mark.django_db

PASSAGES = ["Kyoto was the capital of Japan for a thousand years.", "Osaka is known for its food and merchants."]


@pytest.fixture
def run():
    return finished_run(make_corpus(passages=PASSAGES))


def test_the_run_page_shows_pairs_beside_the_passage_and_counts_per_reason(alice_client, run):
    html = alice_client.get(run.get_absolute_url()).content.decode()

    assert PASSAGES[0] in html and PASSAGES[1] in html
    assert "What does the passage start with?" in html  # accepted
    assert "Zebediah Quartermaine" in html and "answer not supported by the passage" in html
    assert "not a question: no question form at its end" in html
    assert "2 accepted · 4 rejected by validation · 0 rejected by hand" in html
    assert 'data-job-status-url="/jobs/' in html  # live progress from the job page


def test_the_reason_filter_keeps_only_outputs_with_that_reason(alice_client, run):
    pair = SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).select_related("passage").first()
    from generation.services.generation_runs import reject_pair

    reject_pair(pair, user=None)
    html = alice_client.get(run.get_absolute_url() + f"?reason={MANUAL_REASON}").content.decode()

    assert pair.passage.text in html
    other = [p for p in PASSAGES if p != pair.passage.text][0]
    assert other not in html


def test_rejecting_a_pair_by_hand_keeps_a_revision(alice_client, alice, run):
    pair = SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).first()
    assert not pair.revisions.exists()  # the default: no revisions

    response = alice_client.post(reverse("generation:pair-reject", args=[pair.pk]), {"next": run.get_absolute_url()})

    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    pair.refresh_from_db()
    assert (pair.status, pair.rejection_reason, pair.edited) == (PairStatus.MANUALLY_REJECTED, MANUAL_REASON, False)
    revision = pair.revisions.get()
    assert (revision.status, revision.changed_by, revision.question) == (PairStatus.ACCEPTED, alice, pair.question)


def test_editing_a_pair_changes_its_text_and_keeps_the_old_text(alice_client, alice, run):
    pair = SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).first()
    old_question = pair.question
    url = reverse("generation:pair-edit", args=[pair.pk])

    response = alice_client.post(url, {"question": "Which city was the capital?", "answer": "Kyoto",
                                       "status": PairStatus.ACCEPTED, "note": "clearer"})  # fmt: skip

    assert response.status_code == 302
    pair.refresh_from_db()
    assert (pair.question, pair.answer, pair.edited, pair.status) == (
        "Which city was the capital?",
        "Kyoto",
        True,
        "accepted",
    )
    revision = pair.revisions.get()
    assert (revision.question, revision.note, revision.changed_by) == (old_question, "clearer", alice)
    html = alice_client.get(url).content.decode()
    assert old_question in html and "clearer" in html


def test_saving_unchanged_values_writes_no_revision(alice_client, run):
    pair = SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).first()

    alice_client.post(reverse("generation:pair-edit", args=[pair.pk]),
                      {"question": pair.question, "answer": pair.answer, "status": pair.status})  # fmt: skip

    assert not pair.revisions.exists()


def test_a_validation_rejected_pair_can_be_accepted_by_hand(alice_client, run):
    pair = SyntheticPair.objects.filter(run=run, rejection_reason="answer_not_supported").first()

    alice_client.post(reverse("generation:pair-edit", args=[pair.pk]),
                      {"question": pair.question, "answer": "Kyoto", "status": PairStatus.ACCEPTED})  # fmt: skip

    pair.refresh_from_db()
    assert (pair.status, pair.rejection_reason, pair.answer) == (PairStatus.ACCEPTED, "", "Kyoto")
    assert pair.revisions.get().status == PairStatus.REJECTED


def test_an_empty_answer_is_refused_on_the_form(alice_client, run):
    pair = SyntheticPair.objects.filter(run=run, status=PairStatus.ACCEPTED).first()

    response = alice_client.post(reverse("generation:pair-edit", args=[pair.pk]),
                                 {"question": pair.question, "answer": "   ", "status": "accepted"})  # fmt: skip

    assert response.status_code == 400
    pair.refresh_from_db()
    assert pair.answer != "" and not pair.revisions.exists()


def test_staff_start_a_run_from_the_new_run_page(alice_client):
    from core.models import ModelEntry, ModelKind, ModelRole
    from generation.models import GenerationRun, PromptTemplate

    corpus = make_corpus(passages=PASSAGES, split="train")
    model = ModelEntry.objects.create(name="ep", kind=ModelKind.OPENAI, role=ModelRole.GENERATOR,
                                      base_url="http://127.0.0.1:9/v1", api_model="m")  # fmt: skip
    assert alice_client.get(reverse("generation:run-new") + f"?corpus={corpus.pk}").status_code == 200
    template = PromptTemplate.objects.get(name="en-one-shot")
    form = {"corpus": corpus.pk, "generator": model.pk, "template": template.pk, "pairs_per_passage": 4,
            "prompt_mode": "auto", "temperature": 0.7, "top_p": 0.9, "max_new_tokens": 64,
            "repetition_penalty": 1.0, "seed": 3, "batch_size": 2, "concurrency": 2,
            "split": "train", "limit": 1}  # fmt: skip

    response = alice_client.post(reverse("generation:run-new"), form)

    run = GenerationRun.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert (run.passages_total, run.pairs_per_passage, run.temperature, run.split) == (1, 4, 0.7, "train")
    assert run.template_snapshot["name"] == "en-one-shot" and run.template_snapshot["pairs_per_passage"] == 4
    assert (run.job.kind, run.job.queue, run.job.status) == ("generation", "gpu", "queued")

    form["split"] = "test"
    response = alice_client.post(reverse("generation:run-new"), form)
    assert response.status_code == 400 and "has no passages in split" in response.content.decode()
    assert GenerationRun.objects.count() == 1
