"""A generation run's precision: a local generator computes in what the run asks for (`auto` by default, the
device's own dtype as before; `fast` for bf16 where the CPU has it), the run records the dtype it loaded and why,
and the form, the command and the run page carry it; a precision that does not exist is refused."""

from __future__ import annotations

import io

import pytest
import torch
from django.core.management import call_command
from django.urls import reverse

from core.models import ModelEntry, ModelKind, ModelRole
from decoding import device as device_rules
from generation.models import GenerationRun, RawOutput
from generation.services.generation_runs import RunSettings, RunSetupError, create_run, execute_run
from generation.services.prompt_templates import default_template_for
from tests.generation.synth_helpers import FakeContext, hf_model, make_corpus
from tests.support.tiny_models import tiny_model_dir

pytestmark = pytest.mark.django_db

PASSAGES = ["The river runs past the old mill.", "The bridge was built of stone in 1850."]


def _run(precision: str | None = None) -> GenerationRun:
    params = {"pairs_per_passage": 1, "max_new_tokens": 8, "batch_size": 2}
    if precision is not None:
        params["precision"] = precision
    settings = RunSettings.from_params(params)
    corpus = make_corpus(passages=PASSAGES)
    model = hf_model(tiny_model_dir("llama"))
    return create_run(corpus, model, default_template_for("en", 0), settings=settings, enqueue=False)


@pytest.mark.parametrize(
    ("precision", "native", "dtype", "why"),
    [
        (None, True, torch.float32, "auto: the device's default"),
        ("fast", True, torch.bfloat16, "fast: this CPU has bf16 instructions"),
        ("fast", False, torch.float32, "fast: this CPU has no bf16 instructions, so float32"),
        ("bfloat16", False, torch.bfloat16, "as asked"),
    ],
)
def test_the_generator_runs_in_the_runs_precision_and_the_run_records_it(
    loaded_dtypes, monkeypatch, precision, native, dtype, why
):
    monkeypatch.setattr(device_rules, "native_cpu_bf16", lambda: native)
    run = _run(precision)
    assert run.precision == (precision or "auto")
    context = FakeContext()
    execute_run(run, context)
    run.refresh_from_db()
    name = str(dtype).removeprefix("torch.")
    assert loaded_dtypes == [dtype]
    assert run.dtype_used == f"{name} ({why})"
    assert any(line == f"loaded tiny-llama in {name} ({why})" for line in context.lines)
    assert RawOutput.objects.filter(run=run).count() == len(PASSAGES)


def test_an_unknown_precision_is_refused_before_anything_is_stored():
    with pytest.raises(RunSetupError, match="precision must be one of fast, auto, float32, bfloat16, got 'fp8'"):
        _run("fp8")
    assert not GenerationRun.objects.exists()


def test_the_form_and_the_command_set_the_precision_and_the_run_page_shows_it(alice_client):
    corpus = make_corpus(name="prec", passages=PASSAGES, split="train")
    endpoint = ModelEntry.objects.create(name="ep", kind=ModelKind.OPENAI, role=ModelRole.GENERATOR,
                                         base_url="http://127.0.0.1:9/v1", api_model="m")  # fmt: skip
    local = hf_model(tiny_model_dir("llama"), name="tiny")
    template = default_template_for("en", 1)
    page = alice_client.get(reverse("generation:run-new") + f"?corpus={corpus.pk}").content.decode()
    assert 'name="precision"' in page and '<option value="fast">' in page
    form = {"corpus": corpus.pk, "generator": local.pk, "template": template.pk, "pairs_per_passage": 1,
            "prompt_mode": "auto", "temperature": 0, "top_p": 1, "max_new_tokens": 8, "repetition_penalty": 1,
            "seed": 0, "batch_size": 2, "concurrency": 1, "split": "train", "precision": "fast"}  # fmt: skip
    assert alice_client.post(reverse("generation:run-new"), form).status_code == 302
    run = GenerationRun.objects.get()
    assert run.precision == "fast"
    run.dtype_used = "bfloat16 (fast: this CPU has bf16 instructions)"
    run.save(update_fields=["dtype_used"])
    html = alice_client.get(run.get_absolute_url()).content.decode()
    assert '<td id="run-precision">fast: bfloat16 (fast: this CPU has bf16 instructions)</td>' in html
    form.update(generator=endpoint.pk)
    alice_client.post(reverse("generation:run-new"), form)
    endpoint_run = GenerationRun.objects.exclude(pk=run.pk).get()
    assert 'id="run-precision"' not in alice_client.get(endpoint_run.get_absolute_url()).content.decode()
    form.update(precision="int4")
    assert alice_client.post(reverse("generation:run-new"), form).status_code == 400
    call_command("generate", "--corpus", "prec", "--model", "tiny", "--precision", "float32", stdout=io.StringIO())
    assert GenerationRun.objects.order_by("-pk").first().precision == "float32"
