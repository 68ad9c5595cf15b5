"""The extractive round-trip reader: the model answers a generated question by choosing the passage span it
scores highest, and the pair is supported when that span matches the generated answer.

The scorer is scripted here (which span a model prefers is the model's business); the teacher-forced
log-probabilities that local models provide are checked against a plain full forward pass on tiny random
models (tests/support/tiny_models.py), with and without a shared prefix.
"""

from __future__ import annotations

import pytest
import torch

from generation.engine.base import GenerationOutput, SamplingParams
from generation.engine.local import LocalGenerator
from generation.prompts import default_template, render_prompt
from generation.round_trip import ExtractiveItem, check_extractive, continuation
from generation.synthesis import PassageInput, Renderer, SynthesisOptions, synthesize
from generation.validation import RejectionReason, ValidationConfig
from tests.support.tiny_models import load_tiny_model

EN = default_template("en", 1)
JA = default_template("ja", 1)


class ScriptedReader:
    """Scores continuations by a per-question preference: the preferred span for the question a prompt ends
    with scores 0, every other span -5. Records what it was asked."""

    def __init__(self, preferred: dict[str, str]) -> None:
        self.preferred = preferred
        self.calls: list[list[tuple[str, list[str]]]] = []

    def __call__(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        self.calls.append(items)
        scores = []
        for prompt, continuations in items:
            question = prompt.rstrip().splitlines()[-2].split(":", 1)[1].strip()
            want = self.preferred.get(question, "")
            scores.append([0.0 if c.strip() == want else -5.0 for c in continuations])
        return scores


def _qa_prompt(question: str):
    from generation.prompts import render_qa_prompt

    return render_qa_prompt(EN, "Paris is in France. The Seine flows through Paris.", question, mode="plain")


def test_the_reader_answers_with_the_best_scored_span_and_supports_only_a_match():
    reader = ScriptedReader({"Which river flows through Paris?": "Seine", "What is the capital of France?": "France"})
    items = [
        ExtractiveItem(_qa_prompt("Which river flows through Paris?"), "the Seine", ["Paris", "France", "Seine"]),
        ExtractiveItem(_qa_prompt("What is the capital of France?"), "Paris", ["Paris", "France", "Seine"]),
    ]
    river, capital = check_extractive(items, reader, character_level=False, threshold=0.5)
    assert (river.model_answer, river.supported) == ("Seine", True)  # "the Seine" vs "Seine": articles ignored
    assert (capital.model_answer, capital.score, capital.supported) == ("France", 0.0, False)
    assert len(reader.calls) == 1  # one call for the whole batch


def test_the_generated_answer_is_always_among_the_spans_and_spans_are_not_repeated():
    reader = ScriptedReader({"Which city is in France?": "Paris"})
    [verdict] = check_extractive(
        [ExtractiveItem(_qa_prompt("Which city is in France?"), "Paris", ["France", "france", " France "])],
        reader,
        character_level=False,
    )
    [(_, continuations)] = reader.calls[0]
    assert sorted(c.strip() for c in continuations) == ["France", "Paris"]
    assert verdict.supported and verdict.model_answer == "Paris"


def test_a_plain_prompt_is_continued_by_a_space_the_span_and_the_line_break():
    prompt = _qa_prompt("Which river flows through Paris?")
    assert prompt.text.endswith("Answer:")
    assert continuation("Seine", prompt) == " Seine\n"


def test_japanese_support_is_measured_on_characters():
    question = "琵琶湖はどの県にありますか？"
    from generation.prompts import render_qa_prompt

    prompt = render_qa_prompt(JA, "琵琶湖は滋賀県にある日本最大の湖である。", question, mode="plain")
    reader = ScriptedReader({question: "滋賀"})
    [verdict] = check_extractive(
        [ExtractiveItem(prompt, "滋賀県", ["滋賀", "日本最大の湖"])], reader, character_level=True
    )
    assert verdict.model_answer == "滋賀" and verdict.score == 0.8 and verdict.supported
    [strict] = check_extractive(
        [ExtractiveItem(prompt, "滋賀県", ["滋賀"])], reader, character_level=True, threshold=0.9
    )
    assert not strict.supported


def test_synthesis_uses_the_extractive_reader_when_given_a_scorer():
    passage = "Paris is in France. The Seine flows through Paris."
    questions = {"Paris": "What is the capital of France?", "France": "Which country is Paris in?",
                 "Seine": "Which river flows through Paris?"}  # fmt: skip

    def generate(prompts, params: SamplingParams) -> list[GenerationOutput]:
        outs = []
        for p in prompts:
            answer = p.text.rstrip().splitlines()[-2].removeprefix("Answer:").strip()
            outs.append(GenerationOutput(" " + questions.get(answer, "Is it?"), "stop"))
        return outs

    reader = ScriptedReader({"What is the capital of France?": "France", "Which country is Paris in?": "France",
                             "Which river flows through Paris?": "Seine"})  # fmt: skip
    template = EN.__class__.from_dict({**EN.to_dict(), "pairs_per_passage": 3})
    [result] = synthesize(
        [PassageInput(1, passage)],
        template,
        SynthesisOptions(answer_aware=True, round_trip=True),
        ValidationConfig.for_language("en"),
        Renderer(lambda t, p: render_prompt(t, p.text, mode="plain"), mode="plain"),
        generate,
        SamplingParams(),
        score=reader,
    )
    by_answer = {p.answer: p for p in result.pairs}
    assert by_answer["Paris"].reasons == [RejectionReason.ROUND_TRIP]
    assert by_answer["Paris"].round_trip.model_answer == "France"
    assert by_answer["France"].accepted and by_answer["Seine"].accepted
    [(_, spans)] = reader.calls[0][:1]
    assert {" Paris\n", " France\n", " Seine\n"} <= set(spans)  # passage candidates and generated answers


# ------------------------------------------------------------------ teacher-forced scores of local models


@pytest.fixture(scope="module", params=["llama", "gpt_neox"])
def generator(request) -> LocalGenerator:
    torch.set_num_threads(1)
    model, tokenizer = load_tiny_model(request.param)
    return LocalGenerator(model, tokenizer, batch_size=4)


def _reference(generator: LocalGenerator, prompt: str, cont: str) -> float:
    """Mean log-probability of `cont` after `prompt` from one unbatched forward pass over both."""
    ids = generator._encode(prompt)
    cont_ids = list(generator.tokenizer(cont, add_special_tokens=False)["input_ids"])
    with torch.inference_mode():
        logits = generator.model(input_ids=torch.tensor([ids + cont_ids])).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)
    return sum(float(logp[len(ids) + j - 1, t]) for j, t in enumerate(cont_ids)) / len(cont_ids)


