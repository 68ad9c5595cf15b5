"""Random and malformed session files through the staff upload page: never a 500; either the whole session
is created or the form comes back (400) naming the problem, and nothing is stored."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from annotation.models import Assignment, JudgingSession, SessionItem

pytestmark = pytest.mark.django_db

ODD = st.text(alphabet=st.sampled_from(["\x00", "\ud800", "a", " ", "\n", ",", '"', "日", "<", "\ufeff"]), max_size=12)
VALUE = st.none() | st.integers() | st.floats(allow_nan=True) | st.booleans() | ODD | st.lists(ODD, max_size=3)
ODD1 = ODD.filter(lambda text: text.strip())
# Rows that are mostly well-formed (the required fields hold some text), so odd values reach the database
# layer, mixed with rows of anything at all.
ROW = st.fixed_dictionaries(
    {"question": ODD1, "answer_a": ODD1, "answer_b": ODD1},
    optional={"context": VALUE, "gold": VALUE, "id": VALUE, "system_a": VALUE, "system_b": VALUE},
) | st.dictionaries(
    st.sampled_from(["question", "context", "gold", "answer_a", "answer_b", "system_a", "system_b", "id", "extra"]),
    VALUE,
    max_size=8,
)


def _csv(rows: list[dict]) -> bytes:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    columns = sorted({key for row in rows for key in row}) or ["question"]
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue().encode("utf-8", errors="surrogatepass")


def _jsonl(rows: list[dict]) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


files = st.one_of(
    st.binary(max_size=300).map(lambda raw: ("random.jsonl", raw)),
    st.binary(max_size=300).map(lambda raw: ("random.csv", raw)),
    st.lists(ROW, max_size=4).map(lambda rows: ("rows.jsonl", _jsonl(rows))),
    st.lists(ROW, max_size=4).map(lambda rows: ("rows.csv", _csv(rows))),
)


@pytest.fixture
def staff_client(alice):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    return client


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(upload=files)
def test_any_session_file_creates_the_whole_session_or_names_the_problem_and_stores_nothing(staff_client, bob, upload):
    name, content = upload
    before = (JudgingSession.objects.count(), SessionItem.objects.count(), Assignment.objects.count())
    response = staff_client.post(
        reverse("annotation:session-new"),
        {
            "name": "Fuzzed", "file": SimpleUploadedFile(name, content), "judges_per_item": 1, "judges": [bob.pk],
            "labels": "Correct\nIncorrect", "lease_minutes": 10, "control_rate": 0, "control_threshold": 0.7,
            "system_a": "sys-one", "system_b": "sys-two",
        },
    )  # fmt: skip

    assert response.status_code in (302, 400), response.content[:500]
    if response.status_code == 400:
        page = response.content.decode()
        assert "errorlist" in page and ("line" in page or "file" in page), page[:2000]
        assert (JudgingSession.objects.count(), SessionItem.objects.count(), Assignment.objects.count()) == before
    else:
        session = JudgingSession.objects.order_by("-pk").first()
        assert JudgingSession.objects.count() == before[0] + 1 and session.items.count() >= 1


@pytest.mark.parametrize("field", ["question", "context", "answer_a", "gold"])
@pytest.mark.parametrize(("bad", "what"), [("x\x00y", "NUL"), ("x\ud800y", "surrogate")], ids=["nul", "surrogate"])
def test_text_the_database_cannot_store_is_named_with_its_line(staff_client, bob, field, bad, what):
    rows = [{"question": f"Q{i}?", "answer_a": "yes", "answer_b": "no", "gold": ["yes"]} for i in range(3)]
    rows[1][field] = [bad] if field == "gold" else bad
    response = staff_client.post(
        reverse("annotation:session-new"),
        {
            "name": "Odd", "file": SimpleUploadedFile("odd.jsonl", _jsonl(rows)), "judges_per_item": 1,
            "judges": [bob.pk], "labels": "Correct\nIncorrect", "lease_minutes": 10, "control_rate": 0,
            "control_threshold": 0.7, "system_a": "sys-one", "system_b": "sys-two",
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert f"line 2: {field} contains" in response.content.decode() and what in response.content.decode()
    assert not JudgingSession.objects.exists()
