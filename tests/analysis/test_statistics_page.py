"""The staff statistics page: headline accuracy, plots, the rules, undefined values, per-item table, access."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from analysis.models import SessionStatistics
from tests.analysis.stats_helpers import judge_session, make_judges
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db

PLOTS = ("plot-accuracy", "plot-labels", "plot-agreement", "plot-time")


def judged_session(n: int = 6, k: int = 3, decide=None):
    judges = make_judges(k)
    session = make_session(n=n, k=k, judges=judges)

    def default(item, judge):
        # A right on even positions, B right on positions divisible by 3; the last judge is harsher.
        harsh = judge == judges[-1]
        label_a = "correct" if item.position % 2 == 0 and not harsh else "incorrect"
        label_b = "correct" if item.position % 3 == 0 else "partial"
        return (label_a, label_b, "a" if label_a == "correct" else "b")

    judge_session(session, judges, decide or default)
    return session, judges


def headline(page: str) -> str:
    """The headline figures as text (tags dropped, spaces collapsed)."""
    block = re.search(r'<div class="headline" id="headline-figures">(.*?)</div>', page, re.S).group(1)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", block)).replace(" %", "%").strip()


def test_the_page_shows_accuracy_per_system_plots_and_the_rules(alice_client):
    session, judges = judged_session()
    response = alice_client.get(reverse("analysis:session-stats", args=[session.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    # A: majority correct on positions 0, 2, 4 (2 of 3 judges) = 50%; B: positions 0 and 3 = 33.3%.
    assert "Correct A 50.0% vs B 33.3%" in headline(page)
    for plot in PLOTS:
        figure = re.search(rf'<figure id="{plot}">(.*?)</figure>', page, re.S).group(1)
        assert "<svg" in figure and "</svg>" in figure, plot
    for rule in (
        "Control items are excluded from every figure except control accuracy",
        "lenient",
        "strict plurality",
        "left out of the sign test",
        "McNemar",
    ):
        assert rule in page
    assert judges[0].username in page  # staff see usernames
    stored = SessionStatistics.objects.get(session=session)
    assert stored.n_judgments == 18 and set(stored.plots) == {
        "accuracy",
        "labels_per_judge",
        "agreement_matrix",
        "judge_time",
    }


def test_undefined_coefficients_read_undefined_not_zero_or_nan(alice_client):
    session, _ = judged_session(n=4, k=2, decide=lambda item, judge: ("correct", "correct", "tie"))
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    table = re.search(r'<table id="agreement-table">(.*?)</table>', page, re.S).group(1)
    fleiss = re.search(r"Fleiss&#x27; kappa</td>(.*?)</tr>", table, re.S).group(1)
    assert "undefined" in fleiss and "0.000" not in fleiss
    assert "nan" not in page.lower().replace("nanum", "")
    assert "0 items with a tied answer left out" in re.search(r'<p id="mcnemar-ties">(.*?)</p>', page, re.S).group(1)


def test_ties_are_counted_and_named_as_left_out_of_mcnemar(alice_client):
    judges = make_judges(2)
    session = make_session(n=3, k=2, judges=judges)
    first = judges[0]

    def split(item, judge):  # item 0: the two judges disagree on A's answer (a tie); others agree
        if item.position == 0:
            return ("correct" if judge == first else "incorrect", "correct", "tie")
        return ("correct", "incorrect", "a")

    judge_session(session, judges, split)
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()
    note = re.sub(r"\s+", " ", re.search(r'<p id="mcnemar-ties">(.*?)</p>', page, re.S).group(1))
    assert "2 items where both answers have a majority label" in note
    assert "1 item with a tied answer left out" in note


def test_judges_cannot_see_statistics(bob_client):
    session = make_session(n=2, k=1)
    assert bob_client.get(reverse("analysis:session-stats", args=[session.pk])).status_code == 403
    assert bob_client.get(reverse("analysis:session-item-table", args=[session.pk])).status_code == 403
    assert not SessionStatistics.objects.exists()


def test_the_session_page_links_to_statistics_and_exports(alice_client):
    session = make_session(n=2, k=1)
    page = alice_client.get(reverse("annotation:session-detail", args=[session.pk])).content.decode()
    assert reverse("analysis:session-stats", args=[session.pk]) in page
    assert reverse("api:session-export", args=[session.pk, "judgments", "csv"]) in page


def test_the_per_item_table_shows_each_judges_labels_and_filters_disagreements(alice_client):
    judges = make_judges(2)
    session = make_session(n=60, k=2, judges=judges)

    def decide(item, judge):  # judges disagree on A's answer of every third item
        if item.position % 3 == 0 and judge == judges[1]:
            return ("incorrect", "partial", "b")
        return ("correct", "partial", "a")

    judge_session(session, judges, decide)
    url = reverse("analysis:session-item-table", args=[session.pk])
    page = alice_client.get(url).content.decode()
    assert "Every item (60)" in page and "Page 1 of 2" in page
    assert judges[0].username in page and judges[1].username in page
    filtered = alice_client.get(url, {"disagreements": "1"}).content.decode()
    assert "Only items where judges disagree</strong> (20)" in filtered
    rows = re.findall(r'<tr class="disagree">(.*?)</tr>', filtered, re.S)
    assert len(rows) == 20
    assert all("correct / partial" in row and "incorrect / partial" in row for row in rows)
    assert all(">tie<" in row for row in rows)  # one "correct", one "incorrect": no strict plurality
    second = alice_client.get(url, {"page": 2}).content.decode()
    assert "Page 2 of 2" in second


def test_the_headline_gives_correct_and_lenient_accuracy_side_by_side(alice_client):
    # A is rarely fully correct but mostly partial; B is right more often but otherwise wrong: the two
    # criteria rank the systems the other way round, as in the session that prompted this.
    session, _ = judged_session(
        n=6, k=1, decide=lambda item, judge: ("correct" if item.position == 0 else "partial",
                                              "correct" if item.position < 2 else "incorrect", "b")
    )  # fmt: skip
    page = alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode()

    assert headline(page) == "Correct A 16.7% vs B 33.3% Lenient A 100.0% vs B 33.3%"
    assert 'id="criteria-disagree"' in page
    assert "lenient also “Partially correct”" in page


def test_counts_read_in_the_singular_for_one(alice_client):
    session, _ = judged_session(n=1, k=1, decide=lambda item, judge: ("correct", "incorrect", "a"))
    page = re.sub(r"\s+", " ", alice_client.get(reverse("analysis:session-stats", args=[session.pk])).content.decode())

    assert "1 item (0 control items, left out of every figure except control accuracy), 1 judge, 1 judgment on" in page
    assert "1 judges" not in page and "1 judgments" not in page and "1 items" not in page


def test_the_per_item_table_shows_both_answers_and_the_gold_in_a_collapsible_box(alice_client):
    session, _ = judged_session(n=2, k=1)
    page = alice_client.get(reverse("analysis:session-item-table", args=[session.pk])).content.decode()

    boxes = re.findall(r'<details class="answers">(.*?)</details>', page, re.S)
    assert len(boxes) == 2
    first = session.items.order_by("position").first()
    assert first.answer_a in boxes[0] and first.answer_b in boxes[0] and first.gold_answers[0] in boxes[0]
