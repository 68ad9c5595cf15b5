"""The copy guard: a local model writing a question is steered off the one-shot example's words that its
passage lacks (generation.copy_guard, decoding.engine.RowTokenPenalty), prompt by prompt within a batch.

Tiny random models with the real SmolLM2 tokenizer: a random model's greedy choice is arbitrary, so the test
avoids exactly the tokens it chose unguarded and checks they are gone, and that other prompts of the batch
are untouched."""

from __future__ import annotations

import pytest
import torch

from generation import copy_guard
from generation.engine.base import CopyGuard, SamplingParams
from generation.engine.local import LocalGenerator
from generation.exemplars import Exemplar
from generation.prompts import default_template, render_prompt
from generation.synthesis import PassageInput, Renderer, SynthesisOptions, plan
from tests.support.tiny_models import load_tiny_model

PROMPTS = ["Question: where does the river flow?\nAnswer:", "The Rhine flows through six countries and", "Hi"]


@pytest.fixture(scope="module")
def generator() -> LocalGenerator:
    model, tokenizer = load_tiny_model("llama")
    return LocalGenerator(model, tokenizer, batch_size=4)


def test_a_guarded_prompt_stops_writing_the_tokens_it_wrote_unguarded_and_the_others_are_untouched(generator):
    params = SamplingParams(max_new_tokens=8)
    plain = generator.generate(PROMPTS, params)
    written = generator.tokenizer(plain[1].text, add_special_tokens=False)["input_ids"]
    words = [w for w in {generator.tokenizer.decode([t]) for t in written} if any(c.isalpha() for c in w)]
    assert words, "the unguarded output must contain words for the test to mean something"
    guard = CopyGuard(avoid=tuple(words), allow=(), penalty=1e4)
    avoided = generator.avoided_tokens(guard)
    guarded = generator.generate(PROMPTS, params, guards=[None, guard, None])
    assert avoided and not set(generator.tokenizer(guarded[1].text, add_special_tokens=False)["input_ids"]) & avoided
    assert guarded[1].text != plain[1].text
    assert [guarded[0], guarded[2]] == [plain[0], plain[2]]


def test_without_guards_or_with_empty_ones_the_output_is_the_plain_output(generator):
    params = SamplingParams(max_new_tokens=8)
    plain = generator.generate(PROMPTS, params)
    assert generator.generate(PROMPTS, params, guards=[None, None, None]) == plain
    nothing = CopyGuard(avoid=("and",), allow=("and",))
    assert generator.generate(PROMPTS, params, guards=[None, nothing, None]) == plain


def test_only_words_the_allowed_texts_lack_are_avoided_never_punctuation_digits_or_special_tokens(generator):
    guard = CopyGuard(avoid=("The Thames Barrier opened in 1984, near Woolwich.",), allow=("The Thames is long.",))
    texts = {generator.tokenizer.decode([t]).strip() for t in generator.avoided_tokens(guard)}
    assert "Barrier" in texts or "Bar" in texts
    assert "Thames" not in texts and "The" not in texts
    assert not any(t in texts for t in (",", ".", "1984", "198", "4", ""))
    special = set(generator.tokenizer.all_special_ids)
    assert not special & generator.avoided_tokens(
        CopyGuard(avoid=(generator.tokenizer.eos_token + " opened",), allow=())
    )


def test_a_phrasing_word_is_allowed_inside_a_sentence_as_well_as_alone(generator):
    ex = Exemplar("Woolwich is the largest town on the barrier.", (("Which town is the largest?", "Woolwich"),))
    texts = {
        generator.tokenizer.decode([t]) for t in generator.avoided_tokens(copy_guard.guard_for(ex, "Rivers.", "", "en"))
    }
    assert " largest" in texts and " town" in texts
    assert not {" Which", "Which", " is", " the"} & texts


def test_only_the_example_pairs_content_words_are_avoided_not_their_phrasing_or_the_rest_of_its_passage(generator):
    ex = Exemplar(
        "The Thames Barrier opened in 1984 near Woolwich, on the river.", (("How tall is the Barrier?", "Woolwich"),)
    )
    texts = {
        generator.tokenizer.decode([t]).strip()
        for t in generator.avoided_tokens(copy_guard.guard_for(ex, "Rivers.", "", "en"))
    }
    assert "Barrier" in texts or "Bar" in texts
    assert "tall" not in texts  # in the example's question only: phrasing
    assert "opened" not in texts and "river" not in texts  # in the example's passage only: not what copies are made of


