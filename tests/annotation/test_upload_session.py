"""Creating a session from an uploaded JSONL or CSV file: all rows good or nothing stored."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from hypothesis import given, settings
from hypothesis import strategies as st

from annotation.models import Assignment, JudgingSession, SessionItem
from annotation.services.upload import UploadError, parse_bytes

ROW = {
    "question": "What boils at 100 degrees?",
    "context": "Water boils at 100 degrees Celsius at sea level.",
    "gold": ["water", "pure water"],
    "answer_a": "water",
    "answer_b": "milk",
    "system_a": "zero-shot",
    "system_b": "one-shot",
}


def jsonl(*rows) -> bytes:
    return "\n".join(json.dumps(row, ensure_ascii=False) for row in rows).encode()


def post(client, bob, content: bytes, filename: str, **extra):
    data = {
        "name": "Upload test",
        "file": SimpleUploadedFile(filename, content),
        "judges_per_item": 1,  # k cannot exceed the judges chosen (bob alone)
        "judges": [bob.pk],
        "labels": "Correct\nPartially correct\nIncorrect",
        "ask_preference": "on",
        "lease_minutes": 10,
        "control_rate": 0,
        "control_threshold": 0.7,
    }
    data.update(extra)
    return client.post(reverse("annotation:session-new"), data)


def test_a_jsonl_upload_creates_the_session_items_and_k_slots(alice_client, bob):
    response = post(alice_client, bob, jsonl(ROW, {**ROW, "question": "Second?", "gold": "one"}), "items.jsonl")
    assert response.status_code == 302
    session = JudgingSession.objects.get()
    assert response["Location"] == session.get_absolute_url()
    assert (session.system_a, session.system_b) == ("zero-shot", "one-shot")
    assert [i.gold_answers for i in session.items.order_by("position")] == [["water", "pure water"], ["one"]]
    assert Assignment.objects.filter(session=session).count() == 2  # 2 items x k = 1
    assert list(session.judges.all()) == [bob]


def test_a_csv_upload_with_japanese_text_and_a_json_list_of_gold_answers(alice_client, bob):
    content = (
        "question,context,gold,answer_a,answer_b\n"
        '富士山の高さは?,富士山は3776メートルです。,"[""3776メートル"", ""3776 m""]",3776メートル,4000メートル\n'
        "Q2,ctx,gold2,a2,b2\n"
    ).encode()
    response = post(alice_client, bob, content, "items.csv", system_a="sys-one", system_b="sys-two")
    assert response.status_code == 302
    item = SessionItem.objects.order_by("position").first()
    assert item.question == "富士山の高さは?" and item.gold_answers == ["3776メートル", "3776 m"]
    assert JudgingSession.objects.get().system_b == "sys-two"


def test_bad_rows_are_reported_by_line_and_nothing_is_stored(alice_client, bob):
    rows = [
        json.dumps(ROW),
        "{not json",
        json.dumps({**ROW, "answer_b": ""}),
        json.dumps({**ROW, "system_a": "other"}),
        json.dumps({**ROW, "colour": "red"}),
    ]
    response = post(alice_client, bob, "\n".join(rows).encode(), "bad.jsonl")
    assert response.status_code == 400
    text = response.content.decode()
    assert "line 2: not valid JSON" in text
    assert "line 3: answer_b is empty" in text
    assert "line 4: system_a is &#x27;other&#x27; but line 1 says &#x27;zero-shot&#x27;" in text
    assert "line 5: unknown field(s) colour" in text
    assert "nothing was stored" in text
    assert JudgingSession.objects.count() == 0 and SessionItem.objects.count() == 0


def test_a_csv_with_a_missing_column_or_a_short_row_is_refused(alice_client, bob):
    response = post(alice_client, bob, b"question,answer_a\nq,a\n", "x.csv", system_a="s1", system_b="s2")
    assert "line 1: the header lacks required column(s) answer_b" in response.content.decode()
    response = post(
        alice_client, bob, b"question,answer_a,answer_b\nq,a,b\nq2,a2\n", "x.csv", system_a="1", system_b="2"
    )
    assert "line 3: has 2 fields, the header has 3" in response.content.decode()
    assert JudgingSession.objects.count() == 0


def test_a_file_over_the_size_limit_is_refused(alice_client, bob, settings):
    settings.QASYNTH_MAX_UPLOAD_BYTES = 100
    response = post(alice_client, bob, jsonl(ROW, ROW), "big.jsonl")
    assert response.status_code == 400
    assert "the limit is 100 bytes" in response.content.decode()
    assert JudgingSession.objects.count() == 0


def test_systems_must_be_named_somewhere(alice_client, bob):
    row = {k: v for k, v in ROW.items() if not k.startswith("system")}
    response = post(alice_client, bob, jsonl(row), "nosys.jsonl")
    assert response.status_code == 400
    assert "Name both systems" in response.content.decode()
    assert JudgingSession.objects.count() == 0


def test_judges_cannot_create_sessions(bob_client, bob):
    response = post(bob_client, bob, jsonl(ROW), "items.jsonl")
    assert response.status_code == 403
    assert JudgingSession.objects.count() == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400), st.sampled_from(["x.jsonl", "x.csv", "x.txt"]))
def test_the_parser_never_fails_with_anything_but_a_clear_upload_error(raw, name):
    try:
        parsed = parse_bytes(raw, name)
    except UploadError as exc:
        assert exc.errors and all(str(error) for error in exc.errors)
    else:
        assert parsed.items and all(item.question and item.answer_a and item.answer_b for item in parsed.items)


def test_a_number_where_text_is_meant_is_refused_naming_the_field_and_line():
    content = jsonl(ROW, {**ROW, "question": "Second?", "gold": 5}, {**ROW, "question": "Third?", "answer_b": 1.50})

    try:
        parse_bytes(content, "items.jsonl")
    except UploadError as exc:
        messages = [str(error) for error in exc.errors]
    else:
        raise AssertionError("a number was stored as text")
    assert messages == [
        'line 2: gold must be text, got a number 5 (write it as text: "gold": "5")',
        'line 3: answer_b must be text, got a number 1.5 (write it as text: "answer_b": "1.5")',
    ]


def test_a_list_of_gold_answers_with_a_number_names_it():
    content = jsonl({**ROW, "gold": ["water", 7]})

    try:
        parse_bytes(content, "items.jsonl")
    except UploadError as exc:
        messages = [str(error) for error in exc.errors]
        assert messages == ["line 1: gold must be text or a list of texts; the list holds 7"]
    else:
        raise AssertionError("a number in the gold list was accepted")


def test_a_whole_number_id_is_accepted_as_documented():
    parsed = parse_bytes(jsonl({**ROW, "id": 17}), "items.jsonl")

    assert parsed.items[0].external_id == "17"
