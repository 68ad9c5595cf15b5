"""Statistics from the database: the one-query arrays equal the engine's own pivot, and the rules hold."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.services import statistics
from analysis.services.statistics import StatisticsError, Variant
from analysis.stats import LABELS, compute_session_statistics, pivot_judgments
from annotation.models import Judgment
from tests.analysis.stats_helpers import judge_session, make_judges, rejudge
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db

# Labels per item position for judges 0, 1, 2: (A's label, B's label, preference).
PLAN = {
    0: [("correct", "incorrect", "a"), ("correct", "incorrect", "a"), ("correct", "partial", "a")],
    1: [("correct", "correct", "tie"), ("incorrect", "correct", "b"), ("partial", "correct", "b")],  # A: no majority
    2: [("incorrect", "correct", "b"), ("incorrect", "correct", "b"), ("incorrect", "incorrect", "tie")],
    3: [("partial", "incorrect", "a"), ("partial", "incorrect", "tie"), ("correct", "incorrect", "a")],
    4: [("correct", "partial", "a"), ("incorrect", "correct", "b"), ("partial", "incorrect", "a")],  # both tie
    5: [("correct", "correct", "tie"), ("correct", "correct", "tie"), ("correct", "correct", "a")],
}


def plan_decider(judges):
    index = {judge.pk: i for i, judge in enumerate(judges)}

    def decide(item, judge):
        return PLAN[item.position][index[judge.pk]]

    return decide


def engine_result_from_rows(session, n_boot: int, seed: int) -> dict:
    """The engine's own path: long rows -> pivot_judgments -> compute_session_statistics."""
    codes = statistics.label_codes(session)
    rows = list(
        Judgment.objects.filter(session=session).values_list(
            "item_id", "judge_id", "label_a", "label_b", "preference", "time_on_item_ms"
        )
    )
    items = list(session.items.order_by("id").values_list("id", "is_control"))
    item_ids, judge_ids, label_a, label_b, preference, ms = zip(*rows, strict=True)
    arrays = pivot_judgments(
        item_ids,
        judge_ids,
        label_a=[LABELS[codes[label]] for label in label_a],
        label_b=[LABELS[codes[label]] for label in label_b],
        preference=preference,
        seconds=np.array(ms) / 1000,
        items=[pk for pk, _ in items],
        judges=sorted(set(judge_ids)),
    )
    return compute_session_statistics(
        arrays.labels_a,
        arrays.labels_b,
        preference=arrays.preference,
        seconds=arrays.seconds,
        control=[control for _, control in items],
        item_ids=arrays.item_ids,
        judge_ids=arrays.judge_ids,
        system_names=(session.system_a, session.system_b),
        n_boot=n_boot,
        seed=seed,
        include_items=False,
    )


def test_statistics_from_the_database_equal_the_engine_run_on_the_same_rows():
    judges = make_judges(3)
    session = make_session(n=6, k=3, judges=judges)
    assert judge_session(session, judges, plan_decider(judges)) == 18
    ours = statistics.compute(session, Variant(n_boot=300, seed=7))["result"]
    theirs = engine_result_from_rows(session, n_boot=300, seed=7)
    for key in ("accuracy", "comparison", "agreement", "judges", "counts", "bootstrap"):
        assert ours[key] == theirs[key], key
    assert ours["accuracy"][session.system_a]["by_majority"]["n_ties"] == 2  # items 1 and 4
    assert ours["comparison"]["mcnemar"]["n_items_with_tie"] == 2
    assert ours["comparison"]["mcnemar"]["n_items_paired"] == 4


def test_only_the_latest_revision_of_a_judgment_counts():
    judges = make_judges(3)
    session = make_session(n=6, k=3, judges=judges)
    judge_session(session, judges, plan_decider(judges))
    before = statistics.compute(session, Variant(n_boot=0))["result"]
    judgment = Judgment.objects.get(item__position=1, judge=judges[0])
    rejudge(judgment, "incorrect", "correct", "b")  # item 1's A answer now has a majority: incorrect
    after = statistics.compute(session, Variant(n_boot=0))["result"]
    assert Judgment.objects.get(pk=judgment.pk).revisions.count() == 2
    assert before["accuracy"][session.system_a]["by_majority"]["n_ties"] == 2
    assert after["accuracy"][session.system_a]["by_majority"]["n_ties"] == 1
    assert after["counts"]["n_judgments"] == before["counts"]["n_judgments"] == 18


