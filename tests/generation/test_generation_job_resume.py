"""A generation run stopped between batches resumes from the first passage without output, and the
result is the same as an uninterrupted run: no passage generated twice, no pair stored twice."""

from __future__ import annotations

import pytest
import torch

from generation.models import RawOutput, SyntheticPair
from generation.services.generation_runs import (
    LocalBackend,
    RunSettings,
    create_run,
    execute_run,
    pending_passages,
)
from generation.services.prompt_templates import default_template_for
from tests.generation.synth_helpers import FakeContext, hf_model, make_corpus
from tests.support.tiny_models import tiny_model_dir

pytestmark = pytest.mark.django_db
torch.set_num_threads(1)

PASSAGES = [f"Passage number {i} tells about the {word} of the city." for i, word in enumerate(
    ["river", "bridge", "market", "castle", "harbour", "library", "station"])]  # fmt: skip
SETTINGS = RunSettings(pairs_per_passage=2, max_new_tokens=12, batch_size=2)


@pytest.fixture
def tiny_generator():
    return hf_model(tiny_model_dir("llama"))


def _outputs(run) -> dict[int, str]:
    return dict(RawOutput.objects.filter(run=run).values_list("passage_id", "text"))


def test_a_crashed_run_resumes_where_it_stopped_and_matches_an_uninterrupted_run(tiny_generator):
    corpus = make_corpus(passages=PASSAGES)
    template = default_template_for("en", 0)
    run = create_run(corpus, tiny_generator, template, settings=SETTINGS, enqueue=False)

    with pytest.raises(FakeContext.Crash):
        execute_run(run, FakeContext(crash_after_batches=2))
    after_crash = RawOutput.objects.filter(run=run)
    assert after_crash.count() == 4  # two batches of two were committed before the crash
    first_ids = dict(after_crash.values_list("passage_id", "pk"))
    assert pending_passages(run).count() == 3

    ctx = FakeContext()
    result = execute_run(run, ctx)

    outputs = RawOutput.objects.filter(run=run)
    assert outputs.count() == len(PASSAGES) == result["passages_done"]
    assert outputs.values("passage_id").distinct().count() == len(PASSAGES)
    assert {pid: pk for pid, pk in outputs.values_list("passage_id", "pk") if pid in first_ids} == first_ids
    assert any("resuming: 4 of 7" in line for line in ctx.lines)
    assert ctx.reports[-1]["passages_done"] == 7 and ctx.reports[-1]["eta_s"] == 0
    pair_keys = list(SyntheticPair.objects.filter(run=run).values_list("raw_output_id", "index"))
    assert len(pair_keys) == len(set(pair_keys))

    fresh = create_run(corpus, tiny_generator, template, settings=SETTINGS, enqueue=False)
    execute_run(fresh, FakeContext())
    by_passage = _outputs(run)
    assert _outputs(fresh) == by_passage  # greedy decoding: resuming changed nothing


def test_running_a_finished_run_again_generates_nothing(tiny_generator):
    corpus = make_corpus(passages=PASSAGES[:3])
    run = create_run(corpus, tiny_generator, default_template_for("en", 0), settings=SETTINGS, enqueue=False)
    execute_run(run, FakeContext())
    stored = list(RawOutput.objects.filter(run=run).values_list("pk", "text"))

    class NoBackend:
        def render(self, *a):  # pragma: no cover - must not be called
            raise AssertionError("a finished run must not render prompts")

    ctx = FakeContext()
    result = execute_run(run, ctx, backend=NoBackend())

    assert result["passages_done"] == 3
    assert list(RawOutput.objects.filter(run=run).values_list("pk", "text")) == stored


def test_the_stored_prompt_is_the_chat_templated_text(tiny_generator):
    corpus = make_corpus(passages=PASSAGES[:1])
    run = create_run(corpus, tiny_generator, default_template_for("en", 1), settings=SETTINGS, enqueue=False)

    execute_run(run, FakeContext())

    raw = RawOutput.objects.get(run=run)
    assert raw.prompt.startswith("<|im_start|>")
    assert PASSAGES[0] in raw.prompt
    assert "Thames Barrier" in raw.prompt  # the one-shot example
    assert raw.prompt.rstrip().endswith("<|im_start|>assistant")
    assert raw.finish_reason in ("stop", "length") and raw.completion_tokens is not None


def test_a_local_run_tells_its_decoder_how_much_work_is_left(tiny_generator):
    """On CUDA the decoder compiles its static path only when the work pays for it
    (decoding.engine.STATIC_MIN_TOKENS); a run decodes a batch per call, so it announces what remains."""
    corpus = make_corpus(passages=PASSAGES)
    run = create_run(corpus, tiny_generator, default_template_for("en", 0), settings=SETTINGS, enqueue=False)
    with pytest.raises(FakeContext.Crash):
        execute_run(run, FakeContext(crash_after_batches=1))
    ctx = FakeContext()
    backend = LocalBackend(run.generator, run, ctx)
    decoder = backend.generator.decoder
    execute_run(run, ctx, backend=backend)
    assert decoder.expected_new_tokens == (len(PASSAGES) - 2) * SETTINGS.max_new_tokens
