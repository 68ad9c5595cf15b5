"""Random and malformed submits to the judging page and the judging API: never a 500; a refused submit names
the field, and the stored state stays consistent (at most one judgment per assignment, one revision per
accepted change, nothing stored by a refused submit)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation.models import Judgment, JudgmentRevision
from annotation.services import assignment as assigning
from tests.annotation.helpers import make_session

pytestmark = pytest.mark.django_db

ODD = st.text(
    alphabet=st.sampled_from(["\x00", "\ud800", "a", " ", "<", "日", "'", "\u202e"]) | st.characters(codec="utf-8"),
    max_size=30,
)
FIELD_VALUES = {
    "left_label": st.sampled_from(["correct", "incorrect", "", "CORRECT", "partial"]) | ODD,
    "right_label": st.sampled_from(["correct", "incorrect", ""]) | ODD,
    "preference": st.sampled_from(["left", "right", "tie", "", "a", "b"]) | ODD,
    "comment": ODD | st.text(min_size=4990, max_size=5100),
    "submission_id": st.sampled_from(["s1", "s2", ""]) | ODD,
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | ODD,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ODD, inner, max_size=3),
    max_leaves=8,
)
VALID = {
    "left_label": "correct",
    "right_label": "incorrect",
    "preference": "left",
    "comment": "",
    "submission_id": "ok",
}
# Anything at all, and valid submits with one field replaced by an odd value (so odd values get past the
# label checks and reach the database layer).
payloads = st.fixed_dictionaries({}, optional={key: values | JSON for key, values in FIELD_VALUES.items()}) | st.builds(
    lambda key, value: {**VALID, key: value}, st.sampled_from(sorted(VALID)), ODD | JSON
)
bodies = st.one_of(
    payloads.map(lambda p: json.dumps(p).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@pytest.fixture
def assignment_of_bob(bob):
    session = make_session(n=1, k=1, judges=[bob])
    client = Client(raise_request_exception=False)
    client.force_login(bob)
    return client, assigning.next_assignment(session, bob)


def _consistent(assignment) -> None:
    judgments = Judgment.objects.filter(assignment=assignment)
    assert judgments.count() <= 1
    judgment = judgments.first()
    revisions = JudgmentRevision.objects.filter(assignment=assignment)
    assert revisions.count() == (judgment.revisions_count if judgment else 0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies)
def test_the_api_answers_any_body_with_a_stored_judgment_or_a_named_problem(assignment_of_bob, body):
    client, assignment = assignment_of_bob
    before = JudgmentRevision.objects.filter(assignment=assignment).count()
    response = client.post(
        reverse("annotation:api-assignment", args=[assignment.token]), body, content_type="application/json"
    )
    assert response.status_code in (200, 400), response.content[:300]
    data = response.json()
    if response.status_code == 400:
        assert data["error"].strip()
        assert JudgmentRevision.objects.filter(assignment=assignment).count() == before
    else:
        assert data["stored"] is True
    _consistent(assignment)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    form=st.fixed_dictionaries({}, optional=FIELD_VALUES)
    | st.builds(lambda key, value: {**VALID, key: value}, st.sampled_from(sorted(VALID)), ODD)
)
def test_the_page_answers_any_form_with_a_redirect_or_the_form_naming_the_problem(assignment_of_bob, form):
    client, assignment = assignment_of_bob
    before = JudgmentRevision.objects.filter(assignment=assignment).count()
    data = {
        key: value.encode("utf-8", errors="surrogatepass").decode("utf-8", errors="replace")
        for key, value in form.items()
    }
    response = client.post(reverse("annotation:judge-item", args=[assignment.token]), data)
    assert response.status_code in (302, 400), response.content[:300]
    if response.status_code == 400:
        assert 'role="alert"' in response.content.decode() or "error" in response.content.decode()
        assert JudgmentRevision.objects.filter(assignment=assignment).count() == before
    _consistent(assignment)


@pytest.mark.parametrize(("bad", "what"), [("x\x00y", "NUL"), ("x\ud800y", "surrogate")], ids=["nul", "surrogate"])
def test_a_comment_the_database_cannot_store_is_refused_with_a_named_problem(assignment_of_bob, bad, what):
    client, assignment = assignment_of_bob
    body = {"left_label": "correct", "right_label": "incorrect", "preference": "left", "comment": bad}
    response = client.post(
        reverse("annotation:api-assignment", args=[assignment.token]), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    assert "comment" in response.json()["error"].lower() and what in response.json()["error"]
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("bad", ["x\x00y", "x\ud800y"], ids=["nul", "surrogate"])
def test_a_submission_id_the_database_cannot_store_is_refused(assignment_of_bob, bad):
    client, assignment = assignment_of_bob
    body = {"left_label": "correct", "right_label": "incorrect", "preference": "left", "submission_id": bad}
    response = client.post(
        reverse("annotation:api-assignment", args=[assignment.token]), json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400 and "submission id" in response.json()["error"]
    assert not Judgment.objects.exists()
