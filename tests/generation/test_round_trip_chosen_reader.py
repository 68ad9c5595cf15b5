"""A generation run may choose the model that answers its round trip (e.g. a training run's LoRA adapter)
instead of the generator: the chosen reader is asked in the prompt it was trained with, answers by the
passage span it scores highest, and a reader that cannot serve is refused when the run is created."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from core.models import ModelEntry, ModelKind, ModelRole
from generation import round_trip as rt
from generation.engine.base import GenerationOutput, SamplingParams
from generation.models import SyntheticPair
from generation.prompts import default_template, render_prompt
from generation.services.generation_runs import RunSettings, RunSetupError, create_run, execute_run
from generation.services.prompt_templates import default_template_for
from generation.synthesis import PassageInput, Reader, Renderer, SynthesisOptions, synthesize
from generation.validation import ValidationConfig
from tests.generation.synth_helpers import FakeContext, endpoint_model, hf_model, make_corpus
from tests.generation.test_generation_run_yield import SETTINGS, ScriptedBackend, _corpus
from tests.support.tiny_models import tiny_model_dir

READER_PROMPT = "Read: {context}\nQ: {question}\nA:"
EN = default_template("en", 1)
PASSAGE = "Alice Smith founded the Green Library in 1901 in Oxford."


class RecordingScorer:
    """Prefers the span named by `want`; records every (prompt, continuations) it was asked."""

    def __init__(self, want: str) -> None:
        self.want = want
        self.asked: list[tuple[str, list[str]]] = []

    def __call__(self, items):
        self.asked.extend(items)
        return [[0.0 if self.want in c else -1.0 for c in continuations] for _, continuations in items]


def _generate_questions(prompts, params):
    """A distinct question per answer-aware prompt, none holding its answer (that would be rejected)."""
    return [GenerationOutput(f" What is fact number {i}?", "stop", 10, 5) for i, _ in enumerate(prompts)]


def test_a_trained_reader_is_asked_in_its_own_prompt_and_answers_with_its_own_continuation():
    scorer = RecordingScorer("Alice Smith")
    generator_scorer = RecordingScorer("Oxford")
    renderer = Renderer(lambda t, p: render_prompt(t, p.text, mode="plain"), mode="plain")
    reader = Reader("adapter", scorer, renderer, rt.ReaderPrompt(READER_PROMPT, " ", "</s>"))
    options = SynthesisOptions(answer_aware=True, round_trip=True)
    [result] = synthesize(
        [PassageInput(1, PASSAGE)],
        EN,
        options,
        ValidationConfig.for_language("en"),
        renderer,
        _generate_questions,
        SamplingParams(max_new_tokens=16),
        score=generator_scorer,
        reader=reader,
    )

    assert not generator_scorer.asked  # the generator did not judge its own questions
    assert scorer.asked
    for prompt, continuations in scorer.asked:
        assert prompt.startswith(f"Read: {PASSAGE}\nQ: What is fact number ") and prompt.endswith("?\nA:")
        assert all(c.startswith(" ") and c.endswith("</s>") for c in continuations)
    judged = [p for p in result.pairs if p.round_trip is not None]
    assert judged and all(p.round_trip.model_answer == "Alice Smith" for p in judged)
    assert {p.round_trip.supported for p in judged} == {p.answer == "Alice Smith" for p in judged}


@pytest.mark.parametrize("prompt", ["Q: {question}\nA:", "Context: {context}\nA:", "{context} {question} {x}"])
def test_a_reader_prompt_without_both_placeholders_is_refused_by_name(prompt):
    with pytest.raises(ValueError, match="reader's QA prompt"):
        rt.ReaderPrompt(prompt, " ", "</s>")


def _adapter(path: Path) -> Path:
    """A real (untrained) LoRA adapter of the tiny llama, as PEFT saves one."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir("llama"))
    get_peft_model(base, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"])).save_pretrained(path)
    return path


def _reader_entry(adapter: Path, name: str = "tiny + adapter") -> ModelEntry:
    return ModelEntry.objects.create(
        name=name,
        kind=ModelKind.HF,
        role=ModelRole.QA_READER,
        path=str(tiny_model_dir("llama")),
        adapter_path=str(adapter),
        qa_prompt={"prompt": READER_PROMPT, "answer_prefix": " "},
    )


@pytest.mark.django_db
def test_a_run_with_a_chosen_adapter_reader_judges_every_accepted_pair_by_a_passage_span(tmp_path, client, alice):
    reader = _reader_entry(_adapter(tmp_path / "adapter"))
    corpus = _corpus()
    run = create_run(corpus, endpoint_model("http://127.0.0.1:9/v1"), default_template_for("en", 1),
                     settings=SETTINGS, split="train", enqueue=False, round_trip_reader=reader)  # fmt: skip
    backend = ScriptedBackend()  # writes questions but cannot score: without the reader it would answer in words

    execute_run(run, FakeContext(), backend=backend)

    assert not any(p.rstrip().endswith("Answer:") for p in backend.prompts)  # the generator was not asked
    judged = SyntheticPair.objects.filter(run=run).exclude(round_trip_supported=None).select_related("passage")
    assert judged.exists()
    for pair in judged:
        assert pair.round_trip_answer and pair.round_trip_answer in pair.passage.text
    client.force_login(alice)
    page = client.get(reverse("generation:run-detail", args=[run.pk])).content.decode()
    assert "Round-trip reader" in page and "tiny + adapter" in page


@pytest.mark.django_db
def test_a_reader_that_cannot_serve_is_refused_when_the_run_is_created(tmp_path):
    corpus = make_corpus(passages=[PASSAGE])
    template = default_template_for("en", 1)
    generator = hf_model(tiny_model_dir("llama"))
    adapter_reader = _reader_entry(_adapter(tmp_path / "adapter"))

    with pytest.raises(RunSetupError, match="round-trip filter is off"):
        create_run(corpus, generator, template, settings=RunSettings(), enqueue=False, round_trip_reader=adapter_reader)
    on = RunSettings(round_trip=True)
    endpoint = endpoint_model("http://127.0.0.1:9/v1")
    with pytest.raises(RunSetupError, match="must be a local model"):
        create_run(corpus, generator, template, settings=on, enqueue=False, round_trip_reader=endpoint)
    gone = _reader_entry(tmp_path / "deleted-adapter", name="reader without adapter")
    with pytest.raises(RunSetupError, match="adapter_config.json"):
        create_run(corpus, generator, template, settings=on, enqueue=False, round_trip_reader=gone)
    broken = _reader_entry(tmp_path / "adapter", name="reader with a broken prompt")
    broken.qa_prompt = {"prompt": "Q: {question}", "answer_prefix": " "}
    broken.save()
    with pytest.raises(RunSetupError, match="lacks \\{context\\}"):
        create_run(corpus, generator, template, settings=on, enqueue=False, round_trip_reader=broken)
    assert not corpus.generation_runs.exists()
