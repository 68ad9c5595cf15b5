"""The shared decoding engine (decoding/): device and dtype, batching, stop strings, samples, the static-cache
path and its fallback. Django-free: `scripts/test_engine_oldtf.sh` runs this file under the oldest supported
transformers, and bench/gpu_device_check.sh runs it on a CUDA machine (the CUDA tests skip elsewhere)."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
import torch

import decoding.engine as engine
from decoding.engine import BatchDecoder, DecodeParams, DecoderOptions
from decoding.loading import inference_placement
from tests.engine.tiny import tiny_model, tokenizer

PROMPTS = [
    "The quick brown fox jumps over the lazy dog again and again while the farmer watches",
    "Hi",
    "<|im_start|>user\nWrite two questions about rivers.<|im_end|>\n<|im_start|>assistant\n",
    "富士山は日本で一番高い山です。",
    "Question: What is the capital of France?\nAnswer:",
    "A",
]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (bench/gpu_device_check.sh)")


def encode(prompts):
    return [tokenizer()(p, add_special_tokens=False)["input_ids"] for p in prompts]


@pytest.fixture(scope="module", params=["llama", "gpt_neox"])
def model(request):
    torch.set_num_threads(1)
    return tiny_model(request.param)[0]


def decoder(model, **options) -> BatchDecoder:
    return BatchDecoder(model, tokenizer(), DecoderOptions(**{"batch_size": 4, **options}))


# --- device and dtype ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_a_cuda_device_gets_half_precision_without_needing_one(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert inference_placement("auto", "auto") == (torch.device("cuda"), expected)
    assert inference_placement("cuda", None) == (torch.device("cuda"), expected)
    assert inference_placement("cpu", "auto") == (torch.device("cpu"), torch.float32)


def test_loading_for_inference_on_cuda_asks_transformers_for_bf16(monkeypatch):
    """generation runs, evaluation and the demo all load through decoding.loading.load_causal_lm."""
    import transformers

    from decoding import loading

    seen = {}

    class FakeModel:
        def to(self, device):
            seen["device"] = torch.device(device)
            return self

        def eval(self):
            return self

    def fake_model(path, **kwargs):
        seen["dtype"] = kwargs["dtype"]
        return FakeModel()

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fake_model)
    tok = tokenizer()
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda path, **kw: tok)
    loading.load_causal_lm("/nonexistent-model-dir")
    assert seen == {"dtype": torch.bfloat16, "device": torch.device("cuda")}


def test_cpu_defaults_keep_the_measured_cpu_settings(model):
    options = DecoderOptions.for_device(model, batch_size=8)
    assert options == DecoderOptions(batch_size=8)  # no token budget, shared prefix, dynamic cache, every step


def test_the_static_path_can_be_turned_off_by_setting(model, monkeypatch):
    monkeypatch.setenv("QASYNTH_STATIC_CACHE", "0")
    assert engine.static_cache_support(model) == (False, "turned off by QASYNTH_STATIC_CACHE=0")


# --- transformers API names --------------------------------------------------------------------------------


def test_the_cache_keyword_matches_this_transformers_version(model):
    name = engine.cache_argument(model)
    ids = torch.tensor([encode(["Hello there"])[0]])
    output = model(input_ids=ids, use_cache=True)
    cache = engine.output_cache(output)
    assert cache.get_seq_length() == ids.shape[1]
    step = model(input_ids=torch.tensor([[5]]), **{name: cache}, use_cache=True)  # accepted, extends the cache
    assert engine.output_cache(step).get_seq_length() == ids.shape[1] + 1


# --- batching and outputs ----------------------------------------------------------------------------------


def test_batched_greedy_equals_one_at_a_time_and_a_token_budget_changes_nothing(model):
    params = DecodeParams(max_new_tokens=12)
    prompts = encode(PROMPTS)
    single = [decoder(model, batch_size=1).decode([p], params)[0] for p in prompts]
    batched = decoder(model).decode(prompts, params)
    assert [c.token_ids for c in batched] == [c.token_ids for c in single]
    budget = decoder(model, batch_size=64, token_budget=3 * (len(max(prompts, key=len)) + 12))
    sizes = []
    assert budget.decode(prompts, params, on_batch=lambda b: sizes.append(len(b.completions))) == batched
    assert sizes[0] == 3 and sum(sizes) == len(prompts)  # the longest prompts fill the budget first
    assert len({c.text for c in batched}) > 2


def test_stop_strings_checked_every_few_steps_give_the_same_result_as_every_step(model):
    dec = decoder(model, stop_check_every=1)
    free = dec.decode(encode(PROMPTS), DecodeParams(max_new_tokens=24))
    stops = tuple({c.text[len(c.text) // 2 : len(c.text) // 2 + 2] for c in free if len(c.text.strip()) > 6})
    stops = tuple(s for s in stops if s.strip())[:2]
    assert stops
    params = DecodeParams(max_new_tokens=24, stop=stops)
    every_step = dec.decode(encode(PROMPTS), params)
    every_fourth = decoder(model, stop_check_every=4).decode(encode(PROMPTS), params)
    assert every_fourth == every_step
    assert any(c.finish_reason == "stop" and len(c.token_ids) < 24 for c in every_step)
    for c in every_step:
        assert not any(s in c.text for s in stops)


def test_samples_per_prompt_come_back_grouped_and_seeded(model):
    params = DecodeParams(max_new_tokens=8, temperature=1.0, top_p=0.95, num_return_sequences=3, seed=7)
    prompts = encode(PROMPTS[:3])
    first = decoder(model).decode(prompts, params)
    assert [(c.index, c.sample) for c in first] == [(i, s) for i in range(3) for s in range(3)]
    assert decoder(model).decode(prompts, params) == first
    assert len({c.token_ids for c in first if c.index == 0}) > 1  # sampled rows differ
    greedy = decoder(model).decode(prompts, DecodeParams(max_new_tokens=8, num_return_sequences=2))
    assert greedy[0].token_ids == greedy[1].token_ids


def test_min_new_tokens_forces_the_token_budget(model):
    eos = tokenizer().eos_token_id
    params = DecodeParams(max_new_tokens=6, min_new_tokens=6, eos_token_ids=(eos,))
    assert all(len(c.token_ids) == 6 for c in decoder(model).decode(encode(PROMPTS), params))


def test_bad_settings_are_refused_with_the_setting_named():
    with pytest.raises(ValueError, match="num_return_sequences"):
        DecodeParams(num_return_sequences=0)
    with pytest.raises(ValueError, match="min_new_tokens"):
        DecodeParams(max_new_tokens=4, min_new_tokens=5)
    with pytest.raises(ValueError, match="stop_check_every"):
        DecoderOptions(stop_check_every=0)


# --- the static-cache path ---------------------------------------------------------------------------------


def test_the_static_cache_path_gives_the_dynamic_paths_greedy_output(model):
    """On CPU generate() does not compile, but the static cache, its masks and positions are the same code."""
    params = DecodeParams(max_new_tokens=10, repetition_penalty=1.3)
    prompts = encode(PROMPTS)
    static = decoder(model, static_cache=True)
    assert static.decode(prompts, params) == decoder(model).decode(prompts, params)
    assert static.static_cache and static.static_fallback_reason is None


def record_generate(model, monkeypatch, read) -> list:
    """Wrap the model's generate(): each call appends read(its keyword arguments) to the list returned."""
    seen = []
    generate = model.generate

    def recording(*args, **kwargs):
        seen.append(read(kwargs))
        return generate(*args, **kwargs)

    monkeypatch.setattr(model, "generate", recording)
    return seen


