"""An LLM judge on a session of more than two systems: it judges every pair of systems on every item (in both
orders), is compared with the humans per item and pair of systems, and ranks the systems beside the human
ranking, saying whether it would have reached the humans' conclusion."""

from __future__ import annotations

import csv
import io
import random

import numpy as np
import pytest
from django.urls import reverse

from analysis.models import LLMJudgeRun, LLMVerdict, LLMVote
from analysis.services import llm_judging, statistics
from analysis.services.llm_judging import JudgeSettings, create_run
from annotation.models import ItemAnswer
from annotation.services import assignment as assigning
from annotation.services import judging
from annotation.services.sessions import ItemData, create_session
from tests.analysis.stats_helpers import TO_DISPLAY, judge_session, make_judges
from tests.analysis.test_llm_judge_runs import Reporter
from tests.annotation.helpers import make_session
from tests.generation.synth_helpers import endpoint_model
from tests.support.fake_judge_endpoint import FakeJudgeServer, ScriptedJudge

pytestmark = pytest.mark.django_db

N_ITEMS = 8
TRUTH_BY_SYSTEM = ("correct", "incorrect", "partial")  # sys-a, sys-b, sys-c: humans rank a > c > b
BETTER = {"correct": 2, "partial": 1, "incorrect": 0}


def three_systems(judges=(), n: int = N_ITEMS):
    items = [
        ItemData.from_answers(f"Question {i}?", [f"a{i}", f"b{i}", f"c{i}"], context=f"Passage {i}.") for i in range(n)
    ]
    return create_session(
        name="three", system_a="sys-a", system_b="sys-b", more_systems=["sys-c"], items=items, judges=judges,
        judges_per_item=2,
    )  # fmt: skip


def truth(session) -> dict[str, str]:
    """Answer text -> label, as the scripted LLM reads it."""
    out = {}
    for answer in ItemAnswer.objects.filter(item__session=session):
        out[answer.text] = TRUTH_BY_SYSTEM[answer.system]
    return out


def judge_by_system(session, judges, label_of=lambda system, pair: TRUTH_BY_SYSTEM[system]) -> int:
    """Every judge judges every slot they are given; labels come from ``label_of(system, pair)`` and the better
    label is preferred. Returns the number of judgments."""
    stored = 0
    for judge in judges:
        while (a := assigning.next_assignment(session, judge)) is not None:
            pair = (a.system_a, a.system_b)
            label_a, label_b = label_of(a.system_a, pair), label_of(a.system_b, pair)
            preference = "tie" if label_a == label_b else ("a" if BETTER[label_a] > BETTER[label_b] else "b")
            left, right = (label_b, label_a) if a.swapped else (label_a, label_b)
            judging.submit(a.token, judge, judging.Submission(left, right, TO_DISPLAY[a.swapped][preference], ""))
            stored += 1
    return stored


def judged(session, judge: ScriptedJudge, settings: JudgeSettings = JudgeSettings(concurrency=4)) -> LLMJudgeRun:
    with FakeJudgeServer(judge) as server:
        run = create_run(session, endpoint_model(server.base_url), settings=settings, enqueue=False)
        llm_judging.execute_run(run, Reporter())
        run.n_requests = server.n_requests
    run.job.status = "succeeded"
    run.job.save(update_fields=["status"])
    return run


def test_every_pair_of_systems_is_judged_in_both_orders_with_labels_in_system_terms():
    session = three_systems()
    run = judged(session, ScriptedJudge(truth(session)))

    assert run.system_pairs == [[0, 1], [0, 2], [1, 2]]
    assert run.n_requests == N_ITEMS * 3 * 2 == LLMVote.objects.filter(run=run).count()
    verdicts = {v.key: v for v in LLMVerdict.objects.filter(run=run)}
    assert len(verdicts) == N_ITEMS * 3
    item = session.items.order_by("pk").first()
    assert (verdicts[item.pk, 0, 1].label_a, verdicts[item.pk, 0, 1].label_b) == ("correct", "incorrect")
    b_vs_c = verdicts[item.pk, 1, 2]
    assert (b_vs_c.label_a, b_vs_c.label_b, b_vs_c.preference, b_vs_c.status) == (
        "incorrect", "partial", "b", "consistent",
    )  # fmt: skip


