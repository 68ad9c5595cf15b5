"""The judge engine drives a local Hugging Face model through the generator interface: a tiny random Llama
with the real SmolLM2 tokenizer and chat template. Its outputs are noise, so they must come back raw and
be counted as unparseable (never turned into a verdict), and batching must not change them."""

from __future__ import annotations

import pytest
import torch

from analysis.engine.parsing import parse_verdict
from analysis.engine.runner import LLMJudge
from analysis.engine.templates import JudgePair, chat_renderer, default_template, judge_labels
from analysis.engine.verdicts import aggregate, run_summary
from generation.engine.base import SamplingParams
from generation.engine.local import LocalGenerator
from tests.support.tiny_models import load_tiny_model

PAIRS = [
    JudgePair(10, "What is the capital of France?", "Paris", "Lyon", "France's capital is Paris."),
    JudgePair(11, "琵琶湖はどの県にありますか？", "滋賀県", "京都府", "琵琶湖は滋賀県にある日本最大の湖である。"),
    JudgePair(12, "When was the tower finished?", "1889", "It was finished in 1900.", "Finished in 1889."),
]


@pytest.fixture(scope="module")
def tiny():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield load_tiny_model("llama")
    torch.set_num_threads(previous)


def test_a_local_model_judges_both_orders_in_batches_and_noise_is_counted_as_unparseable(tiny):
    model, tokenizer = tiny
    labels = judge_labels(["correct", "partial", "incorrect"])
    params = SamplingParams(max_new_tokens=12)

    def run(batch_size: int):
        generator = LocalGenerator(model, tokenizer, batch_size=batch_size)
        judge = LLMJudge(generator, default_template("en"), labels, params=params, render=chat_renderer(tokenizer))
        return judge.run(PAIRS)

    batched = run(batch_size=6)
    assert sorted(v.key for v in batched) == sorted((p.key, o, 0) for p in PAIRS for o in ("ab", "ba"))
    assert all(v.parsed == parse_verdict(v.raw, labels) for v in batched)  # raw kept, parsed from it
    assert [v.raw for v in batched] == [v.raw for v in run(batch_size=1)]  # greedy: batching changes nothing
    summary = run_summary(aggregate(batched).values())
    assert summary["n_outputs"] == 6
    assert summary["n_unparseable"] == sum(not v.parsed.complete for v in batched)