def test_the_static_path_decodes_few_shapes_and_the_same_tokens(model, monkeypatch):
    """Each (rows, prompt width) compiles the decoding step again on CUDA: prompts of every length, one at a
    time or in a partial batch, reach generate() as a power-of-two row count and a width padded to a step,
    and the padding (masked, or filler rows whose output is dropped) changes no row's tokens."""
    shapes = record_generate(model, monkeypatch, lambda kwargs: tuple(kwargs["input_ids"].shape))
    params = DecodeParams(max_new_tokens=6)
    prompts = encode(PROMPTS)
    for batch_size in (1, 3):
        shapes.clear()
        static = decoder(model, static_cache=True, batch_size=batch_size).decode(prompts, params)
        assert static == decoder(model, batch_size=batch_size).decode(prompts, params)
        static_shapes = shapes[: len(shapes) // 2]  # the dynamic run's calls come after
        assert all(rows & (rows - 1) == 0 and width % engine.STATIC_WIDTH_STEP == 0 for rows, width in static_shapes)
        assert len(set(static_shapes)) == 1, "these short prompts all fit one width step"
    assert engine.static_shape(65, 5) == (128, 3)
    assert engine.static_shape(64, 8) == (64, 0)


def test_a_call_too_small_to_pay_for_compiling_takes_the_dynamic_cache(model, monkeypatch):
    """Compiling the static path costs 30-40 s once (H200); a call making fewer new tokens than
    static_min_tokens (rows x max_new_tokens) decodes with the dynamic cache and its shared prefix."""
    implementations = record_generate(model, monkeypatch, lambda kwargs: kwargs.get("cache_implementation"))
    params = DecodeParams(max_new_tokens=4)
    prompts = encode(PROMPTS)  # 6 rows x 4 new tokens = 24
    small = decoder(model, static_cache=True, static_min_tokens=25)
    assert small.decode(prompts, params) == decoder(model).decode(prompts, params)
    assert set(implementations) == {None}
    implementations.clear()
    decoder(model, static_cache=True, static_min_tokens=24).decode(prompts, params)
    assert set(implementations) == {"static"}


def test_a_job_that_will_pay_for_compiling_says_so_and_keeps_the_static_path(model, monkeypatch):
    """A generation run decodes a few passages per call; the work it announces (expected_new_tokens) decides,
    and once compiled the decoder keeps the static path for every later call."""
    implementations = record_generate(model, monkeypatch, lambda kwargs: kwargs.get("cache_implementation"))
    params = DecodeParams(max_new_tokens=4)
    job = decoder(model, static_cache=True, static_min_tokens=1000)
    job.decode(encode(PROMPTS[:2]), params)
    assert implementations == [None]
    job.expected_new_tokens = 1000
    job.decode(encode(PROMPTS[:2]), params)
    job.expected_new_tokens = 0
    job.decode(encode(PROMPTS[2:3]), params)
    assert implementations == [None, "static", "static"]
    with pytest.raises(ValueError, match="static_min_tokens"):
        DecoderOptions(static_min_tokens=-1)


def test_a_failing_static_path_falls_back_once_and_says_why(model, monkeypatch, caplog):
    real = model.generate
    calls = []

    def generate(*args, **kwargs):
        calls.append(kwargs.get("cache_implementation"))
        if kwargs.get("cache_implementation") == "static":
            raise RuntimeError("no static cache for this architecture")
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "generate", generate)
    params = DecodeParams(max_new_tokens=5)
    with caplog.at_level(logging.WARNING, logger="decoding.engine"):
        dec = decoder(model, static_cache=True, batch_size=2)
        out = dec.decode(encode(PROMPTS), params)
    assert out == decoder(model).decode(encode(PROMPTS), params)
    assert calls.count("static") == 1  # later batches go straight to the dynamic cache
    assert "no static cache for this architecture" in dec.static_fallback_reason
    assert "static-cache decoding failed" in caplog.text