def test_japanese_guard_avoids_the_example_pairs_content_and_allows_the_passage_the_answer_and_phrasing():
    ex = Exemplar("琵琶湖は滋賀県にある日本最大の湖である。", (("日本最大の湖はどこですか？", "琵琶湖"),))
    guard = copy_guard.guard_for(ex, "富士山は静岡県と山梨県にまたがる。", "静岡県", "ja")
    assert guard.avoid == ("日本最大の湖はどこですか？", "琵琶湖") and guard.content == (ex.passage,)
    assert "富士山は静岡県と山梨県にまたがる。" in guard.allow and "静岡県" in guard.allow
    assert {"何", "どこ", "ですか", "いつ"} <= set(guard.allow)
    assert guard.penalty == copy_guard.PENALTY


def test_hiragana_particles_and_endings_are_never_avoided():
    from generation.engine.local import _spells_content

    assert not any(_spells_content(t) for t in ("の", "が", "とは", "ですか", "？", "1984", " ", "、"))
    assert all(_spells_content(t) for t in ("琵琶湖", "の開発", "エネルギー", " Barrier", "x"))


def test_plan_guards_every_prompt_that_shows_an_example_only_when_asked():
    renderer = Renderer(lambda t, p: render_prompt(t, p.text, mode="plain"), mode="plain")
    ex = Exemplar("The Thames Barrier opened in 1984.", (("When did the barrier open?", "1984"),))
    passages = [PassageInput(1, "The Rhine flows through six countries.", exemplar=ex)]
    one_shot = default_template("en", 1)
    guarded = plan(passages, one_shot, SynthesisOptions(answer_aware=True, copy_guard=True), renderer)
    prompts = [s.prompt for r in guarded for s in r.samples]
    assert prompts and all(p.guard is not None and p.guard.content == (ex.passage,) for p in prompts)
    assert all(s.answer in s.prompt.guard.allow for r in guarded for s in r.samples)
    plain = plan(passages, one_shot, SynthesisOptions(answer_aware=True), renderer)
    assert all(s.prompt.guard is None for r in plain for s in r.samples)


def test_the_copy_guard_needs_an_example_to_guard_against():
    assert any("copy guard" in p for p in SynthesisOptions(copy_guard=True).errors(shots=0))
    assert not SynthesisOptions(copy_guard=True).errors(shots=1)
    assert "copy guard" in SynthesisOptions(copy_guard=True).describe()
    assert not SynthesisOptions(copy_guard=True).is_paper


def test_row_token_penalty_lowers_only_its_own_rows_tokens():
    from decoding.engine import RowTokenPenalty

    scores = torch.zeros((3, 5))
    out = RowTokenPenalty([{1: 2.5, 3: 2.5}, {}, {9: 1.0, 4: 0.5}])(torch.zeros((3, 1), dtype=torch.long), scores)
    expected = torch.zeros((3, 5))
    expected[0, 1] = expected[0, 3] = -2.5
    expected[2, 4] = -0.5
    assert torch.equal(out, expected)


def test_a_penalty_must_be_finite_and_not_negative():
    from decoding.engine import RowTokenPenalty

    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="penalty"):
            CopyGuard(avoid=("x",), allow=(), penalty=bad)
        with pytest.raises(ValueError, match="penalty"):
            RowTokenPenalty([{1: bad}])


def test_a_word_the_passage_has_stays_allowed_however_the_tokenizer_split_it_there(generator):
    ex = Exemplar("The Barrier stands at Woolwich.", (("Where is the Barrier?", "Woolwich"),))
    guard = copy_guard.guard_for(ex, "Floodbarriers guard many towns.", "", "en")
    texts = {generator.tokenizer.decode([t]).strip() for t in generator.avoided_tokens(guard)}
    assert "Barrier" not in texts  # "barrier" is inside the passage's "Floodbarriers", split otherwise there
    assert texts & {"Wool", "Woolwich", "wich"}
