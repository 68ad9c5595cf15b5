"""The judge engine against a fake OpenAI-compatible endpoint (real HTTP on 127.0.0.1) with scripted verdicts:
both orders of every pair are asked, concurrently but bounded, verdicts come back per system, position bias is
caught, unparseable replies are counted with their raw text, and a resumed run asks only for what is missing."""

from __future__ import annotations

import threading

import pytest

from analysis.engine.runner import LLMJudge
from analysis.engine.templates import JudgePair, default_template, judge_labels, plain_renderer
from analysis.engine.verdicts import aggregate, run_summary
from generation.engine.base import SamplingParams
from generation.engine.openai_client import EndpointConfig, OpenAIEndpointGenerator
from tests.support.fake_judge_endpoint import FakeJudgeServer, ScriptedJudge

LABELS = judge_labels(["correct", "partial", "incorrect"])
TRUTH = {"Paris": "correct", "Lyon": "incorrect", "paris, France": "partial", "1889": "correct", "1900": "incorrect"}
PAIRS = [
    JudgePair(1, "What is the capital of France?", "Paris", "Lyon", "France's capital is Paris.", ("Paris",)),
    JudgePair(2, "What is the capital of France?", "Lyon", "paris, France", "France's capital is Paris."),
    JudgePair(3, "When was the tower finished?", "1889", "1889", "The tower was finished in 1889."),
    JudgePair(4, "When was the tower finished?", "1900", "1889", "The tower was finished in 1889."),
]
EXPECTED = {1: ("correct", "incorrect", "a"), 2: ("incorrect", "partial", "b"), 3: ("correct", "correct", "tie")}
EXPECTED[4] = ("incorrect", "correct", "b")


def judge_for(server: FakeJudgeServer, language: str = "en", **kwargs) -> LLMJudge:
    config = EndpointConfig(base_url=server.base_url, model="judge", timeout_s=10, concurrency=4, retry_backoff_s=0.01)
    generator = OpenAIEndpointGenerator(config)
    return LLMJudge(
        generator, default_template(language), judge_labels(["correct", "partial", "incorrect"], language), **kwargs
    )


@pytest.mark.parametrize(
    ("style", "language"), [("json", "en"), ("fenced", "en"), ("text_en", "en"), ("text_ja", "ja")]
)
def test_every_pair_is_judged_in_both_orders_and_verdicts_come_back_in_system_terms(style, language):
    with FakeJudgeServer(ScriptedJudge(TRUTH, style=style)) as server:
        votes = judge_for(server, language).run(PAIRS)
        assert server.n_requests == 8
    assert sorted(v.key for v in votes) == sorted((p.key, o, 0) for p in PAIRS for o in ("ab", "ba"))
    verdicts = aggregate(votes)
    assert {k: (x.label_a, x.label_b, x.preference) for k, x in verdicts.items()} == EXPECTED
    assert all(x.status == "consistent" for x in verdicts.values())
    assert run_summary(verdicts.values())["position_flip_rate"] == 0.0


def test_requests_run_concurrently_up_to_the_limit():
    barrier = threading.Barrier(4, timeout=60)  # each request waits until 4 are in flight together
    scripted = ScriptedJudge(TRUTH)

    def respond(body):
        barrier.wait()
        return scripted(body)

    with FakeJudgeServer(respond) as server:
        verdicts = aggregate(judge_for(server).run(PAIRS))
        assert server.peak_in_flight == 4
    assert {k: (x.label_a, x.label_b, x.preference) for k, x in verdicts.items()} == EXPECTED


def test_the_prompt_shows_answers_by_position_only_and_carries_the_gold_answer():
    with FakeJudgeServer(ScriptedJudge(TRUTH)) as server:
        judge_for(server).run(PAIRS[:1])
        prompts = sorted(b["messages"][-1]["content"] for b in server.bodies)
    ab = next(p for p in prompts if "Answer 1: Paris" in p)
    ba = next(p for p in prompts if "Answer 1: Lyon" in p)
    assert "Answer 2: Lyon" in ab and "Answer 2: Paris" in ba
    assert "Reference answer: Paris" in ab and "Passage:\nFrance's capital is Paris." in ab
    assert "system a" not in ab.lower() and "system b" not in ab.lower()