def test_scores_equal_a_full_forward_pass_with_a_shared_prefix_and_padding(generator, monkeypatch):
    prefills = []
    real = generator.decoder.prefix_cache
    monkeypatch.setattr(generator.decoder, "prefix_cache", lambda ids: prefills.append(len(ids)) or real(ids))
    passage = "The Rhine flows through six countries and is one of the longest rivers in Europe. " * 4
    prompts = [f"Passage: {passage}\nQuestion: {q}\nAnswer:" for q in ("How many countries?", "Which river?")]
    conts = [" six\n", " The Rhine flows\n", " Europe and the longest rivers there\n"]
    scores = generator.score([(p, conts) for p in prompts] + [("Hi", [" there\n"])])
    expected = [[_reference(generator, p, c) for c in conts] for p in prompts] + [
        [_reference(generator, "Hi", " there\n")]
    ]
    for got, want in zip(scores, expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4)
    assert len({round(s, 3) for s in scores[0]}) == 3  # random weights: the spans score differently
    assert len(prefills) == 1 and prefills[0] >= 64  # the two questions about one passage shared its prefill


@pytest.mark.parametrize(
    ("predicted", "answer", "character_level"),
    [("629年", "630年", True), ("629年（貞観3年）", "630年", True), ("in 1890", "in 1889", False)],
)
def test_a_different_number_is_no_match_whatever_characters_it_shares(predicted, answer, character_level):
    from generation.round_trip import match_score

    assert match_score(predicted, answer, character_level=character_level) == 0.0


def test_a_more_or_less_specific_number_still_matches_by_f1():
    from generation.round_trip import match_score

    assert match_score("2016年7月10日", "2016年7月", character_level=True) == pytest.approx(0.8235, abs=1e-4)
    assert match_score("670平方キロメートル", "約670平方キロメートル", character_level=True) > 0.9
