"""decoding/small_passes.py: the choice chain's short passes append to the key/value cache in place and read
a grouped-query cache without repeating it per head, and score exactly as the library's plain path."""

from __future__ import annotations

import functools

import pytest
import torch

from decoding.engine import cache_argument, output_cache
from decoding.scoring import ChoiceScorer
from decoding.small_passes import grouped_sdpa, make_room
from tests.engine.test_choice_scoring import (  # noqa: F401
    GROUPED,
    PROMPTS,
    STEPS,
    assert_bf16_alike,
    assert_scored_alike,
    scorer_model,
)
from tests.engine.tiny import tiny_model


class _Attention(torch.nn.Module):
    num_key_value_groups = 3
    is_causal = True


@pytest.mark.parametrize("queries", [1, 5, 64])
def test_stacked_query_heads_attend_as_keys_repeated_per_head(queries):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    torch.manual_seed(0)
    batch, kv_heads, keys, dim = 4, 2, 37, 16
    query = torch.randn(batch, queries, kv_heads * 3, dim).transpose(1, 2)  # as the models lay it out
    key, value = torch.randn(batch, kv_heads, keys, dim), torch.randn(batch, kv_heads, keys, dim)
    allowed = torch.rand(batch, 1, queries, keys) > 0.3
    allowed[..., 0] = True  # no row without a key
    mask = torch.zeros(allowed.shape).masked_fill_(~allowed, torch.finfo(torch.float32).min)
    module = _Attention()
    expected, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.25)
    got, _ = grouped_sdpa(module, query, key, value, mask, scaling=0.25)
    assert got.shape == expected.shape == (batch, queries, kv_heads * 3, dim)
    assert torch.allclose(got, expected, atol=1e-5)


def test_a_cache_with_room_appends_in_place_crops_and_grows_as_concatenation_would():
    from transformers import DynamicCache

    model, _tok = tiny_model("llama")
    name = cache_argument(model)
    with torch.inference_mode():
        cache = output_cache(model(input_ids=torch.tensor([[5, 6, 7, 8]] * 2), use_cache=True))
        reference = output_cache(model(input_ids=torch.tensor([[5, 6, 7, 8]] * 2), use_cache=True))
    assert isinstance(cache, DynamicCache) and make_room(cache, 3)
    layer = cache.layers[0]
    room = layer.key_room.data_ptr()
    for step in ([9, 10], [11]):  # fills the room exactly, in place
        with torch.inference_mode():
            model(input_ids=torch.tensor([step] * 2), use_cache=True, **{name: cache})
            model(input_ids=torch.tensor([step] * 2), use_cache=True, **{name: reference})
    assert layer.key_room.data_ptr() == room and cache.get_seq_length() == 7
    for mine, theirs in zip(cache.layers, reference.layers, strict=True):
        assert torch.allclose(mine.keys, theirs.keys) and torch.allclose(mine.values, theirs.values)
    cache.crop(-2)
    reference.crop(-2)
    with torch.inference_mode():  # past the room: the buffers grow
        model(input_ids=torch.tensor([[12, 13, 14]] * 2), use_cache=True, **{name: cache})
        model(input_ids=torch.tensor([[12, 13, 14]] * 2), use_cache=True, **{name: reference})
    assert layer.key_room.data_ptr() != room and cache.get_seq_length() == reference.get_seq_length() == 8
    for mine, theirs in zip(cache.layers, reference.layers, strict=True):
        assert torch.allclose(mine.keys, theirs.keys) and torch.allclose(mine.values, theirs.values)


def test_the_chain_with_small_passes_scores_as_the_plain_path_and_repeats_no_cache(scorer_model, monkeypatch):  # noqa: F811
    from transformers.integrations import sdpa_attention

    model, tok = scorer_model
    repeated = []
    real_repeat = sdpa_attention.repeat_kv

    def counting(states, n_rep):
        repeated.append(states.shape[2])
        return real_repeat(states, n_rep)

    monkeypatch.setattr(sdpa_attention, "repeat_kv", counting)
    fast = ChoiceScorer(model, tok, batch_size=4).choose_text(PROMPTS + GROUPED, STEPS)
    fast_repeats = len(repeated)
    monkeypatch.setenv("QASYNTH_SMALL_PASSES", "0")
    plain = ChoiceScorer(model, tok, batch_size=4).choose_text(PROMPTS + GROUPED, STEPS)
    assert_scored_alike(plain, fast)
    if model.config.model_type == "llama":  # grouped-query attention: only prompt prefills repeat the cache
        assert 0 < fast_repeats < len(repeated) - fast_repeats
    else:
        assert fast_repeats == len(repeated) == 0