def test_a_position_biased_judge_is_caught_by_the_order_swap():
    with FakeJudgeServer(ScriptedJudge(TRUTH, position_biased=True)) as server:
        verdicts = aggregate(judge_for(server).run(PAIRS))
    assert all(v.status == "inconsistent" and v.preference == "tie" for v in verdicts.values())
    summary = run_summary(verdicts.values())
    assert summary["position_flip_rate"] == 1.0 and summary["first_position_win_share"] == 1.0
    assert summary["n_first_position_both"] == 4


def test_unparseable_replies_are_counted_and_kept_raw_never_guessed():
    truth = {k: v for k, v in TRUTH.items() if k != "1900"}  # the fake cannot judge pair 4
    with FakeJudgeServer(ScriptedJudge(truth)) as server:
        votes = judge_for(server).run(PAIRS)
    bad = [v for v in votes if v.pair_key == 4]
    assert len(bad) == 2 and all(v.raw == "I cannot judge these answers." and not v.parsed.complete for v in bad)
    verdicts = aggregate(votes)
    assert (verdicts[4].preference, verdicts[4].label_a, verdicts[4].status) == (None, None, "incomplete")
    assert run_summary(verdicts.values())["n_unparseable"] == 2


def test_a_resumed_run_asks_only_for_missing_votes_and_stores_each_once():
    stored = []

    class Killed(Exception):
        pass

    def store_then_die(votes):
        stored.extend(votes)
        if len(stored) >= 4:
            raise Killed  # the worker dies after its second chunk was stored

    with FakeJudgeServer(ScriptedJudge(TRUTH)) as server:
        with pytest.raises(Killed):
            judge_for(server, chunk_size=2).run(PAIRS, on_votes=store_then_die)
        assert server.n_requests == 4
        progress = []
        rest = judge_for(server, chunk_size=2).run(
            PAIRS, done={v.key for v in stored}, on_votes=stored.extend, progress=lambda d, t: progress.append((d, t))
        )
        assert server.n_requests == 8
    assert len(rest) == 4 and progress[-1] == (8, 8) and progress[0][0] > 4
    assert len({v.key for v in stored}) == len(stored) == 8
    assert {k: (x.label_a, x.label_b, x.preference) for k, x in aggregate(stored).items()} == EXPECTED


def test_n_votes_use_one_seed_per_vote_and_the_majority_decides():
    with FakeJudgeServer(ScriptedJudge(TRUTH)) as server:
        votes = judge_for(server, votes=3, params=SamplingParams(temperature=0.8, seed=10)).run(PAIRS[:2])
        seeds = sorted(b["seed"] for b in server.bodies)
    assert seeds == [10] * 4 + [11] * 4 + [12] * 4
    assert len(votes) == 12
    verdicts = aggregate(votes)
    assert (verdicts[1].preference, verdicts[1].confidence) == ("a", 1.0)


def test_completions_endpoints_get_a_plain_prompt():
    with FakeJudgeServer(ScriptedJudge(TRUTH)) as server:
        config = EndpointConfig(base_url=server.base_url, model="judge", mode="completions", retry_backoff_s=0.01)
        judge = LLMJudge(OpenAIEndpointGenerator(config), default_template("en"), LABELS, render=plain_renderer())
        verdicts = aggregate(judge.run(PAIRS[:1]))
        assert server.bodies[0]["prompt"].endswith("Answer 2: Lyon\n\nJSON:") or server.bodies[0]["prompt"].endswith(
            "Answer 2: Paris\n\nJSON:"
        )
    assert (verdicts[1].label_a, verdicts[1].preference) == ("correct", "a")
