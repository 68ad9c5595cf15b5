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

More than two systems (a K-system session), in either of two layouts:
- wide: one `answer_<system>` column per system (`answer_base`, `answer_human`, `answer_syn_n3`, ...) beside
  question/context/gold/id; the suffix names the system. Any answer column other than the pair answer_a/answer_b
  selects this layout (then answer_a names a system "a").
- long: one row per (item, system) with columns `item, system, answer` plus question (on the item's first row at
  least; repeated rows must agree), context, gold. Every item needs exactly one answer from every system.
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
LONG_COLUMNS = ("item", "system", "answer", "question", "context", "gold")
ANSWER_PREFIX = "answer_"
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
    systems: list[str] = field(default_factory=list)
    """K >= 2 system names, in answer order, when the file uses the wide or long layout (empty: A/B layout)."""


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
    layout = _layout(next((list(values) for _, values, _ in rows if values is not None), []))
    if layout == "long":
        return _build_long(rows, name)
    if layout == "wide":
        return _build_wide(rows, name)
    return _build(rows, name)


def _layout(keys: list[str]) -> str:
    """"long" (item, system, answer rows), "wide" (answer_<system> columns) or "pair" (answer_a/answer_b)."""
    if "system" in keys and "answer" in keys:
        return "long"
    if any(key.startswith(ANSWER_PREFIX) and key not in ("answer_a", "answer_b") for key in keys):
        return "wide"
    return "pair"


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
    layout = _layout(header)
    if layout == "long":
        known, required = LONG_COLUMNS, ("item", "system", "answer", "question")
    elif layout == "wide":
        known = ("question", "context", "gold", *OPTIONAL_COLUMNS)
        known += tuple(column for column in header if column.startswith(ANSWER_PREFIX))
        required = ("question",)
    else:
        known, required = COLUMNS + OPTIONAL_COLUMNS, REQUIRED
    unknown = [column for column in header if column and column not in known]
    missing = [column for column in required if column not in header]
    repeated = sorted({column for column in header if column and header.count(column) > 1})
    problems = [RowError(1, f"repeated column(s) {', '.join(repeated)}")] if repeated else []
    if missing:
        problems.append(RowError(1, f"the header lacks required column(s) {', '.join(missing)}"))
    if unknown:
        problems.append(RowError(1, f"unknown column(s) {', '.join(unknown)}; expected some of {', '.join(known)}"))
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


def _gold(gold, row_errors: list[str]) -> list[str]:
    """The gold answers of a row (text, or a list of texts); problems are appended to ``row_errors``."""
    if isinstance(gold, list):
        if not all(isinstance(answer, str) for answer in gold):
            bad = next(answer for answer in gold if not isinstance(answer, str))
            row_errors.append(f"gold must be text or a list of texts; the list holds {json.dumps(bad)[:40]}")
        elif any(unstorable_reason(answer) for answer in gold):
            row_errors.append(f"gold contains {next(unstorable_reason(a) for a in gold if unstorable_reason(a))}")
        else:
            return [answer.strip() for answer in gold if answer.strip()]
    elif gold not in (None, ""):
        text, problem = _text(gold, "gold")
        if problem:
            row_errors.append(problem)
        elif text:
            return [text]
    return []


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
        gold_answers = _gold(values.get("gold"), row_errors)
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


def _fail_or(parsed: ParsedUpload, errors: list[RowError], name: str) -> ParsedUpload:
    if errors:
        raise UploadError(errors, name)
    if not parsed.items:
        raise UploadError([RowError(0, "the file has no items")], name)
    if len(parsed.systems) < 2:
        raise UploadError([RowError(0, f"the file names {len(parsed.systems)} system(s); a session needs two")], name)
    return parsed


