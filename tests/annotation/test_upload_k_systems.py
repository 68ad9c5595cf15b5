"""Uploads naming K systems: wide `answer_<system>` columns or long `item, system, answer` rows, with errors that
name the line and the field, and nothing stored when any row is bad."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from annotation.models import JudgingSession
from annotation.services.upload import UploadError, parse_bytes


def jsonl(*rows: dict) -> bytes:
    return "\n".join(json.dumps(row) for row in rows).encode()


def test_wide_csv_names_a_system_per_answer_column():
    parsed = parse_bytes(
        b"id,question,gold,answer_base,answer_human,answer_syn\n"
        b"q1,Capital of France?,Paris,Lyon,Paris,paris\n"
        b'q2,2+2?,"[""4"", ""four""]",5,4,four\n',
        "grid.csv",
    )
    assert parsed.systems == ["base", "human", "syn"]
    assert parsed.items[0].answers == ["Lyon", "Paris", "paris"]
    assert parsed.items[1].gold_answers == ["4", "four"] and parsed.items[1].external_id == "q2"


def test_wide_rows_must_all_give_the_same_systems():
    with pytest.raises(UploadError) as caught:
        parse_bytes(
            jsonl(
                {"question": "Q1?", "answer_x": "1", "answer_y": "2", "answer_z": "3"},
                {"question": "Q2?", "answer_x": "1", "answer_y": "", "answer_w": "3"},
            ),
            "grid.jsonl",
        )
    message = str(caught.value.errors[0])
    assert message.startswith("line 2:")
    assert "missing answer_z" in message and "not on line 1: answer_w" in message and "answer_y is empty" in message


def test_long_format_groups_rows_by_item_in_system_order():
    parsed = parse_bytes(
        b"item,system,answer,question,gold\n"
        b"1,base,Lyon,Capital of France?,Paris\n"
        b"1,human,Paris,,\n"
        b"1,syn,paris,Capital of France?,\n"
        b"2,syn,four,2+2?,4\n"
        b"2,base,5,,\n"
        b"2,human,4,,\n",
        "long.csv",
    )
    assert parsed.systems == ["base", "human", "syn"]
    assert [item.external_id for item in parsed.items] == ["1", "2"]
    assert parsed.items[1].answers == ["5", "4", "four"] and parsed.items[1].gold_answers == ["4"]


def test_long_format_errors_name_line_and_field():
    with pytest.raises(UploadError) as caught:
        parse_bytes(
            jsonl(
                {"item": "a", "system": "s1", "answer": "x", "question": "Q?"},
                {"item": "a", "system": "s1", "answer": "y"},
                {"item": "a", "system": "s2", "answer": 3},
                {"item": "b", "system": "s2", "answer": "z"},
                {"item": "a", "system": "s3", "answer": "w", "question": "Other?"},
            ),
            "long.jsonl",
        )
    errors = [str(error) for error in caught.value.errors]
    assert errors[0] == "line 2: item 'a' already has an answer of system 's1' (line 1)"
    assert errors[1].startswith("line 3: answer must be text, got a number 3")
    assert errors[2] == "line 4: question is missing on the first row of item 'b'"
    assert errors[3] == "line 5: question differs from line 1 of the same item 'a'"


def test_long_format_refuses_an_item_without_every_system():
    with pytest.raises(UploadError, match=r"line 4: item '2' has no answer of system\(s\) 'y'"):
        parse_bytes(b"item,system,answer,question\n1,x,a,Q1?\n1,y,b,\n2,x,c,Q2?\n", "long.csv")


def test_staff_upload_a_wide_file_as_a_k_system_session(alice_client):
    from tests.conftest import make_user

    make_user("judge-one", judge=True)
    upload = SimpleUploadedFile(
        "grid.jsonl",
        jsonl(
            *[
                {"question": f"Q{i}?", "answer_base": f"b{i}", "answer_human": f"h{i}", "answer_syn": f"s{i}"}
                for i in range(3)
            ]
        ),  # fmt: skip
    )
    response = alice_client.post(
        reverse("annotation:session-new"),
        {"name": "Blind", "file": upload, "judges_per_item": 1, "open_to_all_judges": "on",
         "labels": "Correct\nIncorrect", "lease_minutes": 10, "control_rate": 0, "control_threshold": 0.7,
         "matchup_design": "balanced", "pairs_per_item": 1},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    session = JudgingSession.objects.get()
    assert [s.name for s in session.systems.order_by("position")] == ["base", "human", "syn"]
    assert (session.n_systems, session.matchup_design, session.assignments.count()) == (3, "balanced", 3)