def test_the_arrays_keep_unjudged_items_and_lay_out_items_by_judges():
    judges = make_judges(2)
    session = make_session(n=5, k=2, judges=judges)
    handed = []

    def first_three(item, judge):
        handed.append(item)
        return ("correct", "partial", "a") if len(handed) <= 3 else None

    judge_session(session, judges[:1], first_three)
    data = statistics.load_session_data(session)
    assert data.labels_a.shape == (5, 1)  # every item, one judge so far
    assert sorted(data.item_ids.tolist()) == sorted(session.items.values_list("id", flat=True))
    judged = data.labels_a[:, 0] >= 0
    assert judged.sum() == 3 and set(data.labels_a[judged, 0].tolist()) == {2}  # "correct" is code 2
    assert set(data.labels_b[judged, 0].tolist()) == {1} and set(data.preference[judged, 0].tolist()) == {0}
    assert data.fingerprint == statistics.fingerprint(session)
    result = statistics.compute(session, Variant(n_boot=0))["result"]
    assert result["accuracy"][session.system_a]["by_majority"]["n_unjudged"] == 2


def test_control_items_only_change_control_accuracy():
    judges = make_judges(2)
    session = make_session(n=8, k=2, judges=judges, control_rate=0.2)
    controls = list(session.items.filter(is_control=True))
    assert controls

    def decide(item, judge):
        if item.is_control:  # judge 0 gets every control right, judge 1 every control wrong
            right = judge == judges[0]
            expected = item.expected_label_a or item.expected_label_b
            wrong = "incorrect" if expected == "correct" else "correct"
            label = expected if right else wrong
            return (label, label, "tie")
        return ("correct", "incorrect", "a")

    judge_session(session, judges, decide)
    result = statistics.compute(session, Variant(n_boot=0))["result"]
    assert result["counts"]["n_control_items"] == len(controls)
    assert result["accuracy"][session.system_a]["by_majority"]["n_items"] == 8 - len(controls)  # controls left out
    assert result["accuracy"][session.system_a]["by_majority"]["correct"]["rate"] == 1.0
    rates = {row["judge"]: row["control_accuracy"]["rate"] for row in result["judges"]}
    assert rates == {judges[0].pk: 1.0, judges[1].pk: 0.0}
    assert all(row["n_judgments"] == 8 - len(controls) for row in result["judges"])


def test_a_two_label_session_counts_the_first_label_as_correct_and_the_last_as_incorrect():
    judges = make_judges(2)
    session = make_session(n=4, k=2, judges=judges, accuracy_labels=["Right", "Wrong"])
    judge_session(session, judges, lambda item, judge: ("right", "wrong", "a"))
    result = statistics.compute(session, Variant(n_boot=0))["result"]
    accuracy = result["accuracy"][session.system_a]["by_majority"]
    assert accuracy["correct"]["rate"] == 1.0 and accuracy["lenient"]["rate"] == 1.0
    assert result["accuracy"][session.system_b]["by_majority"]["correct"]["rate"] == 0.0
    assert result["label_names"] == {"incorrect": "wrong", "partial": "partial", "correct": "right"}


def test_a_label_outside_the_session_is_refused_naming_the_judgment():
    judges = make_judges(1)
    session = make_session(n=2, k=1, judges=judges)
    judge_session(session, judges, lambda item, judge: ("correct", "incorrect", "a"))
    judgment = Judgment.objects.filter(session=session).first()
    Judgment.objects.filter(pk=judgment.pk).update(label_b="maybe")
    with pytest.raises(StatisticsError, match=rf"item {judgment.item_id} by user {judges[0].pk}: label_b"):
        statistics.compute(session, Variant(n_boot=0))


def test_a_session_without_judgments_has_undefined_figures_not_zeros():
    session = make_session(n=3, k=2)
    result = statistics.compute(session, Variant(n_boot=100))["result"]
    assert result["accuracy"][session.system_a]["by_majority"]["correct"]["rate"] is None
    assert result["agreement"]["fleiss_kappa"] == {"estimate": None, "ci": None}
    assert result["judges"] == [] and result["counts"]["n_judgments"] == 0
