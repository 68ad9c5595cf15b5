"""Reading a session's items from an uploaded JSONL or CSV file, all or nothing.

Columns (JSONL keys or CSV header): question, context, gold, answer_a, answer_b, system_a, system_b
(plus an optional id). `gold` is one answer or, in JSONL, a list; in CSV a cell holding a JSON list
(["a", "b"]) gives several. system_a/system_b may be left out (the form names the systems) but must be
the same on every row that gives them. Every bad row is reported with its line number; if any row is
bad nothing is stored.

In JSONL every field holds text (a JSON string); only `id` may also be a whole number. A number where
text is meant (`"gold": 5`) is refused with its field and line rather than turned into text: the
conversion is lossy (`1.50` would become "1.5", `1e3` "1000.0"), and a number usually means a column
slipped. Write `"gold": "5"`. (CSV cells are always text, so this concerns JSONL only.)
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field

from django.conf import settings

from annotation.services.sessions import ItemData
from core.services.text import unstorable_reason

COLUMNS = ("question", "context", "gold", "answer_a", "answer_b", "system_a", "system_b")
OPTIONAL_COLUMNS = ("id",)
REQUIRED = ("question", "answer_a", "answer_b")
MAX_REPORTED_ERRORS = 50


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class UploadError(ValueError):
    """The file cannot be used; `errors` lists every problem found (line number + what is wrong)."""

    def __init__(self, errors: list[RowError], filename: str = ""):
        self.errors = errors
        self.filename = filename
        shown = "; ".join(str(error) for error in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{filename or 'upload'}: {shown}{more}")


@dataclass
class ParsedUpload:
    items: list[ItemData] = field(default_factory=list)
    system_a: str = ""
    system_b: str = ""


def read_upload(uploaded, *, max_bytes: int | None = None) -> ParsedUpload:
    """Parse a Django UploadedFile (or any object with .name, .size and .read())."""
    name = getattr(uploaded, "name", "") or "upload"
    limit = max_bytes if max_bytes is not None else settings.QASYNTH_MAX_UPLOAD_BYTES
    size = getattr(uploaded, "size", None)
    if size is not None and size > limit:
        raise UploadError([RowError(0, f"the file is {size} bytes; the limit is {limit} bytes")], name)
    raw = uploaded.read(limit + 1)
    if len(raw) > limit:
        raise UploadError([RowError(0, f"the file is larger than the limit of {limit} bytes")], name)
    return parse_bytes(raw, name)


def parse_bytes(raw: bytes, name: str = "upload") -> ParsedUpload:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise UploadError([RowError(line, "the file is not UTF-8 text")], name) from None
    if not text.strip():
        raise UploadError([RowError(0, "the file is empty")], name)
    lowered = name.lower()
    is_jsonl = lowered.endswith((".jsonl", ".ndjson", ".json")) or (
        not lowered.endswith(".csv") and text.lstrip().startswith("{")
    )
    rows = _jsonl_rows(text, name) if is_jsonl else _csv_rows(text, name)
    return _build(rows, name)


def _jsonl_rows(text: str, name: str) -> list[tuple[int, dict | None, str]]:
    rows: list[tuple[int, dict | None, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append((number, None, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            rows.append((number, None, f"expected a JSON object, got {type(value).__name__}"))
            continue
        rows.append((number, value, ""))
    return rows


def _csv_rows(text: str, name: str) -> list[tuple[int, dict | None, str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise UploadError([RowError(1, f"cannot read the CSV header ({exc})")], name) from None
    header = [column.strip().lower() for column in header]
    unknown = [column for column in header if column and column not in COLUMNS + OPTIONAL_COLUMNS]
    missing = [column for column in REQUIRED if column not in header]
    problems = []
    if missing:
        problems.append(RowError(1, f"the header lacks required column(s) {', '.join(missing)}"))
    if unknown:
        problems.append(RowError(1, f"unknown column(s) {', '.join(unknown)}; expected some of {', '.join(COLUMNS)}"))
    if problems:
        raise UploadError(problems, name)
    rows: list[tuple[int, dict | None, str]] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                rows.append((line, None, f"has {len(record)} fields, the header has {len(header)}"))
                continue
            values: dict = dict(zip(header, record, strict=True))
            gold = values.get("gold", "")
            if gold.strip().startswith("["):
                try:
                    values["gold"] = json.loads(gold)
                except json.JSONDecodeError:
                    rows.append((line, None, "gold looks like a JSON list but is not valid JSON"))
                    continue
            rows.append((line, values, ""))
    except csv.Error as exc:
        rows.append((reader.line_num, None, f"CSV error: {exc}"))
    return rows


JSON_TYPE_NAMES = {bool: "true/false", int: "a number", float: "a number", list: "a list", dict: "an object"}


def _text(value, column: str) -> tuple[str, str]:
    if value is None:
        return "", ""
    if column == "id" and isinstance(value, int) and not isinstance(value, bool):
        return str(value), ""
    if not isinstance(value, str):
        kind = JSON_TYPE_NAMES.get(type(value), type(value).__name__)
        shown = json.dumps(value)  # ASCII escapes: the value may hold lone surrogates the page cannot show
        hint = f' (write it as text: "{column}": {json.dumps(shown)})' if kind == "a number" else ""
        return "", f"{column} must be text, got {kind} {shown[:40]}{hint}"
    if problem := unstorable_reason(value):
        return "", f"{column} contains {problem}"
    return value.strip(), ""


def _build(rows: list[tuple[int, dict | None, str]], name: str) -> ParsedUpload:
    errors: list[RowError] = []
    parsed = ParsedUpload()
    system_seen: dict[str, tuple[str, int]] = {}
    for line, values, problem in rows:
        if problem or values is None:
            errors.append(RowError(line, problem))
            continue
        row_errors = []
        unknown = sorted(set(values) - set(COLUMNS) - set(OPTIONAL_COLUMNS))
        if unknown:
            row_errors.append(f"unknown field(s) {', '.join(unknown)}")
        fields: dict[str, str] = {}
        for column in ("question", "context", "answer_a", "answer_b", "system_a", "system_b", "id"):
            fields[column], problem = _text(values.get(column), column)
            if problem:
                row_errors.append(problem)
        for column in REQUIRED:
            if values.get(column) is None:
                row_errors.append(f"{column} is missing")
            elif isinstance(values[column], str) and not fields[column]:
                row_errors.append(f"{column} is empty")
        gold = values.get("gold")
        gold_answers: list[str] = []
        if isinstance(gold, list):
            if not all(isinstance(answer, str) for answer in gold):
                bad = next(answer for answer in gold if not isinstance(answer, str))
                row_errors.append(f"gold must be text or a list of texts; the list holds {json.dumps(bad)[:40]}")
            elif any(unstorable_reason(answer) for answer in gold):
                row_errors.append(f"gold contains {next(unstorable_reason(a) for a in gold if unstorable_reason(a))}")
            else:
                gold_answers = [answer.strip() for answer in gold if answer.strip()]
        elif gold not in (None, ""):
            text, problem = _text(gold, "gold")
            if problem:
                row_errors.append(problem)
            elif text:
                gold_answers = [text]
        for column in ("system_a", "system_b"):
            value = fields[column]
            if not value:
                continue
            first = system_seen.setdefault(column, (value, line))
            if first[0] != value:
                row_errors.append(f"{column} is {value!r} but line {first[1]} says {first[0]!r} (one pair per file)")
        if row_errors:
            errors.append(RowError(line, "; ".join(row_errors)))
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            continue
        parsed.items.append(
            ItemData(
                question=fields["question"],
                context=fields["context"],
                gold_answers=gold_answers,
                answer_a=fields["answer_a"],
                answer_b=fields["answer_b"],
                external_id=fields["id"],
            )
        )
    if errors:
        raise UploadError(errors, name)
    if not parsed.items:
        raise UploadError([RowError(0, "the file has no items")], name)
    both = "system_a" in system_seen and "system_b" in system_seen
    if both and system_seen["system_a"][0] == system_seen["system_b"][0]:
        raise UploadError([RowError(0, "system_a and system_b name the same system")], name)
    parsed.system_a = system_seen.get("system_a", ("", 0))[0]
    parsed.system_b = system_seen.get("system_b", ("", 0))[0]
    return parsed