def _build_wide(rows: list[tuple[int, dict | None, str]], name: str) -> ParsedUpload:
    """One row per item, one `answer_<system>` field per system; every row must give the same systems."""
    errors: list[RowError] = []
    parsed = ParsedUpload()
    columns: list[str] = []
    first_line = 0
    for line, values, problem in rows:
        if problem or values is None:
            errors.append(RowError(line, problem))
            continue
        row_errors: list[str] = []
        answer_columns = [key for key in values if key.startswith(ANSWER_PREFIX)]
        if not columns:
            columns, first_line = answer_columns, line
        missing = [column for column in columns if column not in values]
        extra = [column for column in answer_columns if column not in columns]
        if missing or extra:
            row_errors.append(
                f"answer fields differ from line {first_line}: "
                + "; ".join(
                    part
                    for part in (
                        f"missing {', '.join(missing)}" if missing else "",
                        f"not on line {first_line}: {', '.join(extra)}" if extra else "",
                    )
                    if part
                )
            )
        unknown = sorted(set(values) - {"question", "context", "gold", "id", *answer_columns})
        if unknown:
            row_errors.append(f"unknown field(s) {', '.join(unknown)}")
        fields: dict[str, str] = {}
        for column in ("question", "context", "id", *columns):
            fields[column], problem = _text(values.get(column), column)
            if problem:
                row_errors.append(problem)
        for column in ("question", *columns):
            if column not in missing and not fields[column] and f"{column} must" not in " ".join(row_errors):
                row_errors.append(f"{column} is {'missing' if values.get(column) is None else 'empty'}")
        gold_answers = _gold(values.get("gold"), row_errors)
        if row_errors:
            errors.append(RowError(line, "; ".join(row_errors)))
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            continue
        if len(columns) < 2:
            continue  # refused below: a session needs two systems
        parsed.items.append(
            ItemData.from_answers(
                fields["question"], [fields[column] for column in columns], context=fields["context"],
                gold_answers=gold_answers, external_id=fields["id"],
            )  # fmt: skip
        )
    parsed.systems = [column[len(ANSWER_PREFIX) :] for column in columns]
    empty = [column for column in columns if not column[len(ANSWER_PREFIX) :].strip()]
    if empty:
        errors.append(RowError(first_line, "a column named just answer_ names no system; write answer_<system>"))
    return _fail_or(parsed, errors, name)


def _build_long(rows: list[tuple[int, dict | None, str]], name: str) -> ParsedUpload:
    """One row per (item, system): answers grouped by item; every item needs every system exactly once."""
    errors: list[RowError] = []
    parsed = ParsedUpload()
    systems: list[str] = []
    items: dict[str, dict] = {}  # item id -> first line, question, context, gold, answers by system
    for line, values, problem in rows:
        if problem or values is None:
            errors.append(RowError(line, problem))
            continue
        row_errors: list[str] = []
        unknown = sorted(set(values) - set(LONG_COLUMNS))
        if unknown:
            row_errors.append(f"unknown field(s) {', '.join(unknown)}; expected some of {', '.join(LONG_COLUMNS)}")
        fields: dict[str, str] = {}
        for column in ("item", "system", "answer", "question", "context"):
            if column == "item" and isinstance(values.get("item"), int) and not isinstance(values["item"], bool):
                fields[column] = str(values["item"])
                continue
            fields[column], problem = _text(values.get(column), column)
            if problem:
                row_errors.append(problem)
        for column in ("item", "system", "answer"):
            if values.get(column) is None:
                row_errors.append(f"{column} is missing")
            elif not fields[column] and f"{column} must" not in " ".join(row_errors):
                row_errors.append(f"{column} is empty")
        gold_answers = _gold(values.get("gold"), row_errors)
        item = items.get(fields["item"]) if fields["item"] else None
        if item is None and fields["item"] and not fields["question"]:
            row_errors.append(f"question is missing on the first row of item {fields['item']!r}")
        if item is not None:
            if fields["system"] in item["answers"]:
                first = item["lines"][fields["system"]]
                row_errors.append(f"item {fields['item']!r} already has an answer of system {fields['system']!r} "
                                  f"(line {first})")  # fmt: skip
            for column, given in (("question", fields["question"]), ("context", fields["context"])):
                if given and item[column] and given != item[column]:
                    row_errors.append(f"{column} differs from line {item['line']} of the same item {fields['item']!r}")
        if row_errors:
            errors.append(RowError(line, "; ".join(row_errors)))
            if len(errors) >= MAX_REPORTED_ERRORS:
                break
            continue
        if item is None:
            item = items[fields["item"]] = {
                "line": line, "question": fields["question"], "context": fields["context"], "gold": gold_answers,
                "answers": {}, "lines": {},
            }  # fmt: skip
        item["context"] = item["context"] or fields["context"]
        item["gold"] = item["gold"] or gold_answers
        item["answers"][fields["system"]] = fields["answer"]
        item["lines"][fields["system"]] = line
        if fields["system"] not in systems:
            systems.append(fields["system"])
    if not errors:
        for key, item in items.items():
            lacking = [system for system in systems if system not in item["answers"]]
            if lacking:
                errors.append(
                    RowError(item["line"], f"item {key!r} has no answer of system(s) {', '.join(map(repr, lacking))}")
                )
    parsed.systems = systems
    parsed.items = [
        ItemData.from_answers(
            item["question"], [item["answers"].get(system, "") for system in systems], context=item["context"],
            gold_answers=item["gold"], external_id=key,
        )  # fmt: skip
        for key, item in items.items()
        if len(item["answers"]) >= 2
    ]
    return _fail_or(parsed, errors, name)
