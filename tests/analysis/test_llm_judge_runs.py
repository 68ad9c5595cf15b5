"""LLM judging runs through the product: a fake OpenAI-compatible judge (real HTTP on 127.0.0.1) run by a real
worker on the gpu queue; resuming after a crash; and LLM verdicts kept apart from every human figure."""

from __future__ import annotations

import pytest

from analysis.models import LLMJudgeRun, LLMVerdict, LLMVote
from analysis.services import llm_judging, statistics
from analysis.services.llm_judging import JudgeSettings, create_run
from core.models import JobStatus
from tests.analysis.stats_helpers import judge_session, make_judges
from tests.annotation.helpers import make_session
from tests.generation.synth_helpers import endpoint_model
from tests.support.fake_judge_endpoint import FakeJudgeServer, ScriptedJudge


def _truth(session) -> dict[str, str]:
    """A's answers are correct, B's incorrect, except item 3 where both are partial."""
    truth = {}
    for i, item in enumerate(session.items.filter(is_control=False).order_by("pk")):
        if i == 3:
            truth[item.answer_a] = truth[item.answer_b] = "partial"
        else:
            truth[item.answer_a], truth[item.answer_b] = "correct", "incorrect"
    return truth


def _finished(run: LLMJudgeRun):
    job = LLMJudgeRun.objects.select_related("job").get(pk=run.pk).job
    return job if job.is_finished else None


class Reporter:
    """Stands in for a job context; ``crash_after`` raises after that many stored chunks (a killed worker)."""

    class Crash(Exception):
        pass

    def __init__(self, crash_after: int | None = None) -> None:
        self.crash_after = crash_after
        self.chunks = 0
        self.lines: list[str] = []

    def progress(self, done=None, total=None, message=None, **data) -> None:
        if "outputs_per_s" in data:
            self.chunks += 1
            if self.crash_after is not None and self.chunks >= self.crash_after:
                raise self.Crash

    def check_cancelled(self) -> None:
        pass

    def log(self, line: str) -> None:
        self.lines.append(line)


@pytest.mark.worker
def test_a_fake_endpoint_judges_a_session_through_the_real_job(worker, wait):
    session = make_session(n=6, k=2)
    with FakeJudgeServer(ScriptedJudge(_truth(session))) as server:
        run = create_run(session, endpoint_model(server.base_url), settings=JudgeSettings(concurrency=4, batch_size=4))
        job = wait(lambda: _finished(run), timeout=90, what="the LLM judging job")
    assert job.status == JobStatus.SUCCEEDED, f"{job.error}\n{job.log[-2000:]}"
    assert job.queue == "gpu"
    assert server.n_requests == 12 == LLMVote.objects.filter(run=run).count()
    verdicts = {v.item_id: v for v in LLMVerdict.objects.filter(run=run)}
    assert len(verdicts) == 6
    items = list(session.items.order_by("pk"))
    assert [(verdicts[i.pk].label_a, verdicts[i.pk].label_b, verdicts[i.pk].preference) for i in items] == [
        ("partial", "partial", "tie") if n == 3 else ("correct", "incorrect", "a") for n in range(6)
    ]
    run.refresh_from_db()
    assert run.summary["n_unparseable"] == 0 and run.summary["position_flip_rate"] == 0.0


@pytest.mark.django_db
def test_a_position_biased_judge_is_inconsistent_and_counted_as_ties():
    session = make_session(n=4, k=1)
    with FakeJudgeServer(ScriptedJudge(_truth(session), position_biased=True)) as server:
        run = create_run(session, endpoint_model(server.base_url), enqueue=False)
        result = llm_judging.execute_run(run, Reporter())
    assert result["position_flip_rate"] == 1.0
    assert set(LLMVerdict.objects.filter(run=run).values_list("status", "preference")) == {("inconsistent", "tie")}


@pytest.mark.django_db
def test_a_crashed_run_resumes_without_asking_for_any_vote_twice():
    session = make_session(n=6, k=1)
    with FakeJudgeServer(ScriptedJudge(_truth(session))) as server:
        run = create_run(session, endpoint_model(server.base_url), settings=JudgeSettings(batch_size=2, concurrency=1),
                         enqueue=False)  # fmt: skip
        with pytest.raises(Reporter.Crash):
            llm_judging.execute_run(run, Reporter(crash_after=2))
        stored = LLMVote.objects.filter(run=run).count()
        assert 0 < stored < 12 and not LLMVerdict.objects.filter(run=run).exists()
        reporter = Reporter()
        llm_judging.execute_run(run, reporter)
    assert server.n_requests == 12, "every (item, order, vote) asked for exactly once over both attempts"
    keys = list(LLMVote.objects.filter(run=run).values_list("item_id", "order", "vote"))
    assert len(keys) == len(set(keys)) == 12
    assert any("resuming" in line for line in reporter.lines)
    assert LLMVerdict.objects.filter(run=run, status="consistent").count() == 6


@pytest.mark.django_db
def test_unparseable_outputs_are_counted_and_kept_never_guessed():
    session = make_session(n=3, k=1)
    with FakeJudgeServer(ScriptedJudge({})) as server:  # knows no answer: "I cannot judge these answers."
        run = create_run(session, endpoint_model(server.base_url), enqueue=False)
        result = llm_judging.execute_run(run, Reporter())
    assert result["n_unparseable"] == 6 and result["n_incomplete"] == 3
    assert set(LLMVote.objects.filter(run=run).values_list("raw", flat=True)) == {"I cannot judge these answers."}
    assert set(LLMVerdict.objects.filter(run=run).values_list("label_a", "preference")) == {("", "")}


@pytest.mark.django_db
def test_llm_verdicts_change_no_human_figure():
    judges = make_judges(2)
    session = make_session(n=6, k=2, judges=judges)
    judge_session(session, judges, lambda item, judge: ("correct", "partial", "a"))
    variant = statistics.Variant(n_boot=200)
    before = statistics.compute(session, variant)["result"]
    with FakeJudgeServer(ScriptedJudge(_truth(session))) as server:
        run = create_run(session, endpoint_model(server.base_url), enqueue=False)
        llm_judging.execute_run(run, Reporter())
    after = statistics.compute(session, variant)["result"]
    assert before == after
    assert after["judges"] and len(after["judges"]) == 2


@pytest.mark.django_db
def test_settings_that_cannot_work_are_refused_with_a_clear_message():
    session = make_session(n=2, k=1)
    model = endpoint_model("http://127.0.0.1:9/v1")
    with pytest.raises(llm_judging.RunSetupError, match="votes need sampling"):
        create_run(session, model, settings=JudgeSettings(votes=3), enqueue=False)
    assert not LLMJudgeRun.objects.exists()
