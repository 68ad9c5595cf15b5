"""A session from two evaluation runs (or two cells of an experiment): items linked to both predictions."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from analysis.services import from_runs
from annotation.models import JudgingSession, SessionItem
from annotation.services.sessions import SessionError
from core.models import ModelEntry, ModelKind, ModelRole
from generation.models import Corpus
from training.models import EvaluationRun, Experiment, ExperimentCell, Prediction

pytestmark = pytest.mark.django_db


def make_run(name: str, answers: list[str], *, questions: list[str] | None = None) -> EvaluationRun:
    model, _ = ModelEntry.objects.get_or_create(
        name="base-model-x", defaults={"kind": ModelKind.HF, "role": ModelRole.QA_BASE, "path": "/tmp/x"}
    )
    corpus, _ = Corpus.objects.get_or_create(name="Eval corpus")
    run = EvaluationRun.objects.create(name=name, base_model=model, corpus=corpus)
    for index, text in enumerate(answers):
        Prediction.objects.create(
            evaluation_run=run,
            item_index=index,
            item_key=f"reference:{100 + index}",
            context=f"Context {index}: the answer is gold{index}.",
            question=questions[index] if questions else f"Question {index}?",
            gold_answers=[f"gold{index}"],
            prediction=text,
            exact_match=float(text == f"gold{index}"),
            f1=0.5,
            bertscore_f1=0.9,
        )
    return run


def test_items_pair_the_two_runs_and_keep_links_and_scores():
    run_a = make_run("synthetic-N3", ["gold0", "wrong", "gold2"])
    run_b = make_run("human-baseline", ["nope", "gold1", "gold2"])
    session = from_runs.create_session_from_runs(run_a, run_b, judges_per_item=2, open_to_all_judges=True)
    items = list(session.items.order_by("position"))
    assert [(i.answer_a, i.answer_b) for i in items] == [("gold0", "nope"), ("wrong", "gold1"), ("gold2", "gold2")]
    assert from_runs.linked_prediction(items[0], "a").evaluation_run == run_a
    assert from_runs.linked_prediction(items[0], "b").evaluation_run == run_b
    assert items[0].metrics_a == {"exact_match": 1.0, "f1": 0.5, "bertscore_f1": 0.9}
    assert items[0].metrics_b["exact_match"] == 0.0
    assert "synthetic-N3" in session.system_a and "human-baseline" in session.system_b
    assert session.source["evaluation_runs"] == [run_a.pk, run_b.pk]
    assert session.assignments.count() == 6


def test_runs_on_different_items_are_refused_and_nothing_is_stored():
    run_a = make_run("a", ["x", "y", "z"])
    run_b = make_run("b", ["x", "y"])
    with pytest.raises(SessionError, match="differ in 1 item"):
        from_runs.create_session_from_runs(run_a, run_b, open_to_all_judges=True)
    other = make_run("c", ["x", "y", "z"], questions=["Q0?", "Another?", "Q2?"])
    with pytest.raises(SessionError, match="ask different questions"):
        from_runs.create_session_from_runs(run_a, other, open_to_all_judges=True)
    assert JudgingSession.objects.count() == 0 and SessionItem.objects.count() == 0


def test_staff_create_a_session_from_two_runs_in_the_browser_form(alice_client, bob):
    run_a = make_run("run-one", ["a0", "a1"])
    run_b = make_run("run-two", ["b0", "b1"])
    response = alice_client.post(
        reverse("analysis:session-from-runs"),
        {"name": "Blind", "run_a": run_a.pk, "run_b": run_b.pk, "judges_per_item": 1, "judges": [bob.pk],
         "labels": "Correct\nIncorrect", "lease_minutes": 10, "control_rate": 0, "control_threshold": 0.7},
    )  # fmt: skip
    assert response.status_code == 302
    session = JudgingSession.objects.get()
    assert session.items.count() == 2 and session.label_keys == ["correct", "incorrect"]


def test_one_click_from_an_experiment_compares_synthetic_with_human_by_default(alice_client, bob, carol):
    corpus = Corpus.objects.create(name="Exp corpus")
    model = ModelEntry.objects.create(name="qa-base", kind=ModelKind.HF, role=ModelRole.QA_BASE, path="/tmp/y")
    experiment = Experiment.objects.create(name="Paper grid", corpus=corpus, qa_base=model)
    synthetic = ExperimentCell.objects.create(
        experiment=experiment, position=0, kind="synthetic", context_source="passage", shots=1, pairs_per_passage=3,
        evaluation_run=make_run("synthetic cell", ["s0", "s1"]),
    )  # fmt: skip
    human = ExperimentCell.objects.create(
        experiment=experiment, position=1, kind="human", evaluation_run=make_run("human cell", ["h0", "h1"])
    )
    url = reverse("analysis:session-from-experiment", args=[experiment.pk])
    page = alice_client.get(url).content.decode()
    assert f'value="{synthetic.pk}" selected' in page and f'value="{human.pk}" selected' in page
    response = alice_client.post(
        url,
        {"name": "Which answer is better?", "cell_a": synthetic.pk, "cell_b": human.pk, "judges_per_item": 2,
         "open_to_all_judges": "on", "labels": "Correct\nPartially correct\nIncorrect", "lease_minutes": 10,
         "control_rate": 0, "control_threshold": 0.7},
    )  # fmt: skip
    assert response.status_code == 302
    session = JudgingSession.objects.get()
    assert session.source["experiment"] == experiment.pk
    assert session.system_a.startswith("Paper grid: passage, 1-shot, N=3")
    assert [i.answer_b for i in session.items.order_by("position")] == ["h0", "h1"]
    assert "Paper grid" in alice_client.get(reverse("annotation:session-list")).content.decode()


def make_grid(*answer_lists: list[str], name: str = "Grid") -> tuple[Experiment, list[ExperimentCell]]:
    corpus = Corpus.objects.create(name=f"{name} corpus")
    model = ModelEntry.objects.create(name=f"{name} base", kind=ModelKind.HF, role=ModelRole.QA_BASE, path="/tmp/g")
    experiment = Experiment.objects.create(name=name, corpus=corpus, qa_base=model)
    cells = [
        ExperimentCell.objects.create(
            experiment=experiment,
            position=i,
            kind="synthetic",
            context_source="passage",
            shots=i % 2,
            pairs_per_passage=1 + 2 * i,
            evaluation_run=make_run(f"{name} cell {i}", answers),
        )  # fmt: skip
        for i, answers in enumerate(answer_lists)
    ]
    return experiment, cells


def test_judge_all_cells_makes_one_k_system_session_linked_to_every_prediction(alice_client, bob, carol):
    experiment, cells = make_grid(["a0", "a1"], ["b0", "b1"], ["c0", "c1"], ["d0", "d1"])
    url = reverse("analysis:session-from-experiment-cells", args=[experiment.pk])
    page = alice_client.get(url).content.decode()
    for cell in cells:  # every evaluated cell is ticked by default
        assert re.search(rf'name="cells" value="{cell.pk}"[^>]*checked', page)
    assert 'name="matchup_design"' in page and 'name="pairs_per_item"' in page
    response = alice_client.post(
        url,
        {"name": "Which answer is better?", "cells": [c.pk for c in cells[:3]], "matchup_design": "balanced",
         "pairs_per_item": 2, "judges_per_item": 1, "open_to_all_judges": "on", "labels": "Correct\nIncorrect",
         "lease_minutes": 10, "control_rate": 0, "control_threshold": 0.7},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    session = JudgingSession.objects.get()
    assert (session.n_systems, session.matchup_design, session.pairs_per_item) == (3, "balanced", 2)
    assert [s.source["cell"] for s in session.systems.order_by("position")] == [c.pk for c in cells[:3]]
    assert session.assignments.count() == 2 * 2  # 2 items x 2 pairs x k = 1
    item = session.items.order_by("position").first()
    for position, side in enumerate("abc"):
        prediction = from_runs.linked_prediction(item, side)
        assert prediction.evaluation_run == cells[position].evaluation_run
        assert item.answers.get(system=position).text == prediction.prediction
    assert from_runs.linked_prediction(item, "d") is None


def test_judge_all_cells_defaults_to_every_cell_and_refuses_mismatched_runs():
    experiment, cells = make_grid(["a0", "a1"], ["b0", "b1"], ["c0", "c1"])
    session = from_runs.create_session_from_cells(experiment, open_to_all_judges=True, judges_per_item=1)
    assert session.n_systems == 3 and session.assignments.count() == 2 * 3  # all pairs by default
    other, _ = make_grid(["a0", "a1"], ["b0"], name="Short")
    with pytest.raises(SessionError, match="differ in 1 item"):
        from_runs.create_session_from_cells(other, open_to_all_judges=True)
    assert JudgingSession.objects.count() == 1


def test_a_judged_all_cells_session_ranks_the_cells_beside_the_metric_table(alice_client, bob):
    from annotation.services.assignment import next_assignment
    from annotation.services.judging import Submission, display, submit

    experiment, cells = make_grid(*[[f"{letter}{i}" for i in range(6)] for letter in "abc"])
    for position, cell in enumerate(cells):  # BERTScore orders the cells a > b > c, as the judges will
        cell.evaluation_run.predictions.update(bertscore_f1=0.9 - 0.1 * position)
    session = from_runs.create_session_from_cells(experiment, judges=[bob], judges_per_item=1)
    while (assignment := next_assignment(session, bob)) is not None:
        shown = display(assignment)
        assert not any(cell.evaluation_run.name in str(shown) for cell in cells)  # blind
        left, right = shown["answers"]["left"], shown["answers"]["right"]
        item_number = int(left[1:])
        choice = "tie" if item_number % 3 == 0 else ("left" if left < right else "right")
        submit(assignment.token, bob, Submission(left_label="correct", right_label="incorrect", preference=choice))
    assert session.judgments.count() == 6 * 3

    stats_page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    assert 'id="many-systems"' in stats_page and reverse("analysis:session-ranking", args=[session.pk]) in stats_page
    assert "statistics-state" not in stats_page  # no A-vs-B figures for three systems

    page = alice_client.get(reverse("analysis:experiment-stats", args=[experiment.pk])).content.decode()
    table = page.split('id="human-ranking-table"')[1].split("</table>")[0]
    assert [table.index(cell.label) for cell in cells] == sorted(table.index(cell.label) for cell in cells)
    tau = page.split('id="bertscore-tau"')[1].split("</p>")[0]
    assert "<strong>1.00</strong>" in tau, tau
