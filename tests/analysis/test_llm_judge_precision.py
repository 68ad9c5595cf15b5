"""The precision of a local LLM judge: a run computes in what it asked for (by default `fast`: bf16 where the
hardware has it, float32 elsewhere), records the dtype it loaded and why, and shows it on the run page and in
the API; a precision that does not exist is refused before anything is stored."""

from __future__ import annotations

import pytest
import torch
from django.urls import reverse

from analysis.models import LLMJudgeRun, LLMVote
from analysis.services import llm_judging
from analysis.services.llm_judging import JudgeSettings, RunSetupError, create_run
from decoding import device as device_rules
from tests.analysis.test_llm_judge_runs import Reporter
from tests.annotation.helpers import make_session
from tests.generation.synth_helpers import hf_model
from tests.support.tiny_models import tiny_model_dir

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("precision", "dtype"), [("bfloat16", torch.bfloat16), ("float32", torch.float32)])
def test_a_run_judges_in_the_precision_it_asked_for_and_records_it(one_thread, loaded_dtypes, precision, dtype):
    session = make_session(n=3, k=1)
    settings = JudgeSettings(verdict_mode="choice", batch_size=4, precision=precision)
    run = create_run(session, hf_model(tiny_model_dir("llama")), settings=settings, enqueue=False)
    reporter = Reporter()
    result = llm_judging.execute_run(run, reporter)
    run.refresh_from_db()
    assert loaded_dtypes == [dtype]
    assert run.precision == precision and run.dtype_used == f"{precision} (as asked)"
    assert any(line.endswith(f"in {precision} (as asked)") for line in reporter.lines)
    assert result["n_outputs"] == 6 and result["n_unparseable"] == 0
    assert LLMVote.objects.filter(run=run, complete=True).count() == 6


@pytest.mark.parametrize(("native", "dtype"), [(True, torch.bfloat16), (False, torch.float32)])
def test_a_new_run_is_fast_bf16_only_where_the_cpu_has_bf16_instructions(
    one_thread, loaded_dtypes, monkeypatch, native, dtype
):
    monkeypatch.setattr(device_rules, "native_cpu_bf16", lambda: native)
    session = make_session(n=2, k=1)
    run = create_run(
        session, hf_model(tiny_model_dir("llama")), settings=JudgeSettings(verdict_mode="choice"), enqueue=False
    )
    assert run.precision == "fast"
    llm_judging.execute_run(run, Reporter())
    run.refresh_from_db()
    assert loaded_dtypes == [dtype]
    reason = "this CPU has bf16 instructions" if native else "this CPU has no bf16 instructions, so float32"
    assert run.dtype_used == f"{str(dtype).removeprefix('torch.')} (fast: {reason})"


def test_an_unknown_precision_is_refused_with_the_choices_and_nothing_is_stored():
    session = make_session(n=2, k=1)
    with pytest.raises(RunSetupError, match="precision must be one of fast, auto, float32, bfloat16, got 'int4'"):
        create_run(session, hf_model(tiny_model_dir("llama")), settings=JudgeSettings(precision="int4"), enqueue=False)
    assert not LLMJudgeRun.objects.exists()


def test_the_form_offers_the_precisions_and_the_run_page_and_api_show_what_ran(alice_client, monkeypatch):
    session = make_session(n=2, k=1)
    model = hf_model(tiny_model_dir("llama"))
    form = alice_client.get(reverse("analysis:session-llm-runs", args=[session.pk])).content.decode()
    assert 'name="precision"' in form and '<option value="fast">' in form and '<option value="float32">' in form
    response = alice_client.post(
        reverse("analysis:session-llm-start", args=[session.pk]), {"model": model.pk, "precision": "float32"}
    )
    run = LLMJudgeRun.objects.get(session=session)
    assert response.status_code == 302 and run.precision == "float32" and run.dtype_used == ""
    run.dtype_used = "float32 (as asked)"
    run.save(update_fields=["dtype_used"])
    page = alice_client.get(reverse("analysis:llm-run", args=[run.pk])).content.decode()
    assert '<span id="llm-precision">float32: float32 (as asked)</span>' in page
    (row,) = alice_client.get(reverse("api:session-llm-judges", args=[session.pk])).json()["runs"]
    assert row["precision"] == "float32" and row["dtype_used"] == "float32 (as asked)"
    alice_client.post(reverse("analysis:session-llm-start", args=[session.pk]), {"model": model.pk, "precision": "x"})
    assert LLMJudgeRun.objects.count() == 1
