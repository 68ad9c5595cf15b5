"""Corpus readers on good and bad files written by the tests; errors must name the file and the place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generation.importers.errors import (
    CorpusImportError,
    EmptyFileError,
    EmptyTextError,
    EncodingError,
    InvalidRecordError,
    MissingFieldError,
    NotJSONError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from generation.importers.readers import (
    Columns,
    QARecord,
    ReadStats,
    detect_format,
    read_corpus,
    read_csv,
    read_jsonl,
    read_squad,
    read_txt,
)


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def squad_doc(articles: list[dict], version: str | None = "1.1") -> str:
    doc: dict = {"data": articles}
    if version:
        doc["version"] = version
    return json.dumps(doc, ensure_ascii=False)


# ------------------------------------------------------------------------------------------------ txt


class TestPlainText:
    def test_it_reads_one_passage_per_blank_line_separated_block(self, tmp_path):
        path = write(tmp_path / "c.txt", "\ufeffFirst passage,\nstill first.\r\n\r\n\n  Second one.  \n\n\nThird.")
        records = list(read_txt(path))
        assert [r.text for r in records] == ["First passage,\nstill first.", "Second one.", "Third."]
        assert [r.position for r in records] == [0, 1, 2]
        assert [r.line for r in records] == [1, 5, 8]

    def test_an_empty_file_is_an_error_naming_the_file(self, tmp_path):
        path = write(tmp_path / "empty.txt", "\n\n  \n")
        with pytest.raises(EmptyFileError) as exc:
            list(read_txt(path))
        assert exc.value.user_message.startswith("empty.txt: no passages found")

    def test_shift_jis_is_rejected_with_the_line_and_a_conversion_hint(self, tmp_path):
        path = write(tmp_path / "sjis.txt", b"ok line\n\n" + "日本語の文章です。\n".encode("cp932"))
        with pytest.raises(EncodingError) as exc:
            list(read_txt(path))
        err = exc.value
        assert err.line == 3
        assert "sjis.txt, line 3: not UTF-8: byte 0x93 at byte 9" in err.user_message
        assert "Shift_JIS" in err.user_message

    def test_utf16_with_a_byte_order_mark_is_decoded(self, tmp_path):
        path = write(tmp_path / "u16.txt", "hello\r\nworld\r\n\r\n日本語\n".encode("utf-16"))
        assert [r.text for r in read_txt(path)] == ["hello\nworld", "日本語"]

    def test_utf16_without_a_byte_order_mark_gets_its_own_hint(self, tmp_path):
        path = write(tmp_path / "u16.txt", "hello\n".encode("utf-16-le"))
        with pytest.raises(EncodingError, match="u16.txt, line 1: contains NUL bytes.*UTF-16"):
            list(read_txt(path))

    def test_a_zero_byte_file_says_it_is_empty(self, tmp_path):
        with pytest.raises(EmptyFileError) as exc:
            read_txt(write(tmp_path / "empty.txt", b""))
        assert (
            exc.value.user_message
            == "empty.txt: the file is empty (0 bytes). Check that you picked the right file and format"
        )

    def test_a_missing_file_is_a_clear_error(self, tmp_path):
        with pytest.raises(CorpusImportError, match="nope.txt: file not found"):
            read_txt(tmp_path / "nope.txt")


# ---------------------------------------------------------------------------------------------- jsonl


class TestJsonLines:
    def test_it_reads_records_with_default_columns_and_reference_pairs(self, tmp_path):
        lines = [
            {
                "id": 7,
                "title": "Water",
                "text": " Water boils at 100 C. ",
                "qas": [{"question": "When?", "answers": ["100 C"], "id": "q1"}],
            },
            {"text": "No title here."},
        ]
        path = write(tmp_path / "c.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
        stats = ReadStats()
        records = list(read_jsonl(path, stats=stats))
        assert records[0].text == "Water boils at 100 C."
        assert (records[0].title, records[0].external_id) == ("Water", "7")
        assert records[0].qas == (QARecord("When?", ("100 C",), "q1", (15,)),)
        question, answers, qid, starts = records[0].qas[0]  # (question, answers, id, answer offsets)
        assert (question, answers, qid, starts) == ("When?", ("100 C",), "q1", (15,))
        assert (records[1].title, records[1].external_id, records[1].line) == ("", "", 2)
        assert (stats.passages, stats.questions) == (2, 1)

    def test_columns_are_configurable_and_may_be_nested(self, tmp_path):
        path = write(tmp_path / "c.jsonl", json.dumps({"body": "Text.", "meta": {"headline": "H", "doc": "d-1"}}))
        columns = Columns(text="body", title="meta.headline", id="meta.doc")
        [record] = read_jsonl(path, columns=columns)
        assert (record.text, record.title, record.external_id) == ("Text.", "H", "d-1")

    def test_one_row_per_question_files_become_one_passage_per_text(self, tmp_path):
        rows = [
            {"context": "P1.", "question": "Q1?", "answer": "a1"},
            {"context": "P1.", "question": "Q2?", "answer": ["a2", "a2b"]},
            {"context": "P2.", "question": "Q3?", "answer": "a3"},
        ]
        path = write(tmp_path / "flat.jsonl", "\n".join(json.dumps(r) for r in rows))
        columns = Columns(text="context", question="question", answer="answer")
        records = list(read_jsonl(path, columns=columns))
        assert [(r.text, r.position, [q.question for q in r.qas]) for r in records] == [
            ("P1.", 0, ["Q1?", "Q2?"]),
            ("P2.", 1, ["Q3?"]),
        ]
        assert records[0].qas[1].answers == ("a2", "a2b")

    def test_a_line_that_is_not_json_is_named(self, tmp_path):
        path = write(tmp_path / "bad.jsonl", '{"text": "ok"}\n\n{"text": "broken\n')
        with pytest.raises(NotJSONError) as exc:
            list(read_jsonl(path))
        assert exc.value.line == 3
        assert exc.value.user_message.startswith("bad.jsonl, line 3: not valid JSON")

    def test_a_missing_text_field_lists_the_fields_that_are_there(self, tmp_path):
        path = write(tmp_path / "c.jsonl", '{"text": "ok"}\n{"body": "x", "id": 2}\n')
        with pytest.raises(MissingFieldError) as exc:
            list(read_jsonl(path))
        assert exc.value.line == 2
        assert "no 'text' field (fields present: body, id)" in exc.value.user_message

    def test_empty_text_is_an_error(self, tmp_path):
        path = write(tmp_path / "c.jsonl", '{"text": "   "}\n')
        with pytest.raises(EmptyTextError, match=r"c.jsonl, line 1: 'text' is empty"):
            list(read_jsonl(path))

    def test_a_line_that_is_not_an_object_is_an_error(self, tmp_path):
        path = write(tmp_path / "c.jsonl", '["text", "x"]\n')
        with pytest.raises(InvalidRecordError, match="expected a JSON object, got list"):
            list(read_jsonl(path))

    def test_reference_pairs_without_a_question_are_rejected(self, tmp_path):
        path = write(tmp_path / "c.jsonl", json.dumps({"text": "t", "qas": [{"answers": ["x"]}]}))
        with pytest.raises(MissingFieldError, match="question 1 in 'qas' has no 'question' text"):
            list(read_jsonl(path))


# ------------------------------------------------------------------------------------------------ csv


class TestCsv:
    def test_it_reads_quoted_multiline_fields_and_reports_start_lines(self, tmp_path):
        content = 'id,title,text\n1,A,"Line one\nline two, with comma"\n\n2,B,Plain\n'
        path = write(tmp_path / "c.csv", content)
        records = list(read_csv(path))
        assert [(r.external_id, r.title, r.text, r.line) for r in records] == [
            ("1", "A", "Line one\nline two, with comma", 2),
            ("2", "B", "Plain", 5),
        ]

    def test_tsv_uses_tabs_and_custom_columns(self, tmp_path):
        path = write(tmp_path / "c.tsv", "passage\theadline\nSome, text\tT\n")
        [record] = read_csv(path, columns=Columns(text="passage", title="headline", id=None, qas=None))
        assert (record.text, record.title) == ("Some, text", "T")

    def test_question_answer_columns_with_a_json_answer_list(self, tmp_path):
        path = write(tmp_path / "qa.csv", 'context,q,a\nP.,Who?,"[""x"", ""y""]"\nP.,When?,now\n')
        [record] = read_csv(path, columns=Columns(text="context", question="q", answer="a", qas=None))
        assert record.qas == (QARecord("Who?", ("x", "y"), "", (None, None)), QARecord("When?", ("now",), "", (None,)))

    def test_a_missing_text_column_names_the_header_columns(self, tmp_path):
        path = write(tmp_path / "c.csv", "id,body\n1,x\n")
        with pytest.raises(MissingFieldError) as exc:
            list(read_csv(path))
        assert exc.value.user_message.startswith("c.csv, line 1: no 'text' column in the header (columns: id, body)")

    def test_a_row_with_the_wrong_number_of_fields_is_named(self, tmp_path):
        path = write(tmp_path / "c.csv", "id,text\n1,ok\n2,too,many\n")
        with pytest.raises(InvalidRecordError, match=r"c.csv, line 3: row has 3 fields but the header has 2"):
            list(read_csv(path))

    def test_an_unclosed_quote_is_reported(self, tmp_path):
        path = write(tmp_path / "c.csv", 'id,text\n1,"never closed\n')
        with pytest.raises(InvalidRecordError, match=r"c.csv, line 2: malformed CSV"):
            list(read_csv(path))

    def test_latin1_is_an_encoding_error_with_its_line(self, tmp_path):
        path = write(tmp_path / "c.csv", "id,text\n1,caf\xe9\n".encode("latin-1"))
        with pytest.raises(EncodingError) as exc:
            list(read_csv(path))
        assert exc.value.line == 2


# ---------------------------------------------------------------------------------------------- squad


ARTICLE = {
    "title": "Water",
    "paragraphs": [
        {
            "context": "Water boils at 100 degrees.",
            "qas": [
                {
                    "id": "a1",
                    "question": "When does water boil?",
                    "answers": [{"text": "100 degrees", "answer_start": 15}] * 2,
                },
            ],
        },
        {"context": "Ice melts at 0 degrees.", "qas": []},
    ],
}


class TestSquad:
    def test_it_reads_squad_11(self, tmp_path):
        path = write(tmp_path / "s.json", squad_doc([ARTICLE]))
        records = list(read_squad(path))
        assert [(r.title, r.text, r.position) for r in records] == [
            ("Water", "Water boils at 100 degrees.", 0),
            ("Water", "Ice melts at 0 degrees.", 1),
        ]
        assert records[0].qas == (QARecord("When does water boil?", ("100 degrees",), "a1", (15,)),)

    def test_squad_20_unanswerable_questions_are_skipped_and_counted_by_default(self, tmp_path):
        article = {
            "title": "T",
            "paragraphs": [
                {
                    "context": "C.",
                    "qas": [
                        {
                            "id": "x",
                            "question": "Answerable?",
                            "answers": [{"text": "C", "answer_start": 0}],
                            "is_impossible": False,
                        },
                        {
                            "id": "y",
                            "question": "Impossible?",
                            "answers": [],
                            "plausible_answers": [{"text": "C"}],
                            "is_impossible": True,
                        },
                    ],
                }
            ],
        }
        path = write(tmp_path / "s2.json", squad_doc([article], version="v2.0"))
        stats = ReadStats()
        [record] = read_squad(path, stats=stats)
        assert [q.id for q in record.qas] == ["x"]
        assert (stats.questions, stats.skipped_unanswerable) == (1, 1)
        [kept] = read_squad(path, keep_unanswerable=True)
        assert kept.qas[1] == QARecord("Impossible?", (), "y")

    def test_jsquad_contexts_lose_their_title_sep_prefix(self, tmp_path):
        article = {
            "title": "東海道新幹線",
            "paragraphs": [
                {
                    "context": "東海道新幹線 [SEP] 1987年の国鉄分割民営化により、JR東海が運営を継承した。",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "運営を継承したのは？",
                            "answers": [{"text": "JR東海", "answer_start": 30}],
                            "is_impossible": False,
                        }
                    ],
                }
            ],
        }
        path = write(tmp_path / "jsquad.json", squad_doc([article], version=None))
        [record] = read_squad(path)
        assert record.title == "東海道新幹線"
        assert record.text == "1987年の国鉄分割民営化により、JR東海が運営を継承した。"
        assert record.qas[0].answers == ("JR東海",)

    def test_the_sep_prefix_can_be_kept(self, tmp_path):
        article = {"title": "T", "paragraphs": [{"context": "T [SEP] body", "qas": []}]}
        [record] = read_squad(write(tmp_path / "j.json", squad_doc([article], None)), strip_sep_title=False)
        assert (record.title, record.text) == ("T", "T [SEP] body")

    def test_a_title_that_comes_after_the_paragraphs_is_still_used(self, tmp_path):
        content = '{"data": [{"paragraphs": [{"context": "Late title.", "qas": []}], "title": "Late"}]}'
        [record] = read_squad(write(tmp_path / "s.json", content))
        assert (record.title, record.text) == ("Late", "Late title.")

    def test_a_byte_order_mark_is_fine(self, tmp_path):
        path = write(tmp_path / "s.json", b"\xef\xbb\xbf" + squad_doc([ARTICLE]).encode())
        assert len(list(read_squad(path))) == 2

    def test_a_truncated_file_is_reported_as_cut_off(self, tmp_path):
        text = squad_doc([ARTICLE, ARTICLE])
        path = write(tmp_path / "cut.json", text[: len(text) // 2 + 10])
        with pytest.raises(TruncatedFileError) as exc:
            list(read_squad(path))
        assert exc.value.user_message.startswith("cut.json: unexpected end of file")

    def test_jsonl_given_as_squad_is_not_valid_json(self, tmp_path):
        path = write(tmp_path / "lines.json", '{"data": []}\n{"data": []}\n')
        with pytest.raises(NotJSONError, match="lines.json: not valid JSON near byte"):
            list(read_squad(path))

    def test_a_missing_context_names_the_article_and_paragraph(self, tmp_path):
        article = {"title": "Water", "paragraphs": [{"context": "ok", "qas": []}, {"text": "wrong key", "qas": []}]}
        path = write(tmp_path / "s.json", squad_doc([article]))
        with pytest.raises(MissingFieldError) as exc:
            list(read_squad(path))
        assert (
            exc.value.user_message
            == "s.json, article 1 ('Water'), paragraph 2: no 'context' (fields present: text, qas)"
        )

    def test_a_question_without_text_names_the_question(self, tmp_path):
        article = {"title": "W", "paragraphs": [{"context": "c", "qas": [{"id": "q9", "answers": []}]}]}
        with pytest.raises(
            MissingFieldError, match=r"article 1 \('W'\), paragraph 1, question 1 \(id q9\): no 'question'"
        ):
            list(read_squad(write(tmp_path / "s.json", squad_doc([article]))))

    def test_a_json_file_without_data_is_not_squad(self, tmp_path):
        with pytest.raises(MissingFieldError, match="no top-level 'data' list"):
            list(read_squad(write(tmp_path / "s.json", '{"version": "1.1", "articles": []}')))

    def test_a_top_level_list_is_an_unsupported_format(self, tmp_path):
        with pytest.raises(UnsupportedFormatError, match="must be a JSON object with a 'data' list"):
            list(read_squad(write(tmp_path / "s.json", '[{"text": "x"}]')))

    def test_invalid_utf8_names_the_byte(self, tmp_path):
        raw = squad_doc([ARTICLE]).encode().replace(b"Ice", b"Ic\xff")
        path = write(tmp_path / "s.json", raw)
        offset = raw.index(b"\xff")
        with pytest.raises(EncodingError, match=rf"s.json: not UTF-8: byte 0xff at byte {offset} "):
            list(read_squad(path))


# ------------------------------------------------------------------------------------------- shared


def test_progress_reports_bytes_read_up_to_the_total(tmp_path):
    path = write(tmp_path / "big.jsonl", "\n".join(json.dumps({"text": f"passage {i} " * 20}) for i in range(3000)))
    seen: list[tuple[int, int]] = []
    list(read_jsonl(path, progress=lambda done, total: seen.append((done, total))))
    total = path.stat().st_size
    assert len(seen) > 10
    assert all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (total, total)


def test_squad_progress_ends_at_the_total(tmp_path):
    path = write(tmp_path / "s.json", squad_doc([ARTICLE] * 500))
    seen: list[tuple[int, int]] = []
    list(read_squad(path, progress=lambda done, total: seen.append((done, total))))
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.txt", "txt"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.csv", "csv"),
        ("a.tsv", "csv"),
        ("a.json", "squad"),
    ],
)
def test_the_format_is_detected_from_the_extension(name, fmt):
    assert detect_format(name) == fmt


def test_an_unknown_extension_asks_for_a_format(tmp_path):
    with pytest.raises(UnsupportedFormatError, match="a.xml: cannot tell the format"):
        read_corpus(tmp_path / "a.xml")


def test_read_corpus_dispatches_on_the_format(tmp_path):
    path = write(tmp_path / "c.data", "one\n\ntwo\n")
    assert [r.text for r in read_corpus(path, "txt")] == ["one", "two"]


def test_a_jsquad_paragraph_whose_answer_occurs_only_in_the_title_keeps_the_title_in_its_text(tmp_path):
    """Moving the "title [SEP] " prefix out would leave a question its passage cannot answer."""
    context = "東海道新幹線 [SEP] 1987年の国鉄分割民営化により、JR東海が運営を継承した。"
    article = {"title": "東海道新幹線", "paragraphs": [
        {"context": context, "qas": [
            {"id": "q1", "question": "運営を継承したのは？", "answers": [{"text": "JR東海", "answer_start": 30}]},
            {"id": "q2", "question": "この路線の名前は？", "answers": [{"text": "東海道新幹線", "answer_start": 0}]},
        ]},
        {"context": "東海道新幹線 [SEP] 最高速度は時速285kmである。", "qas": [
            {"id": "q3", "question": "最高速度は？", "answers": [{"text": "時速285km", "answer_start": 17}]},
        ]},
    ]}  # fmt: skip
    stats = ReadStats()
    first, second = read_squad(write(tmp_path / "jsquad.json", squad_doc([article], None)), stats=stats)
    assert (first.title, first.text) == ("東海道新幹線", context)
    assert (second.title, second.text) == ("東海道新幹線", "最高速度は時速285kmである。")
    assert (stats.title_kept, stats.title_only_questions) == (1, 1)
    for record in (first, second):
        for qa in record.qas:
            assert all(record.text[s : s + len(a)] == a for a, s in zip(qa.answers, qa.answer_starts, strict=True))
    assert [qa.answer_starts for qa in first.qas] == [(context.index("JR東海"),), (0,)]
