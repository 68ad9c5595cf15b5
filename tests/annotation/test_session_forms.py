"""The staff forms that create a session say what to do when a prerequisite is missing, default k to what
the judges can give (min(3, judges)), and refuse a k larger than the number of judges with a clear message."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from analysis.forms import RunsSessionForm
from annotation.forms import UploadSessionForm
from annotation.models import JudgingSession
from tests.analysis.test_session_from_runs import make_run
from tests.annotation.test_upload_session import ROW, jsonl, post
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def k_initial(form) -> int:
    return form["judges_per_item"].value()


def test_k_defaults_to_three_or_the_number_of_judges_if_fewer(bob, carol):
    assert k_initial(UploadSessionForm()) == 2
    make_user("dave", judge=True)
    make_user("erin", judge=True)
    assert k_initial(UploadSessionForm()) == 3


def test_k_larger_than_the_chosen_judges_is_refused_naming_both_numbers(alice_client, bob, carol):
    response = post(alice_client, bob, jsonl(ROW), "items.jsonl", judges_per_item=3, judges=[bob.pk, carol.pk])

    assert response.status_code == 400 and not JudgingSession.objects.exists()
    text = re.sub(r"\s+", " ", response.content.decode())
    assert (
        "Judges per item (k = 3) cannot exceed the number of judges: you chose 2 judges, so no item could get "
        "3 judgments. Choose k of at most 2, or add judges first." in text
    )


def test_an_open_session_counts_the_judges_group(alice_client, bob):
    response = post(alice_client, bob, jsonl(ROW), "items.jsonl", judges_per_item=2, judges=[], open_to_all_judges="on")

    assert response.status_code == 400
    assert "the judges group has 1 active member, so no item could get 2 judgments" in response.content.decode()


def test_k_equal_to_the_judges_is_accepted(alice_client, bob, carol):
    response = post(alice_client, bob, jsonl(ROW), "items.jsonl", judges_per_item=2, judges=[bob.pk, carol.pk])

    assert response.status_code == 302 and JudgingSession.objects.get().judges_per_item == 2


def test_the_runs_form_without_runs_explains_what_to_do_first_instead_of_blank_dropdowns(alice_client):
    page = alice_client.get(reverse("analysis:session-from-runs")).content.decode()

    steps = re.search(r'<div class="card" id="missing-steps">(.*?)</div>', page, re.S).group(1)
    assert "Two evaluation runs with predictions on the same items (none yet)" in steps
    assert "add user accounts to the “judges” group" in steps
    assert reverse("training:evaluation-create") in steps
    assert 'name="run_a"' not in page  # no empty dropdowns


def test_the_runs_form_with_one_run_says_one_more_is_needed(alice_client, bob):
    make_run("only run", ["a0"])
    page = alice_client.get(reverse("analysis:session-from-runs")).content.decode()

    assert "(only one so far)" in page and 'name="run_a"' not in page
    assert "judges” group" not in page


def test_the_runs_form_with_two_runs_and_judges_shows_the_form_and_no_steps(alice_client, bob):
    make_run("run one", ["a0"])
    make_run("run two", ["b0"])
    page = alice_client.get(reverse("analysis:session-from-runs")).content.decode()

    assert 'id="missing-steps"' not in page and 'name="run_a"' in page
    assert RunsSessionForm()["judges_per_item"].value() == 1
