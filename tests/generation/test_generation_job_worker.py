"""A generation run goes through the real worker: a tiny local HF model, batched, with live progress."""

from __future__ import annotations

import pytest

from core.models import JobStatus
from generation.models import GenerationRun, RawOutput
from generation.services.generation_runs import RunSettings, create_run
from generation.services.prompt_templates import default_template_for
from tests.generation.synth_helpers import hf_model, make_corpus
from tests.support.tiny_models import tiny_model_dir

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def test_a_generation_job_on_a_tiny_local_model_stores_every_output(worker, wait):
    corpus = make_corpus(passages=[f"Passage {i} is about topic number {i}." for i in range(5)])
    generator = hf_model(tiny_model_dir("gpt_neox"), name="tiny-gpt-neox")
    run = create_run(
        corpus, generator, default_template_for("en", 0),
        settings=RunSettings(pairs_per_passage=2, max_new_tokens=8, batch_size=2), limit=4,
    )  # fmt: skip
    assert run.job.kind == "generation" and run.job.queue == "gpu"

    job = wait(lambda: _finished(run), timeout=120, what="the generation job to finish")

    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{job.log[-2000:]}"
    outputs = RawOutput.objects.filter(run=run)
    assert outputs.count() == 4  # the limit: the first four passages by id
    assert set(outputs.values_list("passage_id", flat=True)) == set(run.selection().values_list("pk", flat=True))
    assert all(o.prompt.startswith("<|im_start|>") for o in outputs)
    assert (job.progress_done, job.progress_total) == (4, 4)
    for key in ("passages_done", "pairs_accepted", "pairs_rejected", "pairs_per_s", "eta_s"):
        assert key in job.progress_data
    assert job.result["passages_done"] == 4


def _finished(run: GenerationRun):
    job = GenerationRun.objects.select_related("job").get(pk=run.pk).job
    return job if job.is_finished else None
