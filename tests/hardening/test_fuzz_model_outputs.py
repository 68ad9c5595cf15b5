"""Whatever a model writes (garbage, NUL bytes, broken Unicode, half a JSON list, very long text) is stored:
a generation run parses it into pairs or stores the output with no pairs, and never fails on it; an
evaluation stores and scores the prediction. A byte-level tokenizer can decode a NUL byte and an endpoint
can send "\\u0000" or a lone surrogate escape, so these are model outputs, not only attacks."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.engine.base import GenerationOutput
from generation.models import PairStatus, RawOutput, SyntheticPair
from generation.services.generation_runs import RunSettings, create_run, execute_run
from generation.services.prompt_templates import default_template_for
from tests.generation.synth_helpers import FakeContext, endpoint_model, make_corpus

pytestmark = pytest.mark.django_db

PIECES = ["Q1: ", "A1: ", "Question: ", "Answer: ", "\n", '[{"question": "', '", "answer": "', '"}]', "```json"]
outputs = st.lists(
    st.sampled_from(PIECES)
    | st.text(alphabet=st.sampled_from(["\x00", "\ud800", "\udfff", "a", " ", "日", "?"]), max_size=8)
    | st.text(max_size=30),
    max_size=12,
).map("".join) | st.integers(1, 3).map(lambda n: "Q1: Why?\nA1: moon\n" * 300 * n)


class ScriptedBackend:
    """Answers every prompt of a batch with the next scripted text."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = list(texts)

    def render(self, template, passage):
        from generation.prompts import render_prompt

        return render_prompt(template, passage.text, title=passage.title, mode="chat")

    def generate(self, prompts, params, reporter):
        return [GenerationOutput(self.texts.pop(0), "stop", 5, 5) for _ in prompts]

    def close(self) -> None:
        pass


@pytest.fixture
def world(db):
    corpus = make_corpus(passages=[f"Passage {i} is about the moon and its phases." for i in range(3)])
    return corpus, endpoint_model("http://127.0.0.1:9/v1", name="scripted"), default_template_for("en", 0)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(outputs, min_size=3, max_size=3))
def test_any_model_output_is_stored_with_whatever_pairs_it_holds(world, texts):
    corpus, generator, template = world
    run = create_run(
        corpus, generator, template, settings=RunSettings(pairs_per_passage=3, batch_size=2), enqueue=False
    )

    result = execute_run(run, FakeContext(), backend=ScriptedBackend(texts))

    assert result["passages_done"] == 3
    stored = list(RawOutput.objects.filter(run=run).order_by("passage_id"))
    assert len(stored) == 3
    for raw in stored:
        assert "\x00" not in raw.text
        for pair in SyntheticPair.objects.filter(raw_output=raw):  # an empty half is stored, but never accepted
            assert pair.status != PairStatus.ACCEPTED or (pair.question.strip() and pair.answer.strip())


@pytest.mark.parametrize("bad", ["Q1: Who?\x00\nA1: moon", "Q1: Who?\nA1: moon \ud800"], ids=["nul", "surrogate"])
def test_a_nul_or_broken_unicode_in_the_output_is_replaced_visibly_and_the_pair_kept(world, bad):
    corpus, generator, template = world
    run = create_run(
        corpus, generator, template, settings=RunSettings(pairs_per_passage=1, batch_size=3), enqueue=False
    )

    execute_run(run, FakeContext(), backend=ScriptedBackend([bad] * 3))

    raw = RawOutput.objects.filter(run=run).first()
    assert "\ufffd" in raw.text and "\x00" not in raw.text
    assert SyntheticPair.objects.filter(run=run).count() == 3


def test_an_evaluation_prediction_with_a_nul_byte_is_stored_and_scored(in_process, monkeypatch):
    import training.engine.predict as predict
    from core.services import jobs
    from tests.training.web_helpers import make_eval_corpus, minilm_entry, tiny_entry
    from training.services.evaluation_runs import create_evaluation_run

    minilm_entry()
    run = create_evaluation_run(
        corpus=make_eval_corpus(),
        base_model=tiny_entry(),
        split="validation",
        max_items=3,
        max_new_tokens=4,
        enqueue=False,
    )
    in_process(run.job_id)
    real = predict.iter_predictions

    def with_nul(*args, **kwargs):
        for batch in real(*args, **kwargs):
            yield [
                predict.Prediction(**{**p.__dict__, "prediction": "Fuji\x00", "raw_output": "Fuji\x00 \ud800"})
                for p in batch
            ]

    monkeypatch.setattr(predict, "iter_predictions", with_nul)
    assert jobs.run_job(run.job_id, owner="hardening") == "succeeded", run.job.error
    stored = list(run.predictions.order_by("item_index"))
    assert len(stored) == 3 and all(p.bertscore_f1 is not None for p in stored)
    assert all("\x00" not in p.prediction and "\x00" not in p.raw_output for p in stored)