@pytest.mark.parametrize("batch_size, share_prefix", [(1, False), (4, True)])
def test_small_passes_run_the_same_forward_passes_as_the_plain_path(
    scorer_model,  # noqa: F811
    monkeypatch,
    batch_size,
    share_prefix,
):
    """Only how each pass appends and attends changes: options are still packed into one pass per step (the
    grouped attention's own name must not turn packing off)."""
    model, tok = scorer_model
    passes = []
    real_forward = model.forward

    @functools.wraps(real_forward)  # the scorer reads the signature (which keyword takes the cache)
    def counting(*args, **kwargs):
        passes.append(1)
        return real_forward(*args, **kwargs)

    monkeypatch.setattr(model, "forward", counting)
    steps = [
        ('{"verdict": "', ["right answer", "partly right answer", "wrong answer"]),
        ('", "why": "', ["x y", "z w"]),
    ]
    ChoiceScorer(model, tok, batch_size=batch_size, share_prefix=share_prefix).choose_text(PROMPTS, steps)
    with_small_passes = len(passes)
    monkeypatch.setenv("QASYNTH_SMALL_PASSES", "0")
    passes.clear()
    ChoiceScorer(model, tok, batch_size=batch_size, share_prefix=share_prefix).choose_text(PROMPTS, steps)
    assert with_small_passes == len(passes) > 0


def test_a_second_call_with_the_same_rubric_reuses_its_prefix_and_scores_alike(scorer_model):  # noqa: F811
    """A judging run scores chunk after chunk after the same rubric: its cache is computed once and kept
    unchanged by the batches that copy it."""
    model, tok = scorer_model
    scorer = ChoiceScorer(model, tok, batch_size=2)
    first = scorer.choose_text(PROMPTS, STEPS)
    kept = scorer._kept_prefix
    assert kept is not None and len(kept[0]) > 0
    before = [layer.keys.clone() for layer in kept[1].layers]
    second = scorer.choose_text(PROMPTS, STEPS)
    assert scorer._kept_prefix is kept  # not computed again
    assert all(torch.equal(a, layer.keys) for a, layer in zip(before, kept[1].layers, strict=True))
    assert [r.logprobs for r in second] == [r.logprobs for r in first]
    fresh = ChoiceScorer(model, tok, batch_size=2).choose_text(PROMPTS, STEPS)
    assert_scored_alike(fresh, second, abs_tol=1e-6)


def test_merged_step_passes_score_as_an_append_then_packed_options(scorer_model, monkeypatch):  # noqa: F811
    model, tok = scorer_model
    merged = ChoiceScorer(model, tok, batch_size=3).choose_text(PROMPTS + GROUPED, STEPS)
    monkeypatch.setenv("QASYNTH_MERGE_STEPS", "0")
    separate = ChoiceScorer(model, tok, batch_size=3).choose_text(PROMPTS + GROUPED, STEPS)
    assert_scored_alike(separate, merged)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (bench/gpu_device_check.sh)")
@pytest.mark.parametrize("arch", ["llama", "gpt_neox"])
@pytest.mark.parametrize("dtype, abs_tol", [(torch.float32, 1e-3), (torch.bfloat16, None)], ids=["fp32", "bf16"])
def test_on_cuda_small_passes_and_merged_steps_score_as_the_plain_path(arch, dtype, abs_tol, monkeypatch):
    """On a GPU the in-place cache, the stacked query heads and the merged step passes run CUDA's attention
    kernels, not the CPU's: float32 scores must still match the plain path; bf16 rounding moves them, so there
    choices agree by majority (a near tie may flip) and every probability row still sums to 1."""
    model, tok = tiny_model(arch, device="cuda", dtype=dtype)
    fast = ChoiceScorer(model, tok, batch_size=4).choose_text(PROMPTS + GROUPED, STEPS)
    monkeypatch.setenv("QASYNTH_SMALL_PASSES", "0")
    monkeypatch.setenv("QASYNTH_MERGE_STEPS", "0")
    plain = ChoiceScorer(model, tok, batch_size=4).choose_text(PROMPTS + GROUPED, STEPS)
    if abs_tol is not None:
        assert_scored_alike(plain, fast, abs_tol)
    else:
        assert_bf16_alike(plain, fast)
