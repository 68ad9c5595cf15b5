"""Constrained choice by log-likelihood (decoding/scoring.py): every option's score is the model's summed token
log-probability of it after the prompt and the earlier choices, whatever the batching, shared prefix or
padding; the choice is the argmax and the next step continues from it. Django-free, tiny random models."""

from __future__ import annotations

import pytest
import torch

from decoding.scoring import ChoiceScorer, ChoiceStep, group_by_prefix
from tests.engine.tiny import tiny_model, tokenizer

RUBRIC = "You judge answers. Labels: correct, partial, incorrect. Reply with JSON only, as in the example. " * 2
PROMPTS = [
    RUBRIC + "Question: What is the capital of France? Answer 1: Paris Answer 2: Lyon",
    RUBRIC + "Question: 琵琶湖はどの県？ Answer 1: 滋賀県 Answer 2: 京都府",
    RUBRIC + "Q: When? A1: 1889 A2: It was finished in 1900, after many long years of building.",
]
STEPS = [
    ('{"answer_1": "', ["correct", "partial", "incorrect"]),
    ('", "preference": "', ["1", "2", "tie"]),
]


def naive_logprob(model, ids: list[int], continuation: list[int]) -> float:
    """Sum of log p(continuation | ids), from one forward pass over the whole unpadded sequence."""
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids + continuation])).logits[0].float()
    logprobs = torch.log_softmax(logits, dim=-1)
    return sum(float(logprobs[len(ids) + i - 1, tok]) for i, tok in enumerate(continuation))


def assert_scored_alike(expected, got, abs_tol: float = 2e-4) -> None:
    """Same choices, and every option's score within ``abs_tol`` (float rounding of a different layout)."""
    assert [r.choices for r in got] == [r.choices for r in expected]
    for a, b in zip(expected, got, strict=True):
        for step_a, step_b in zip(a.logprobs, b.logprobs, strict=True):
            assert step_b == pytest.approx(step_a, abs=abs_tol)


def assert_bf16_alike(expected, got) -> list[tuple[object, object]]:
    """bf16 rounding may flip a near tie: choices agree for all prompts but one, and every probability row still
    sums to 1. Returns the (expected, got) pairs for further checks."""
    pairs = list(zip(expected, got, strict=True))
    assert sum(a.choices == b.choices for a, b in pairs) >= len(pairs) - 1
    for result in got:
        for k in range(len(result.logprobs)):
            assert sum(result.probabilities(k)) == pytest.approx(1.0)
    return pairs


@pytest.fixture(scope="module", params=["llama", "gpt_neox"])
def scorer_model(request):
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    model, tok = tiny_model(request.param)
    yield model, tok
    torch.set_num_threads(previous)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_each_option_scores_its_exact_log_likelihood_after_the_chosen_chain(scorer_model, batch_size):
    model, tok = scorer_model
    scorer = ChoiceScorer(model, tok, batch_size=batch_size)
    results = scorer.choose_text(PROMPTS, STEPS)
    assert [r.index for r in results] == [0, 1, 2]
    for prompt, result in zip(PROMPTS, results, strict=True):
        ids = scorer.encode_prompt(prompt + STEPS[0][0])
        assert result.prompt_tokens == len(ids)
        for k, (_lead, options) in enumerate(STEPS):
            if k > 0:  # the chain continues from the previous step's chosen option, then this step's lead
                ids = ids + list(scorer.encode_piece(STEPS[k - 1][1][result.choices[k - 1]]))
                ids = ids + list(scorer.encode_piece(STEPS[k][0]))
            expected = [naive_logprob(model, ids, list(scorer.encode_piece(o))) for o in options]
            assert result.logprobs[k] == pytest.approx(expected, abs=2e-4)
            assert result.choices[k] == max(range(len(options)), key=lambda j: result.logprobs[k][j])
            assert sum(result.probabilities(k)) == pytest.approx(1.0)


def test_batched_and_shared_prefix_choices_equal_one_prompt_at_a_time(scorer_model):
    model, tok = scorer_model
    alone = ChoiceScorer(model, tok, batch_size=1, share_prefix=False).choose_text(PROMPTS, STEPS)
    batched = ChoiceScorer(model, tok, batch_size=8, share_prefix=True).choose_text(PROMPTS, STEPS)
    assert_scored_alike(alone, batched)


PASSAGE = "Passage: The Eiffel Tower was finished in 1889 for the World's Fair in Paris, France. Question: When? "
GROUPED = [  # a judging run's prompts: both orders of each pair share the passage and question, then differ
    RUBRIC + PASSAGE + "Answer 1: 1889 Answer 2: 1900",
    RUBRIC + PASSAGE + "Answer 1: 1900 Answer 2: 1889",
    RUBRIC + PASSAGE + "Answer 1: in 1889, for the fair Answer 2: never",
    RUBRIC + "Passage: Lake Biwa is in Shiga. Question: Where is it? Answer 1: Shiga Answer 2: Kyoto",
    PASSAGE + "Answer 1: Paris Answer 2: Lyon",  # no rubric: the prefix common to all is empty
    PASSAGE + "Answer 1: Lyon Answer 2: Paris",
]


