"""A question the model wrote for two different answers of one passage determines neither: every pair that
carries it is rejected as ambiguous (answer-aware generation with a small model writes one generic
question for many answers), while the same question for one answer (or for answers that match each
other) is no ambiguity."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from generation.engine.base import GenerationOutput, SamplingParams
from generation.prompts import default_template, render_prompt
from generation.synthesis import CandidatePair, PassageInput, Renderer, SynthesisOptions, mark_ambiguous, synthesize
from generation.validation import RejectionReason, ValidationConfig

SKYTREE = "東京スカイツリーは高さ634メートルの電波塔で、2012年に開業した。所在地は東京都墨田区である。"
GENERIC = "東京スカイツリーとは何でしょうか？"


def _pairs(*pairs: tuple[str, str]) -> list[CandidatePair]:
    return [CandidatePair(q, a, i) for i, (q, a) in enumerate(pairs)]


def test_one_question_for_two_different_answers_rejects_both():
    pairs = _pairs((GENERIC, "634メートル"), (GENERIC, "2012年"), ("開業したのはいつですか？", "2012年"))
    mark_ambiguous(pairs, character_level=True)
    assert [p.reasons for p in pairs] == [[RejectionReason.AMBIGUOUS], [RejectionReason.AMBIGUOUS], []]


def test_answers_that_match_each_other_are_one_answer_not_an_ambiguity():
    pairs = _pairs(("高さは何メートルですか？", "634メートル"), ("高さは何メートルですか？", "634メートル"))
    mark_ambiguous(pairs, character_level=True)
    assert all(not p.reasons for p in pairs)


def test_questions_that_differ_only_in_case_and_punctuation_are_the_same_question():
    pairs = _pairs(("What is the Sky Tree?", "634 metres"), ("what is the sky tree", "Sumida"))
    mark_ambiguous(pairs, character_level=False)
    assert all(p.reasons == [RejectionReason.AMBIGUOUS] for p in pairs)


@given(st.lists(st.tuples(st.sampled_from(["Q1?", "Q2?", "Q3?"]), st.sampled_from(["a", "b", "c"])), max_size=8))
def test_a_pair_is_ambiguous_exactly_when_its_question_has_another_answer(raw):
    pairs = _pairs(*raw)
    mark_ambiguous(pairs, character_level=False)
    for pair in pairs:
        answers = {a for q, a in raw if q == pair.question}
        assert (RejectionReason.AMBIGUOUS in pair.reasons) == (len(answers) > 1)


class GenericQuestions:
    """An answer-aware generator that writes the same question whatever the answer, except for years."""

    def __call__(self, prompts, params):
        outputs = []
        for prompt in prompts:
            answer = prompt.text.rstrip().splitlines()[-2].split(":", 1)[1].strip()
            question = "開業したのはいつですか？" if answer.endswith("年") else GENERIC
            outputs.append(GenerationOutput(question, "stop", 10, 5))
        return outputs


def _synthesize(config: ValidationConfig):
    template = default_template("ja", 1)
    renderer = Renderer(lambda t, p: render_prompt(t, p.text, mode="plain"), mode="plain")
    [result] = synthesize(
        [PassageInput(1, SKYTREE)],
        template,
        SynthesisOptions(answer_aware=True),
        config,
        renderer,
        GenericQuestions(),
        SamplingParams(max_new_tokens=16),
    )
    return result


def test_a_run_keeps_the_question_that_names_its_answer_and_drops_the_generic_one():
    result = _synthesize(ValidationConfig.for_language("ja"))
    assert [(p.question, p.answer) for p in result.accepted] == [("開業したのはいつですか？", "2012年")]
    generic = [p for p in result.pairs if p.question == GENERIC]
    assert len(generic) >= 2 and all(RejectionReason.AMBIGUOUS in p.reasons for p in generic)


def test_the_rule_can_be_switched_off_and_the_first_generic_question_is_then_kept():
    result = _synthesize(ValidationConfig.for_language("ja", reject_ambiguous=False))
    assert GENERIC in [p.question for p in result.accepted]