def test_a_run_of_the_first_two_systems_only_asks_for_those_and_has_no_ranking():
    judges = make_judges(2)
    session = three_systems(judges)
    judge_by_system(session, judges)
    run = judged(session, ScriptedJudge(truth(session)), JudgeSettings(pairs="first"))

    assert run.system_pairs == [[0, 1]] and run.n_requests == N_ITEMS * 2
    result = llm_judging.agreement(run, n_boot=0)
    assert result["comparisons"]["pairs"] == [["sys-a", "sys-b"]]
    assert "ranking" not in result and result["conclusions"]["correct"]["same_sign"] is True
    human_units = result["vs_human_majority"]["labels"]["n_answers"]
    assert human_units == 2 * N_ITEMS, "only the humans' judgments of sys-a vs sys-b are compared"


def test_humans_are_matched_to_the_llm_per_item_and_pair_of_systems():
    judges = make_judges(2)
    session = three_systems(judges)
    # The humans call sys-c's answer partial beside sys-a but incorrect beside sys-b; the LLM says partial in both.
    judge_by_system(session, judges, lambda s, pair: "incorrect" if (s, pair) == (2, (1, 2)) else TRUTH_BY_SYSTEM[s])
    run = judged(session, ScriptedJudge(truth(session)))

    result = llm_judging.agreement(run, n_boot=50)
    labels = result["vs_human_majority"]["labels"]

    assert labels["n_answers"] == 2 * 3 * N_ITEMS
    # an item's three comparisons are resampled together (they are not independent)
    assert result["bootstrap"]["resampling"].startswith("items, each with all its comparisons")
    assert labels["accuracy"]["estimate"] == pytest.approx(5 / 6)  # all but sys-c's answers in the (b, c) pair
    matrix = labels["confusion"]["matrix"]  # rows human majority, columns LLM, engine order incorrect/partial/correct
    assert matrix[0][1] == N_ITEMS and sum(map(sum, matrix)) == 6 * N_ITEMS


def test_an_llm_that_prefers_as_the_humans_do_reaches_their_ranking():
    judges = make_judges(2)
    session = three_systems(judges)
    judge_by_system(session, judges)
    run = judged(session, ScriptedJudge(truth(session)))

    ranking = llm_judging.agreement(run, n_boot=200)["ranking"]

    assert ranking["kendall_tau"]["tau"] == pytest.approx(1.0)
    assert ranking["best"] == {"human": ["sys-a"], "llm": ["sys-a"], "same": True}
    assert ranking["n_pairs_same_conclusion"] == ranking["n_pairs_compared"] == 3
    assert ranking["same_conclusion"] is True
    by_pair = {tuple(p["systems"]): p for p in ranking["pairs"]}
    assert by_pair["sys-b", "sys-c"]["human"]["conclusion"] == by_pair["sys-b", "sys-c"]["llm"]["conclusion"] == "b"
    assert ranking["n_llm_verdicts"] == 3 * N_ITEMS


def test_an_llm_that_prefers_the_worse_answer_is_shown_not_to_reach_the_humans_conclusion():
    judges = make_judges(2)
    session = three_systems(judges)
    judge_by_system(session, judges)
    run = judged(session, ScriptedJudge(truth(session), ranking=("incorrect", "partial", "correct")))

    ranking = llm_judging.agreement(run, n_boot=0)["ranking"]

    assert ranking["kendall_tau"]["tau"] == pytest.approx(-1.0)
    assert ranking["best"] == {"human": ["sys-a"], "llm": ["sys-b"], "same": False}
    assert ranking["n_pairs_same_conclusion"] == 0 and ranking["same_conclusion"] is False


def test_a_crashed_many_system_run_resumes_without_asking_any_vote_twice():
    session = three_systems(n=4)
    with FakeJudgeServer(ScriptedJudge(truth(session))) as server:
        run = create_run(session, endpoint_model(server.base_url), settings=JudgeSettings(batch_size=4, concurrency=1),
                         enqueue=False)  # fmt: skip
        with pytest.raises(Reporter.Crash):
            llm_judging.execute_run(run, Reporter(crash_after=2))
        assert 0 < LLMVote.objects.filter(run=run).count() < 24
        llm_judging.execute_run(run, Reporter())
    assert server.n_requests == 24
    keys = list(LLMVote.objects.filter(run=run).values_list("item_id", "system_a", "system_b", "order", "vote"))
    assert len(keys) == len(set(keys)) == 24
    assert LLMVerdict.objects.filter(run=run, status="consistent").count() == 12


