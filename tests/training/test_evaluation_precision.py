"""An evaluation's precision: the answering model loads in what the run asks for (`auto` by default: the
device's own dtype, float32 on a CPU; `fast` for bf16 where the CPU has it), the run records it and its page
shows it; BERTScore's encoder is not affected; a precision that does not exist is refused."""

from __future__ import annotations

import pytest
import torch
from django.urls import reverse

import training.engine.predict as predict
from core.services import jobs
from decoding import device as device_rules
from tests.training.web_helpers import make_eval_corpus, minilm_entry, tiny_entry
from training.models import EvaluationRun
from training.services.evaluation_runs import create_evaluation_run


@pytest.fixture
def loaded_dtypes(monkeypatch):
    seen: list[torch.dtype] = []
    real = predict.load_for_inference

    def spying(*args, **kwargs):
        model, tokenizer = real(*args, **kwargs)
        seen.append(next(model.parameters()).dtype)
        return model, tokenizer

    monkeypatch.setattr(predict, "load_for_inference", spying)
    return seen


@pytest.mark.parametrize(
    ("precision", "dtype", "why"),
    [
        (None, torch.float32, "auto: the device's default"),
        ("fast", torch.bfloat16, "fast: this CPU has bf16 instructions"),
    ],
)
def test_the_model_answers_in_the_runs_precision_and_the_run_records_it(
    db, alice, in_process, loaded_dtypes, monkeypatch, precision, dtype, why
):
    monkeypatch.setattr(device_rules, "native_cpu_bf16", lambda: True)
    minilm_entry()
    extra = {} if precision is None else {"precision": precision}
    run = create_evaluation_run(
        corpus=make_eval_corpus(), base_model=tiny_entry(), split="validation", user=alice,
        batch_size=2, max_new_tokens=4, **extra,
    )  # fmt: skip
    assert jobs.run_job(run.job_id, owner="test") == "succeeded"
    run.refresh_from_db()
    name = str(dtype).removeprefix("torch.")
    assert loaded_dtypes == [dtype]
    assert run.precision == (precision or "auto") and run.dtype_used == f"{name} ({why})"
    assert run.predictions.count() == 5 and run.metrics["bertscore_f1"]["value"] is not None


def test_an_unknown_precision_is_refused_before_anything_is_stored(db, alice):
    with pytest.raises(ValueError, match="precision must be one of fast, auto, float32, bfloat16, got 'int8'"):
        create_evaluation_run(
            corpus=make_eval_corpus(), base_model=tiny_entry(), split="validation", user=alice, precision="int8"
        )
    assert not EvaluationRun.objects.exists()


def test_the_form_offers_the_precision_and_the_page_shows_it(alice_client):
    page = alice_client.get(reverse("training:evaluation-create")).content.decode()
    assert 'name="precision"' in page and '<option value="fast">' in page
    run = EvaluationRun.objects.create(
        name="e", base_model=tiny_entry(), corpus=make_eval_corpus(), precision="fast",
        dtype_used="bfloat16 (fast: this CPU has bf16 instructions)",
    )  # fmt: skip
    html = alice_client.get(reverse("training:evaluation-detail", args=[run.pk])).content.decode()
    assert '<span id="eval-precision">fast: bfloat16 (fast: this CPU has bf16 instructions)</span>' in html
