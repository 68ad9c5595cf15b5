"""A generation run with the yield options (exemplar rotation, answer-aware, k samples, round trip): what it
stores, that a resumed run keeps the exemplars and samples it stored, and the yield report on the run page
and in the experiment table."""

from __future__ import annotations

import pytest
from django.urls import reverse

from generation.exemplars import ExemplarPool
from generation.models import PairStatus, Passage, RawOutput, ReferenceQA, SyntheticPair
from generation.prompts import render_prompt
from generation.services.generation_runs import RunSettings, RunSetupError, create_run, execute_run
from generation.services.prompt_templates import default_template_for
from generation.services.yield_report import yield_report
from tests.generation.synth_helpers import FakeContext, endpoint_model, hf_model, make_corpus

pytestmark = pytest.mark.django_db

TRAIN = [
    "Alice Smith founded the Green Library in 1901 in Oxford.",
    "The Blue River flows past Dover and reaches the North Sea.",
    "Robert Brown built the Old Mill near Leeds in 1850.",
    "The Red Tower stands in Bristol and opened in 1932.",
    "Mary Jones wrote the Winter Book in London in 1880.",
]
EVAL = ["EVALUATION passage: the Silver Bridge crosses the Avon at Bath since 1770."]


class ScriptedBackend:
    """Completion-prompt backend with scripted behaviour: an answer-aware prompt for answer X gets
    "Which item is X?", and the round-trip QA prompt answers it with X when X is a capitalised name and
    with "unknown" otherwise, so numbers fail the round trip."""

    mode = "plain"

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def render(self, template, passage):
        return render_prompt(template, passage.text, title=passage.title, mode="plain")

    def generate(self, prompts, params, reporter):
        from generation.engine.base import GenerationOutput

        outputs = []
        for prompt in prompts:
            self.prompts.append(prompt.text)
            lines = prompt.text.rstrip().splitlines()
            if lines[-1] == "Answer:":
                asked = lines[-2].removeprefix("Question: Which item is ").rstrip("?")
                outputs.append(GenerationOutput(f" {asked if asked[:1].isupper() else 'unknown'}", "stop", 50, 3))
            else:
                answer = lines[-2].removeprefix("Answer: ")
                outputs.append(GenerationOutput(f" Which item is {answer}?", "stop", 50, 6))
        return outputs

    def close(self) -> None:
        pass


def _corpus():
    corpus = make_corpus(passages=TRAIN, split="train", qas={i: [(f"What is in passage {i}?", TRAIN[i].split()[0])]
                                                             for i in range(len(TRAIN))})  # fmt: skip
    evaluation = Passage.objects.create(corpus=corpus, text=EVAL[0], title="E", split="validation")
    ReferenceQA.objects.create(passage=evaluation, question="What crosses the Avon?", answers=["the Silver Bridge"])
    return corpus


SETTINGS = RunSettings(
    pairs_per_passage=2, batch_size=2, rotate_exemplars=True, answer_aware=True, samples=2, round_trip=True
)


def test_a_resumed_run_keeps_the_exemplars_and_samples_it_stored():
    corpus = _corpus()
    generator = endpoint_model("http://127.0.0.1:9/v1")
    run = create_run(corpus, generator, default_template_for("en", 1), settings=SETTINGS, split="train", enqueue=False)
    pool = ExemplarPool.from_list(run.exemplar_pool, seed=run.seed)
    assert run.synthesis["answer_aware"] and len(pool.references) == len(TRAIN)
    assert all(e.split == "train" and "EVALUATION" not in e.passage for e in pool.references)

    with pytest.raises(FakeContext.Crash):
        execute_run(run, FakeContext(crash_after_batches=1), backend=ScriptedBackend())
    first = {o.passage_id: (o.pk, o.exemplar, o.samples) for o in RawOutput.objects.filter(run=run)}
    assert 0 < len(first) < len(TRAIN)  # one batch (4 passages for an endpoint: max(batch, concurrency))
    # human pairs added after the run was created do not join its frozen pool
    ReferenceQA.objects.create(passage=Passage.objects.get(text=TRAIN[0]), question="Who?", answers=["Alice Smith"])

    execute_run(run, FakeContext(), backend=ScriptedBackend())

    outputs = list(RawOutput.objects.filter(run=run).select_related("passage"))
    assert len(outputs) == len(TRAIN)
    for output in outputs:
        if output.passage_id in first:
            assert (output.pk, output.exemplar, output.samples) == first[output.passage_id]
        assert output.exemplar == pool.draw(output.passage_id, output.passage.text, output.passage.title).to_dict()
        assert output.exemplar["source"] != f"reference:{output.passage_id}"
        assert "EVALUATION" not in output.exemplar["passage"]
        assert 1 <= len(output.samples) <= 4  # one completion per picked answer (k x N at most)
        assert all(
            s["answer"] in output.passage.text and s["text"].startswith(" Which item is") for s in output.samples
        )


