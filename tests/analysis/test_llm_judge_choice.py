"""Choice verdict mode: a local model judges by picking, per field, the option it finds most likely (labels of
the session's label set for each answer, then the preference), so every output is a verdict; the option
probabilities are the stored raw output, the run reports how close the choices were, both orders are still
judged (position bias measured), and a crashed run resumes without storing any verdict twice."""

from __future__ import annotations

import json
import re

import pytest

from analysis.engine.choice import FIRST_LEAD, choice_steps, margin_summary, read_choice
from analysis.engine.runner import LLMJudge
from analysis.engine.templates import JudgePair, default_template, judge_labels
from analysis.engine.verdicts import aggregate, run_summary
from analysis.models import LLMJudgeRun, LLMVerdict, LLMVote
from analysis.services import llm_judging
from analysis.services.llm_judging import JudgeSettings, create_run
from tests.analysis.test_llm_judge_runs import Reporter
from tests.annotation.helpers import make_session
from tests.generation.synth_helpers import endpoint_model, hf_model
from tests.support.tiny_models import tiny_model_dir

LABELS = judge_labels(["correct", "partial", "incorrect"])


class ScriptedChooser:
    """Picks by position, like a judge that ignores the answers: answer 1 correct, answer 2 incorrect,
    answer 1 preferred by 0.52 to 0.46 (a near tie on the preference)."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.steps = None

    def choose_text(self, prompts, steps, *, progress=None):
        self.prompts += prompts
        self.steps = steps

        class Result:
            choices = (0, 2, 0)
            prompt_tokens = 7

            def probabilities(self, step):
                return (0.55, 0.3, 0.15) if step < 2 else (0.52, 0.46, 0.02)

        if progress is not None:
            progress(len(prompts), len(prompts))
        return [Result() for _ in prompts]


def test_choice_steps_ask_each_field_of_the_verdict_object_in_order():
    steps = choice_steps(LABELS)
    assert [lead for lead, _ in steps] == [FIRST_LEAD, ', "answer_2": "', ', "preference": "']
    assert steps[0][1] == steps[1][1] == ['correct"', 'partial"', 'incorrect"']
    assert steps[2][1] == ['1"', '2"', 'tie"']


def test_a_position_following_chooser_gives_verdicts_that_flip_with_the_order():
    chooser = ScriptedChooser()
    pairs = [JudgePair(1, "Q?", "right", "wrong"), JudgePair(2, "Q2?", "x", "y")]
    judge = LLMJudge(None, default_template("en"), LABELS, render=lambda m: m[-1]["content"], chooser=chooser)
    votes = judge.run(pairs)
    assert len(votes) == 4 and all(v.parsed.complete and v.parsed.method == "choice" for v in votes)
    assert sum("Answer 1: right" in p for p in chooser.prompts) == 1  # both orders were asked
    raw = read_choice(votes[0].raw)
    assert raw["probabilities"]["preference"] == {"1": 0.52, "2": 0.46, "tie": 0.02}
    assert json.loads(raw["verdict"]) == {"answer_1": "correct", "answer_2": "incorrect", "preference": "1"}
    margins = margin_summary(v.raw for v in votes)
    assert margins["preference"]["n_below_low"] == 4 and margins["answer_1"]["n_below_low"] == 0
    assert margins["preference"]["mean_margin"] == pytest.approx(0.06)
    summary = run_summary(aggregate(votes).values())
    assert summary["n_inconsistent"] == 2 and summary["position_flip_rate"] == 1.0


def test_choice_mode_takes_one_vote_and_a_chooser():
    with pytest.raises(ValueError, match="one vote per order"):
        LLMJudge(None, default_template("en"), LABELS, chooser=ScriptedChooser(), votes=2)
    with pytest.raises(ValueError, match="generator .* or a chooser"):
        LLMJudge(None, default_template("en"), LABELS)


@pytest.mark.django_db
def test_a_local_model_in_choice_mode_gives_a_verdict_for_every_output_with_its_probabilities(one_thread):
    session = make_session(n=3, k=1)
    model = hf_model(tiny_model_dir("llama"))
    run = create_run(session, model, settings=JudgeSettings(verdict_mode="choice", batch_size=4), enqueue=False)
    assert run.verdict_mode == "choice" and run.response_prefix == FIRST_LEAD
    result = llm_judging.execute_run(run, Reporter())
    assert result["n_outputs"] == 6 and result["n_unparseable"] == 0 and result["n_incomplete"] == 0
    assert result["verdict_mode"] == "choice" and result["choice_margins"]["n_votes"] == 6
    for vote in LLMVote.objects.filter(run=run):
        data = read_choice(vote.raw)
        assert vote.complete and vote.parse_method == "choice" and vote.finish_reason == "choice"
        for field, chosen in (("answer_1", vote.label_1), ("answer_2", vote.label_2), ("preference", vote.preference)):
            probabilities = data["probabilities"][field]
            assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-3)
            assert max(probabilities, key=probabilities.get) == chosen
    assert LLMVerdict.objects.filter(run=run).count() == 3
    assert set(LLMVerdict.objects.filter(run=run).values_list("status", flat=True)) <= {"consistent", "inconsistent"}


@pytest.mark.django_db
def test_a_crashed_choice_run_resumes_and_stores_no_verdict_twice(one_thread):
    session = make_session(n=4, k=1)
    run = create_run(
        session, hf_model(tiny_model_dir("llama")), settings=JudgeSettings(verdict_mode="choice", batch_size=2),
        enqueue=False,
    )  # fmt: skip
    with pytest.raises(Reporter.Crash):
        llm_judging.execute_run(run, Reporter(crash_after=2))
    first = {(v.item_id, v.order): v.raw for v in LLMVote.objects.filter(run=run)}
    assert 0 < len(first) < 8
    reporter = Reporter()
    llm_judging.execute_run(run, reporter)
    keys = list(LLMVote.objects.filter(run=run).values_list("item_id", "order", "vote"))
    assert len(keys) == len(set(keys)) == 8
    assert all(LLMVote.objects.get(run=run, item_id=i, order=o).raw == raw for (i, o), raw in first.items())
    assert any("resuming" in line for line in reporter.lines)


@pytest.mark.django_db
def test_choice_settings_that_cannot_work_are_refused_with_a_clear_message():
    session = make_session(n=2, k=1)
    with pytest.raises(llm_judging.RunSetupError, match="endpoint: choice mode"):
        create_run(session, endpoint_model("http://127.0.0.1:9/v1"), settings=JudgeSettings(verdict_mode="choice"),
                   enqueue=False)  # fmt: skip
    with pytest.raises(llm_judging.RunSetupError, match="one vote per order"):
        create_run(session, hf_model("/nowhere"), settings=JudgeSettings(verdict_mode="choice", votes=3,
                   temperature=0.7), enqueue=False)  # fmt: skip
    with pytest.raises(llm_judging.RunSetupError, match="verdict mode must be"):
        create_run(session, hf_model("/nowhere", name="x"), settings=JudgeSettings(verdict_mode="vibes"), enqueue=False)
    assert not LLMJudgeRun.objects.exists()
    assert llm_judging.default_verdict_mode(endpoint_model("http://127.0.0.1:9/v1", name="e")) == "generate"
    assert llm_judging.default_verdict_mode(hf_model("/nowhere", name="y")) == "choice"


class ReadingChooser:
    """Reads the answers shown and judges them from ``truth`` (consistent in both orders), sure of every choice
    except the preference on the question ``hesitant``: 0.50 against 0.45."""

    def __init__(self, truth: dict[str, str], hesitant: str) -> None:
        self.truth, self.hesitant = truth, hesitant

    def choose_text(self, prompts, steps, *, progress=None):
        keys = ["correct", "partial", "incorrect"]
        out = []
        for prompt in prompts:
            shown = dict(re.findall(r"^Answer ([12]): (.*)$", prompt, re.MULTILINE))
            first, second = self.truth[shown["1"]], self.truth[shown["2"]]
            preference = 0 if keys.index(first) < keys.index(second) else 1
            unsure = self.hesitant in prompt

            class Result:
                choices = (keys.index(first), keys.index(second), preference)
                prompt_tokens = 7

                def probabilities(self, step, _unsure=unsure, _pick=preference):
                    if step < 2:
                        return (0.9, 0.05, 0.05)
                    top = (0.5, 0.45, 0.05) if _unsure else (0.9, 0.05, 0.05)
                    return top if _pick == 0 else (top[1], top[0], top[2])

            out.append(Result())
        return out


@pytest.mark.django_db
def test_a_choice_won_by_a_hair_leaves_its_item_unsure_for_cheap_first():
    session = make_session(n=4, k=1)
    items = list(session.items.order_by("pk"))
    truth = {i.answer_a: "correct" for i in items} | {i.answer_b: "incorrect" for i in items}
    run = create_run(session, hf_model("/unused"), settings=JudgeSettings(verdict_mode="choice"), enqueue=False)
    chooser = ReadingChooser(truth, hesitant=items[2].question)
    judge = LLMJudge(None, default_template("en"), LABELS, render=lambda m: m[-1]["content"], chooser=chooser)

    llm_judging.execute_run(run, Reporter(), judge=judge)

    assert set(LLMVerdict.objects.filter(run=run).values_list("status", flat=True)) == {"consistent"}
    assert llm_judging.unsure_item_ids(run) == [items[2].pk], "consistent, but its preference was a near tie"
    assert llm_judging.unsure_item_ids(run, min_margin=0) == []
    new = llm_judging.send_unsure_to_humans(run)
    assert list(new.items.values_list("question", flat=True)) == [items[2].question]
