"""The staff pages of LLM judging: one click on the session page starts a run with the default generator,
the run page shows verdicts and agreement with each human judge; judges reach none of it, and their judging
pages never show an LLM verdict."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from analysis.models import LLMJudgeRun
from analysis.services import llm_judging
from annotation.models import JudgingSession
from annotation.services import assignment as assigning
from annotation.services.sessions import ItemData, create_session
from core.models import ModelEntry, ModelKind, ModelRole
from tests.analysis.stats_helpers import judge_session, make_judges
from tests.analysis.test_llm_judge_runs import Reporter, _truth
from tests.annotation.helpers import make_session
from tests.support.fake_judge_endpoint import FakeJudgeServer, ScriptedJudge

pytestmark = pytest.mark.django_db

MARK = "LLMVERDICTMARK"


def _default_endpoint(base_url: str) -> ModelEntry:
    return ModelEntry.objects.create(
        name="fake-judge", kind=ModelKind.OPENAI, role=ModelRole.GENERATOR, is_default=True,
        base_url=base_url, api_model="fake-model",
    )  # fmt: skip


def test_one_click_judges_the_session_and_the_run_page_compares_with_each_judge(alice_client):
    judges = make_judges(2)
    session = make_session(n=6, k=2, judges=judges)
    judge_session(session, judges, lambda item, judge: ("correct", "incorrect", "a"))
    page = alice_client.get(reverse("annotation:session-detail", args=[session.pk]))
    assert b"Judge with an LLM" in page.content
    with FakeJudgeServer(ScriptedJudge(_truth(session))) as server:
        _default_endpoint(server.base_url)
        response = alice_client.post(reverse("analysis:session-llm-start", args=[session.pk]))
        run = LLMJudgeRun.objects.get(session=session)
        assert response.status_code == 302 and response["Location"] == reverse("analysis:llm-run", args=[run.pk])
        assert run.judge_model.name == "fake-judge" and run.votes == 1 and run.job.queue == "gpu"
        assert run.batch_size == 16 and run.precision == "fast"  # the measured defaults (README)
        llm_judging.execute_run(run, Reporter())
    run.job.status = "succeeded"
    run.job.save(update_fields=["status"])

    html = alice_client.get(reverse("analysis:llm-run", args=[run.pk])).content.decode()
    assert "Against the human majority" in html and "Among the human judges" in html
    assert "judge-0" in html and "judge-1" in html and "Conclusions side by side" in html
    assert "unparseable: 0" in html
    data = alice_client.get(reverse("analysis:llm-run-agreement", args=[run.pk])).json()
    # humans said A correct / B incorrect everywhere; the LLM agrees on 5 items, item 3 it labels partial/partial
    assert data["vs_human_majority"]["labels"]["n_answers"] == 12
    assert data["vs_human_majority"]["labels"]["accuracy"]["estimate"] == pytest.approx(10 / 12)
    assert data["counts"]["n_human_judges"] == 2
    assert [row["judge"] for row in data["among_humans"]["judges"]] == [j.pk for j in judges]
    csv = alice_client.get(reverse("analysis:llm-run-votes", args=[run.pk])).content.decode()
    assert csv.count("\n") == 1 + 12

    stats = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    assert "LLM judges beside the humans" in stats and "83.3%" in stats
    assert "judge-0 0.714 (12 answers)" in stats and "judge-1 0.714 (12 answers)" in stats  # with each judge
    api = alice_client.get(reverse("api:session-llm-judges", args=[session.pk])).json()
    (row,) = api["runs"]
    assert row["agreement"]["vs_human_majority"]["labels"]["accuracy"]["estimate"] == pytest.approx(10 / 12)
    assert {r["judge"] for r in row["agreement"]["among_humans"]["judges"]}.isdisjoint({j.pk for j in judges})


def test_a_bad_setting_is_refused_with_a_message_and_nothing_is_created(alice_client):
    session = make_session(n=2, k=1)
    _default_endpoint("http://127.0.0.1:9/v1")
    response = alice_client.post(reverse("analysis:session-llm-start", args=[session.pk]), {"votes": "3"}, follow=True)
    assert "votes need sampling" in response.content.decode()
    response = alice_client.post(
        reverse("analysis:session-llm-start", args=[session.pk]), {"batch_size": "0"}, follow=True
    )
    assert "batch size must be at least 1" in response.content.decode()
    assert not LLMJudgeRun.objects.exists()
    form = alice_client.get(reverse("analysis:session-llm-runs", args=[session.pk])).content.decode()
    assert '<input type="number" name="batch_size" value="16"' in form


def test_judges_reach_no_llm_page_and_never_see_an_llm_verdict(bob, alice):
    session = make_session(n=3, k=1, judges=[bob])
    truth = dict.fromkeys(_truth(session), "correct")
    with FakeJudgeServer(lambda body: MARK + ScriptedJudge(truth)(body)) as server:
        run = llm_judging.create_run(session, _default_endpoint(server.base_url), enqueue=False)
        llm_judging.execute_run(run, Reporter())
    assert run.vote_rows.filter(raw__startswith=MARK).count() == 6
    client = Client()
    client.force_login(bob)
    for url in (
        reverse("analysis:session-llm-runs", args=[session.pk]),
        reverse("analysis:llm-run", args=[run.pk]),
        reverse("analysis:llm-run-agreement", args=[run.pk]),
        reverse("analysis:llm-run-votes", args=[run.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("analysis:session-llm-start", args=[session.pk])).status_code == 403
    seen = client.get(reverse("annotation:judge-home")).content.decode()
    assignment = assigning.next_assignment(session, bob)
    seen += client.get(reverse("annotation:judge-item", args=[assignment.token])).content.decode()
    assert MARK not in seen and "LLM" not in seen


def test_cheap_first_sends_only_the_items_the_llm_left_unsure_to_a_new_human_session(alice_client):
    judges = make_judges(2)
    session = make_session(n=6, k=2, judges=judges)
    first = session.items.order_by("pk").first()
    truth = {text: label for text, label in _truth(session).items() if text not in (first.answer_a,)}
    with FakeJudgeServer(ScriptedJudge(truth)) as server:  # item 1 gets no verdict: incomplete, so unsure
        run = llm_judging.create_run(session, _default_endpoint(server.base_url), enqueue=False)
        llm_judging.execute_run(run, Reporter())
    run.job.status = "succeeded"
    run.job.save(update_fields=["status"])
    assert (
        "Send only these 1 of 6 items" in alice_client.get(reverse("analysis:llm-run", args=[run.pk])).content.decode()
    )

    response = alice_client.post(reverse("analysis:llm-run-send-unsure", args=[run.pk]), follow=True)
    assert "Sent 1 of 6 items (17%)" in response.content.decode()
    new = JudgingSession.objects.exclude(pk=session.pk).get()
    assert list(new.items.values_list("question", flat=True)) == [first.question]
    assert new.source["items_sent"] == 1 and new.source["items_total"] == 6 and new.source["llm_run"] == run.pk
    assert set(new.judges.all()) == set(judges) and new.judges_per_item == 2
    assert session.items.count() == 6, "the original session keeps every item"


def test_a_session_of_three_systems_shows_its_llm_judges_on_its_statistics_page(alice_client):
    judges = make_judges(2)
    items = [
        ItemData.from_answers(f"Question {i}?", [f"a{i}", f"b{i}", f"c{i}"], context=f"Passage {i}.") for i in range(4)
    ]
    session = create_session(
        name="three", system_a="sys-a", system_b="sys-b", more_systems=["sys-c"], items=items, judges=judges
    )
    with FakeJudgeServer(ScriptedJudge(_truth(session))) as server:
        _default_endpoint(server.base_url)
        alice_client.post(reverse("analysis:session-llm-start", args=[session.pk]))
        run = LLMJudgeRun.objects.get(session=session)
        llm_judging.execute_run(run, Reporter())
    run.job.status = "succeeded"
    run.job.save(update_fields=["status"])

    stats = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()

    assert "Ranking of the 3 systems" in stats and "LLM judges beside the humans" in stats
    assert reverse("analysis:llm-run", args=[run.pk]) in stats and "fake-judge" in stats
    assert "an LLM run judges every pair of systems on each item" in stats  # what it judged, said plainly
    assert run.system_pairs == [[0, 1], [0, 2], [1, 2]]
    assert "no human judgments yet" in stats  # the ranking columns say why they are empty
