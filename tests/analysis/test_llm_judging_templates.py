"""Editable judging templates: staff write one (checked like the shipped ones), pick it on the LLM judge form,
and the run stores a copy, so later edits never change a run; one-click on a local model judges by choice."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from analysis.engine.templates import DEFAULT_TEMPLATES
from analysis.models import JudgingTemplate, LLMJudgeRun
from tests.annotation.helpers import make_session
from tests.generation.synth_helpers import endpoint_model, hf_model

pytestmark = pytest.mark.django_db

INSTRUCTION = (
    "Question: {question}\nAnswer 1: {answer_1}\nAnswer 2: {answer_2}\nLabels:\n{labels}\n"
    'Reply {"answer_1": ..., "answer_2": ..., "preference": "1" | "2" | "tie"}'
)


def test_a_template_missing_a_placeholder_or_named_like_a_default_is_refused():
    with pytest.raises(ValidationError, match=r"must contain \{answer_2\}"):
        JudgingTemplate(name="terse", instruction="Judge {question} {answer_1} {labels}").full_clean()
    with pytest.raises(ValidationError, match="shipped default"):
        JudgingTemplate(name="en-judge", instruction=INSTRUCTION).full_clean()
    JudgingTemplate(name="terse", instruction=INSTRUCTION).full_clean()


def test_staff_pick_an_edited_template_and_the_run_keeps_its_copy(alice_client):
    session = make_session(n=2, k=1)
    endpoint = endpoint_model("http://127.0.0.1:9/v1")
    template = JudgingTemplate.objects.create(name="terse", instruction=INSTRUCTION)
    page = alice_client.get(reverse("analysis:session-llm-runs", args=[session.pk])).content.decode()
    assert 'value="terse"' in page and 'value="en-judge"' in page and 'name="verdict_mode"' in page
    alice_client.post(
        reverse("analysis:session-llm-start", args=[session.pk]), {"model": endpoint.pk, "template": "terse"}
    )
    run = LLMJudgeRun.objects.get(session=session)
    assert run.template_snapshot["instruction"] == INSTRUCTION and run.verdict_mode == "generate"
    template.instruction = INSTRUCTION + "\nBe brief."
    template.save()
    run.refresh_from_db()
    assert run.template_snapshot["instruction"] == INSTRUCTION


def test_an_unknown_template_is_refused_with_a_message(alice_client):
    session = make_session(n=2, k=1)
    endpoint = endpoint_model("http://127.0.0.1:9/v1")
    response = alice_client.post(
        reverse("analysis:session-llm-start", args=[session.pk]), {"model": endpoint.pk, "template": "gone"},
        follow=True,
    )  # fmt: skip
    assert "no judging template named" in response.content.decode()
    assert not LLMJudgeRun.objects.exists()


def test_one_click_with_a_local_model_judges_by_choice_with_the_default_template(alice_client):
    session = make_session(n=2, k=1)
    local = hf_model("/models/tiny")
    alice_client.post(reverse("analysis:session-llm-start", args=[session.pk]), {"model": local.pk})
    run = LLMJudgeRun.objects.get(session=session)
    assert run.verdict_mode == "choice" and run.template_snapshot == DEFAULT_TEMPLATES["en-judge"].to_dict()
