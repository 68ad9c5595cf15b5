"""Files that are not what they claim: wrong encodings, empty files, SQuAD `answers` that is a string.

Each is refused (or, for a UTF-16 CSV with a byte-order mark, decoded) with a message that names the real
problem, not a format hint that sends the user the wrong way."""

from __future__ import annotations

import json
import random

import pytest

from generation.importers.errors import (
    EmptyFileError,
    EncodingError,
    InvalidRecordError,
    TruncatedFileError,
    then,
)
from generation.importers.readers import read_corpus, read_csv, read_squad
from tests.generation.test_corpus_readers import ARTICLE, squad_doc, write


def test_a_utf16_csv_with_a_byte_order_mark_is_decoded(tmp_path):
    content = 'text,title\r\n"水は100度で沸騰する。",水\r\nIce melts.,Ice\r\n'
    for codec in ("utf-16", "utf-16-be"):
        raw = content.encode(codec) if codec == "utf-16" else b"\xfe\xff" + content.encode(codec)
        records = list(read_csv(write(tmp_path / f"{codec}.csv", raw)))
        assert [(r.text, r.title, r.line) for r in records] == [
            ("水は100度で沸騰する。", "水", 2),
            ("Ice melts.", "Ice", 3),
        ]


def test_a_utf16_json_file_is_refused_as_the_wrong_encoding_not_the_wrong_format(tmp_path):
    path = write(tmp_path / "s.json", squad_doc([ARTICLE]).encode("utf-16"))
    with pytest.raises(EncodingError) as exc:
        list(read_squad(path))
    assert exc.value.user_message == "s.json: the file is UTF-16, not UTF-8. Save it as UTF-8"
    assert "JSONL" not in exc.value.user_message


def test_a_utf16_json_file_without_a_byte_order_mark_is_refused_as_the_wrong_encoding(tmp_path):
    path = write(tmp_path / "s.json", squad_doc([ARTICLE]).encode("utf-16-le"))
    with pytest.raises(EncodingError, match="s.json: contains NUL bytes.*UTF-16"):
        list(read_squad(path))


def test_random_bytes_given_as_json_are_refused_as_the_wrong_encoding(tmp_path):
    rng = random.Random(3)
    raw = bytes([0x80 | rng.randrange(128)]) + bytes(rng.randrange(256) for _ in range(5000))
    path = write(tmp_path / "noise.json", raw)
    with pytest.raises(EncodingError) as exc:
        list(read_corpus(path))
    assert exc.value.user_message.startswith("noise.json: not UTF-8: byte 0x")
    assert "JSONL" not in exc.value.user_message


@pytest.mark.parametrize("name", ["empty.json", "empty.jsonl", "empty.csv", "empty.txt"])
def test_an_empty_file_says_it_is_empty(tmp_path, name):
    path = write(tmp_path / name, b"")
    with pytest.raises(EmptyFileError) as exc:
        list(read_corpus(path))
    assert exc.value.user_message.startswith(f"{name}: the file is empty (0 bytes).")
    assert "cut off" not in exc.value.user_message


def test_a_json_file_of_blank_space_says_so(tmp_path):
    with pytest.raises(EmptyFileError, match="blank.json: the file holds nothing but blank space"):
        list(read_squad(write(tmp_path / "blank.json", b"\xef\xbb\xbf \n\n")))


def test_a_truncated_file_message_ends_in_one_full_stop_when_more_follows(tmp_path):
    path = write(tmp_path / "cut.json", '{"data": [{"title": "A", "paragraphs": [')
    with pytest.raises(TruncatedFileError) as exc:
        list(read_squad(path))
    joined = then(exc.value.user_message, "Nothing was imported.")
    assert "?." not in joined and ".." not in joined
    assert joined.endswith("cut off. Nothing was imported.")


def test_squad_answers_given_as_a_string_are_refused_naming_article_paragraph_and_question(tmp_path):
    article = {
        "title": "Water",
        "paragraphs": [
            {"context": "Fine.", "qas": []},
            {"context": "Water boils at 100 degrees.", "qas": [
                {"id": "ok", "question": "What boils?", "answers": [{"text": "Water", "answer_start": 0}]},
                {"id": "bad", "question": "When?", "answers": "100 degrees"},
            ]},
        ],
    }  # fmt: skip
    with pytest.raises(InvalidRecordError) as exc:
        list(read_squad(write(tmp_path / "s.json", squad_doc([article]))))
    assert exc.value.user_message.startswith(
        "s.json, article 1 ('Water'), paragraph 2, question 2 (id bad): 'answers' must be a list of"
    )
    assert "got text" in exc.value.user_message


def test_squad_answer_starts_follow_the_text_and_prefer_the_files_offset(tmp_path):
    context = "Tokyo [SEP] A cat sat. The cat ran."
    article = {"title": "", "paragraphs": [{"context": context, "qas": [
        {"id": "q1", "question": "Which ran?", "answers": [
            {"text": "cat", "answer_start": context.rindex("cat")},  # the second "cat", not the first
            {"text": " The cat", "answer_start": context.index(" The")},  # leading space in the file
            {"text": "sat", "answer_start": 999},  # a wrong offset falls back to the first occurrence
        ]},
    ]}]}  # fmt: skip
    [record] = read_squad(write(tmp_path / "s.json", json.dumps({"data": [article]})))
    assert record.text == "A cat sat. The cat ran."
    [qa] = record.qas
    assert qa.answers == ("cat", "The cat", "sat")
    assert [record.text[s : s + len(a)] for a, s in zip(qa.answers, qa.answer_starts, strict=True)] == list(qa.answers)
    assert qa.answer_starts == (record.text.rindex("cat"), record.text.index("The"), record.text.index("sat"))
