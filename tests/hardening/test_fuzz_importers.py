"""Random and malformed corpus files: every reader either yields records or raises a CorpusImportError that
names the file (and the place); a full import of such a file either stores all of it or nothing, with a
message naming the problem. Text PostgreSQL cannot store (NUL bytes, lone surrogates from JSON escapes) is
refused with its line, not a database error after half a file."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generation.importers.errors import CorpusImportError
from generation.importers.readers import Columns, read_corpus
from generation.models import Corpus, Import, Passage, ReferenceQA
from generation.services import imports

FORMATS = {"txt": "corpus.txt", "jsonl": "corpus.jsonl", "csv": "corpus.csv", "squad": "corpus.json"}
ODD_CHARACTERS = ["\x00", "\ud800", "\udfff", "\u2028", "\ufeff", "\x1b", "\r", "\t", "\u3000", "é", "日"]

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
odd_text = st.text(alphabet=st.sampled_from(ODD_CHARACTERS) | st.characters(codec="utf-8"), min_size=0, max_size=40)
record = st.fixed_dictionaries(
    {},
    optional={
        "text": odd_text | json_values,
        "title": odd_text | json_values,
        "id": odd_text | json_values,
        "qas": json_values
        | st.lists(
            st.fixed_dictionaries(
                {}, optional={"question": odd_text | json_values, "answers": json_values | st.lists(odd_text)}
            ),
            max_size=3,
        ),
    },
)


def _jsonl(records: list) -> bytes:
    # json.dumps escapes lone surrogates as \udXXX: valid JSON that decodes to text UTF-8 cannot encode.
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _read_all(path, fmt: str) -> list:
    columns = Columns(qas=None) if fmt == "csv" else Columns()
    return list(read_corpus(path, fmt, columns=columns))


def _check_error(exc: CorpusImportError, name: str) -> None:
    assert exc.user_message.startswith(name), exc.user_message
    assert exc.problem.strip()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=600), fmt=st.sampled_from(sorted(FORMATS)))
def test_random_bytes_in_any_format_give_records_or_a_located_import_error(tmp_path, raw, fmt):
    path = tmp_path / FORMATS[fmt]
    path.write_bytes(raw)
    try:
        records = _read_all(path, fmt)
    except CorpusImportError as exc:
        _check_error(exc, path.name)
    else:
        assert records and all(isinstance(r.text, str) and r.text.strip() for r in records)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record | json_values, max_size=5), cut=st.integers(min_value=0, max_value=400))
def test_malformed_jsonl_and_squad_give_records_or_a_located_import_error(tmp_path, records, cut):
    for fmt, data in (
        ("jsonl", _jsonl(records)),
        ("squad", json.dumps({"data": [{"title": "t", "paragraphs": records}]}).encode()),
        ("squad", json.dumps({"data": records}).encode()[: cut or None]),
    ):
        path = tmp_path / FORMATS[fmt]
        path.write_bytes(data)
        try:
            _read_all(path, fmt)
        except CorpusImportError as exc:
            _check_error(exc, path.name)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(record, min_size=1, max_size=6))
def test_an_import_of_a_malformed_file_stores_all_or_nothing_and_names_the_problem(tmp_path, records):
    corpus = Corpus.objects.create(name=f"fuzz-{Corpus.objects.count()}")
    path = tmp_path / "fuzz.jsonl"
    path.write_bytes(_jsonl(records))
    try:
        imp = imports.import_file(corpus, path, imports.ImportOptions(format="jsonl"), chunk_size=2)
    except CorpusImportError as exc:
        _check_error(exc, "fuzz.jsonl")
        imp = Import.objects.get(corpus=corpus)
        assert imp.status == Import.Status.FAILED and imp.error == exc.user_message
        assert not Passage.all_objects.filter(corpus=corpus).exists()
        assert not ReferenceQA.all_objects.filter(passage__corpus=corpus).exists()
    else:
        assert imp.status == Import.Status.COMPLETE
        assert Passage.objects.filter(corpus=corpus).count() == imp.passages_created > 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bad", "what"), [("a NUL \x00 byte", "NUL"), ("a lone \ud800 surrogate", "surrogate")], ids=["nul", "surrogate"]
)
@pytest.mark.parametrize("field", ["text", "title", "question"])
def test_text_the_database_cannot_store_is_refused_with_its_line_and_nothing_is_kept(tmp_path, bad, what, field):
    rows = [{"text": f"Passage {i} is fine.", "qas": [{"question": "Fine?", "answers": ["yes"]}]} for i in range(5)]
    if field == "question":
        rows[3]["qas"][0]["question"] = bad
    else:
        rows[3][field] = bad
    path = tmp_path / "odd.jsonl"
    path.write_bytes(_jsonl(rows))
    corpus = Corpus.objects.create(name="odd")

    with pytest.raises(CorpusImportError) as caught:
        imports.precheck(path, imports.ImportOptions(format="jsonl"))  # already at upload time
    assert "odd.jsonl, line 4" in caught.value.user_message and what in caught.value.user_message
    with pytest.raises(CorpusImportError):
        imports.import_file(corpus, path, imports.ImportOptions(format="jsonl"), chunk_size=2)
    assert not Passage.all_objects.filter(corpus=corpus).exists()
    assert "line 4" in Import.objects.get(corpus=corpus).error