def test_unsure_items_go_to_a_new_session_with_all_the_systems():
    session = three_systems(n=4)
    run = judged(session, ScriptedJudge(truth(session), position_biased=True))

    new = llm_judging.send_unsure_to_humans(run)

    assert new.n_systems == 3 and new.items.count() == 4
    assert list(new.systems.order_by("position").values_list("name", flat=True)) == ["sys-a", "sys-b", "sys-c"]
    assert ItemAnswer.objects.filter(item__session=new, system=2).count() == 4


def test_the_run_page_the_statistics_page_and_the_votes_export_show_the_pairs_and_the_ranking(alice_client):
    judges = make_judges(2)
    session = three_systems(judges)
    judge_by_system(session, judges)
    run = judged(session, ScriptedJudge(truth(session)))

    page = alice_client.get(reverse("analysis:llm-run", args=[run.pk])).content.decode()
    assert "Ranking side by side" in page and 'id="llm-ranking"' in page
    assert "the LLM reaches the humans' conclusion" in page and "3 of 3</strong> pairs" in page
    assert "win shares (a ranking has no finite strengths" in page  # a perfectly consistent judge: no finite strengths
    assert "sys-b (A) vs sys-c (B)" in page and 'id="llm-conclusions"' not in page
    assert page.count("True · True") == 3, "every pair: the same conclusion, win-rate intervals overlapping"

    stats = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    assert "an LLM run judges every pair of systems" in stats
    assert "same best (sys-a)" in stats and "3 of 3 pairs" in stats

    api = alice_client.get(reverse("api:session-llm-judges", args=[session.pk])).json()["runs"][0]
    assert api["system_pairs"] == [["sys-a", "sys-b"], ["sys-a", "sys-c"], ["sys-b", "sys-c"]]
    assert api["agreement"]["ranking"]["best"]["same"] is True and api["agreement"]["conclusions"] is None

    votes = alice_client.get(reverse("analysis:llm-run-votes", args=[run.pk])).content.decode()
    rows = list(csv.DictReader(io.StringIO(votes)))
    assert len(rows) == 6 * N_ITEMS
    pairs = {(r["system_a"], r["system_b"]) for r in rows}
    assert pairs == {("sys-a", "sys-b"), ("sys-a", "sys-c"), ("sys-b", "sys-c")}


def test_the_start_form_offers_every_pair_or_the_first_two(alice_client):
    session = three_systems()
    page = alice_client.get(reverse("analysis:session-llm-runs", args=[session.pk])).content.decode()
    assert 'name="pairs"' in page and "every pair (3 systems ranked beside the humans; 48 outputs per vote)" in page
    assert "sys-a and sys-b only (no ranking; 16 outputs per vote)" in page
    with FakeJudgeServer(ScriptedJudge(truth(session))) as server:
        model = endpoint_model(server.base_url)
        start = reverse("analysis:session-llm-start", args=[session.pk])
        alice_client.post(start, {"model": model.pk, "pairs": "first"})
    assert LLMJudgeRun.objects.get(session=session).system_pairs == [[0, 1]]
    refused = alice_client.post(
        reverse("analysis:session-llm-start", args=[session.pk]), {"model": model.pk, "pairs": "some"}, follow=True
    )
    assert "pairs must be &#x27;all&#x27; or &#x27;first&#x27;" in refused.content.decode()
    assert LLMJudgeRun.objects.filter(session=session).count() == 1


def test_with_two_systems_the_humans_compared_are_exactly_the_statistics_grids():
    """The per-comparison loader gives a two-system session the same human arrays as the statistics' own loader."""
    judges = make_judges(3)
    session = make_session(n=8, k=3, judges=judges)
    rng = random.Random(7)
    labels = ["correct", "partial", "incorrect"]
    judge_session(session, judges, lambda item, judge: (rng.choice(labels), rng.choice(labels), rng.choice("ab")))
    keys = [(pk, 0, 1) for pk in session.items.filter(is_control=False).order_by("pk").values_list("pk", flat=True)]

    mine = llm_judging.human_comparisons(session, keys)
    data = statistics.load_session_data(session)

    main = ~data.control
    assert data.item_ids[main].tolist() == [k[0] for k in keys]
    columns = [data.judge_ids.tolist().index(j) for j in mine.judge_ids]
    assert sorted(mine.judge_ids) == sorted(data.judge_ids.tolist())
    np.testing.assert_array_equal(mine.labels_a, data.labels_a[main][:, columns])
    np.testing.assert_array_equal(mine.labels_b, data.labels_b[main][:, columns])
    np.testing.assert_array_equal(mine.preference, data.preference[main][:, columns])