@pytest.mark.parametrize("prompts", [GROUPED, GROUPED[:4]], ids=["no-common-prefix", "common-prefix"])
@pytest.mark.parametrize("batch_size", [2, 8])
def test_prompts_sharing_a_passage_are_prefilled_once_per_group_and_score_as_alone(scorer_model, prompts, batch_size):
    model, tok = scorer_model
    scorer = ChoiceScorer(model, tok, batch_size=batch_size)
    encoded = [scorer.encode_prompt(p + STEPS[0][0]) for p in prompts]
    prefix = scorer.decoder.shared_prefix_length(encoded)
    groups = sorted(sorted(g.members) for g in group_by_prefix(encoded, prefix))
    expected_groups = [[0, 1, 2], [3]] if len(prompts) == 4 else [[0, 1, 2], [3], [4, 5]]
    assert groups == expected_groups
    alone = ChoiceScorer(model, tok, batch_size=1, share_prefix=False).choose_text(prompts, STEPS)
    grouped = scorer.choose_text(prompts, STEPS)
    assert_scored_alike(alone, grouped)
    assert [r.prompt_tokens for r in grouped] == [r.prompt_tokens for r in alone]


def test_a_steps_options_are_scored_in_one_pass_with_the_scores_of_one_pass_each(scorer_model, monkeypatch):
    """Packed options (one forward per step, a 4D mask keeping each option to its own tokens) score exactly
    as one forward per option, in fewer passes over the cache."""
    model, tok = scorer_model
    steps = [
        ('{"answer_1": "', ["correct", "partially correct", "incorrect answer here"]),
        ('", "preference": "', ["1", "2", "tie"]),
    ]
    packed_scorer = ChoiceScorer(model, tok, batch_size=3)
    one_by_one_scorer = ChoiceScorer(model, tok, batch_size=3)
    assert packed_scorer._packs_options
    monkeypatch.setenv("QASYNTH_PACK_OPTIONS", "0")
    assert not one_by_one_scorer._packs_options
    calls = []
    forward = model.forward

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[1])
        return forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counting)
    packed = packed_scorer.choose_text(PROMPTS, steps)
    packed_calls = len(calls)
    calls.clear()
    one_by_one = one_by_one_scorer.choose_text(PROMPTS, steps)
    assert packed_calls < len(calls)
    assert_scored_alike(one_by_one, packed)


def test_progress_counts_prompts_after_each_batch_and_bad_steps_are_refused():
    model, tok = tiny_model("llama")
    seen: list[tuple[int, int]] = []
    ChoiceScorer(model, tok, batch_size=2).choose_text(PROMPTS, STEPS, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 3), (3, 3)]
    with pytest.raises(ValueError, match="at least two options"):
        ChoiceStep((), ((5,),))
    with pytest.raises(ValueError, match="at least one token"):
        ChoiceStep((), ((5,), ()))
    assert tokenizer() is tok


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (bench/gpu_device_check.sh)")
@pytest.mark.parametrize("arch", ["llama", "gpt_neox"])
def test_on_cuda_in_bf16_batched_choices_match_one_prompt_at_a_time(arch):
    """The LLM judge's choice mode on a GPU: bf16 as inference resolves it there, batched with the shared
    prefix; bf16 rounding may move a log-probability a little, so scores agree loosely and choices by
    majority (a near tie may flip), and every probability row still sums to 1."""
    from decoding.loading import inference_placement

    device, dtype = inference_placement("cuda", "auto")
    assert dtype in (torch.bfloat16, torch.float16)
    model, tok = tiny_model(arch, device="cuda", dtype=dtype)
    alone = ChoiceScorer(model, tok, batch_size=1, share_prefix=False).choose_text(PROMPTS, STEPS)
    batched = ChoiceScorer(model, tok, batch_size=8, share_prefix=True).choose_text(PROMPTS, STEPS)
    for a, b in assert_bf16_alike(alone, batched):
        if a.choices[0] == b.choices[0]:
            assert b.logprobs[0] == pytest.approx(a.logprobs[0], abs=0.15)


def test_groups_prefilled_in_one_packed_pass_score_as_two_padded_passes(scorer_model, monkeypatch):
    """A batch's groups go through the model in ONE pass, each group's members packed after its shared tokens
    without padding (QASYNTH_PACK_PROMPTS=0: the shared tokens, then every member's own, padded): same scores."""
    model, tok = scorer_model
    packed_scorer = ChoiceScorer(model, tok, batch_size=8)
    assert packed_scorer._packs_prompts
    passes = []
    prefill = ChoiceScorer._prefill_packed

    def counting(self, *args):
        passes.append(1)
        return prefill(self, *args)

    monkeypatch.setattr(ChoiceScorer, "_prefill_packed", counting)
    packed = packed_scorer.choose_text(GROUPED, STEPS)
    assert len(passes) == 1  # one batch of 8 rows: its prompts in one pass
    monkeypatch.setenv("QASYNTH_PACK_PROMPTS", "0")
    padded_scorer = ChoiceScorer(model, tok, batch_size=8)
    assert not padded_scorer._packs_prompts
    padded = padded_scorer.choose_text(GROUPED, STEPS)
    assert len(passes) == 1
    assert_scored_alike(padded, packed)