def test_round_trip_verdicts_and_the_yield_report_are_stored_and_shown(client, django_user_model):
    corpus = _corpus()
    run = create_run(corpus, endpoint_model("http://127.0.0.1:9/v1"), default_template_for("en", 1),
                     settings=SETTINGS, split="train", enqueue=False)  # fmt: skip
    execute_run(run, FakeContext(), backend=ScriptedBackend())

    pairs = SyntheticPair.objects.filter(run=run)
    unsupported = pairs.filter(rejection_reason="round_trip")
    assert unsupported.exists() and all(p.round_trip_answer == "unknown" for p in unsupported)
    accepted = pairs.filter(status=PairStatus.ACCEPTED)
    assert accepted.exists() and all(p.round_trip_supported and p.round_trip_score == 1.0 for p in accepted)
    assert all(accepted.filter(passage=p).count() <= 2 for p in corpus.passages.all())  # best N kept

    report = yield_report(run)
    assert report.passages_done == len(TRAIN)
    assert report.accepted == accepted.count()
    assert report.passages_with_pair == accepted.values("passage").distinct().count()
    assert report.round_trip_checked == report.round_trip_supported == report.accepted
    assert report.method == "exemplar rotation, answer-aware, k=2 samples, round trip >= 0.5"

    client.force_login(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    page = client.get(reverse("generation:run-detail", args=[run.pk])).content.decode()
    assert "Passages with ≥ 1 accepted pair" in page and "answer not supported (round trip)" in page
    assert "deviates from the paper" in page and "round trip: model answered" in page


def test_the_paper_method_stores_the_fixed_example_and_counts_exemplar_copies():
    corpus = _corpus()
    template = default_template_for("en", 1)

    class EchoBackend(ScriptedBackend):
        def generate(self, prompts, params, reporter):
            from generation.engine.base import GenerationOutput

            echo = " In which part of London is the Thames Barrier?\nA1: east London"
            return [GenerationOutput(echo, "stop", 50, 9) for _ in prompts]

    run = create_run(corpus, endpoint_model("http://127.0.0.1:9/v1"), template,
                     settings=RunSettings(pairs_per_passage=1, batch_size=4), split="train", enqueue=False)  # fmt: skip
    assert run.synthesis == {} and run.exemplar_pool == []
    execute_run(run, FakeContext(), backend=EchoBackend())
    output = RawOutput.objects.filter(run=run).first()
    assert output.exemplar["source"] == "template" and "Thames Barrier" in output.exemplar["passage"]
    assert output.samples == []  # one completion: it is the output's text
    report = yield_report(run)
    assert report.outputs_copying_exemplar == report.passages_done == len(TRAIN)
    assert report.passages_with_pair == 0 and report.method == "paper's method"


def test_bad_option_combinations_are_refused_with_a_reason():
    corpus = _corpus()
    generator = endpoint_model("http://127.0.0.1:9/v1")
    with pytest.raises(RunSetupError, match="temperature above 0"):
        create_run(corpus, generator, default_template_for("en", 1), settings=RunSettings(samples=3), enqueue=False)
    with pytest.raises(RunSetupError, match="one-shot template"):
        create_run(corpus, generator, default_template_for("en", 0), settings=RunSettings(rotate_exemplars=True),
                   enqueue=False)  # fmt: skip


class ScoringBackend(ScriptedBackend):
    """A local-model-like backend: it can score continuations, so the run's round trip is extractive. It
    prefers the span the question asks about when that is a capitalised name, and "1901"-style years never."""

    def __init__(self) -> None:
        super().__init__()
        self.scored: list[tuple[str, list[str]]] = []

    def generate(self, prompts, params, reporter):
        assert not any(p.text.rstrip().endswith("Answer:") for p in prompts), "a scorer must answer by spans"
        return super().generate(prompts, params, reporter)

    def score(self, items):
        self.scored.extend(items)
        out = []
        for prompt, continuations in items:
            asked = prompt.rstrip().splitlines()[-2].removeprefix("Question: Which item is ").rstrip("?")
            want = asked if asked[:1].isupper() else ""
            out.append([0.0 if c.strip() == want else -1.0 - i for i, c in enumerate(continuations)])
        return out


def test_a_backend_that_scores_answers_the_round_trip_with_passage_spans():
    corpus = _corpus()
    run = create_run(corpus, endpoint_model("http://127.0.0.1:9/v1"), default_template_for("en", 1),
                     settings=SETTINGS, split="train", enqueue=False)  # fmt: skip
    backend = ScoringBackend()
    execute_run(run, FakeContext(), backend=backend)

    assert backend.scored  # the round trip went through the scorer, not a written answer
    pairs = SyntheticPair.objects.filter(run=run).exclude(round_trip_supported=None).select_related("passage")
    assert pairs.exists()
    for pair in pairs:
        assert pair.round_trip_answer in pair.passage.text  # the reader can only answer with a passage span
        assert pair.round_trip_supported == (pair.answer[:1].isupper())


class GuardRecordingBackend(ScriptedBackend):
    """A local model's backend as the run sees it: it records the copy guard each prompt carries."""

    def __init__(self) -> None:
        super().__init__()
        self.guards: list = []

    def generate(self, prompts, params, reporter):
        self.guards.extend(p.guard for p in prompts)
        return super().generate(prompts, params, reporter)


def test_a_copy_guard_run_guards_every_prompt_against_its_own_exemplar_and_says_so(tmp_path):
    corpus = _corpus()
    settings = RunSettings(pairs_per_passage=2, batch_size=2, rotate_exemplars=True, answer_aware=True, copy_guard=True)
    run = create_run(corpus, hf_model(tmp_path), default_template_for("en", 1), settings=settings, split="train",
                     enqueue=False)  # fmt: skip
    assert RunSettings.from_run(run).copy_guard
    backend = GuardRecordingBackend()
    execute_run(run, FakeContext(), backend=backend)
    assert backend.guards and all(g is not None for g in backend.guards)
    shown = {o.exemplar["passage"] for o in RawOutput.objects.filter(run=run)}
    assert {g.content[0] for g in backend.guards} <= shown
    assert "copy guard" in yield_report(run).method


def test_the_copy_guard_is_refused_for_an_endpoint_whose_token_ids_are_unknown():
    with pytest.raises(RunSetupError, match="copy guard needs a local model"):
        create_run(_corpus(), endpoint_model("http://127.0.0.1:9/v1"), default_template_for("en", 1),
                   settings=RunSettings(copy_guard=True), enqueue=False)  # fmt: skip