# --- CUDA (bench/gpu_device_check.sh) ----------------------------------------------------------------------


@CUDA
@pytest.mark.parametrize("arch", ["llama", "gpt_neox"])
def test_cuda_defaults_use_bf16_a_token_budget_and_the_static_path(arch):
    from decoding.loading import inference_placement as placement

    device, dtype = placement("cuda", "auto")
    model, tok = tiny_model(arch, device="cuda", dtype=dtype)
    options = DecoderOptions.for_device(model, batch_size=8)
    assert options.token_budget and options.batch_size >= 256 and options.static_cache
    assert options.static_min_tokens == engine.STATIC_MIN_TOKENS
    options = replace(options, static_min_tokens=0)  # these few prompts would otherwise stay dynamic
    params = DecodeParams(max_new_tokens=16, stop=("\n\n",))
    static = BatchDecoder(model, tok, options).decode(encode(PROMPTS), params)
    dynamic = BatchDecoder(model, tok, replace(options, static_cache=False)).decode(encode(PROMPTS), params)
    agree = sum(a.token_ids == b.token_ids for a, b in zip(static, dynamic, strict=True))
    assert agree >= len(PROMPTS) - 1, "bf16 may flip a near-tie, but not most rows"


@CUDA
def test_cuda_fp32_static_compiled_equals_dynamic_exactly():
    model, tok = tiny_model("llama", device="cuda", dtype=torch.float32)
    options = DecoderOptions(batch_size=8, static_cache=True, stop_check_every=4)
    params = DecodeParams(max_new_tokens=12)
    static_decoder = BatchDecoder(model, tok, options)
    static = static_decoder.decode(encode(PROMPTS), params)
    dynamic = BatchDecoder(model, tok, replace(options, static_cache=False)).decode(encode(PROMPTS), params)
    assert static_decoder.static_fallback_reason is None
    agree = sum(a.token_ids == b.token_ids for a, b in zip(static, dynamic, strict=True))
    assert agree >= len(PROMPTS) - 1, "compiled kernels may reorder sums and flip a near-tie, but not most rows"
