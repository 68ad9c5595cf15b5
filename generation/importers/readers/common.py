"""What every corpus reader shares: the records it yields, its statistics and progress, line-by-line
decoding that names the exact line and byte of an encoding error, and the mapping of JSON objects to records."""

from __future__ import annotations

import codecs
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from generation.importers.errors import (
    EMPTY_FILE_PROBLEM,
    CorpusImportError,
    EmptyFileError,
    EmptyTextError,
    EncodingError,
    InvalidRecordError,
    MissingFieldError,
)

ProgressCallback = Callable[[int, int], None]


UTF8_BOM = codecs.BOM_UTF8
FORMATS = ("txt", "jsonl", "csv", "squad")


class QARecord(NamedTuple):
    """A human-written question with its accepted answers (first is primary) and, per answer, its
    character offset in the passage text (None: not a span of the text)."""

    question: str
    answers: tuple[str, ...]
    id: str = ""
    answer_starts: tuple[int | None, ...] = ()


@dataclass(frozen=True, slots=True)
class PassageRecord:
    text: str
    title: str = ""
    external_id: str = ""
    qas: tuple[QARecord, ...] = ()
    position: int = 0  # 0-based index of the passage in the file
    line: int | None = None  # first line of the record, for text formats


@dataclass
class ReadStats:
    """Filled in while a reader runs, so the import job can report what it read and skipped."""

    passages: int = 0
    questions: int = 0
    skipped_unanswerable: int = 0
    # JSQuAD: passages that keep their "title [SEP] " prefix because a gold answer occurs only in the title,
    # and the questions with such an answer
    title_kept: int = 0
    title_only_questions: int = 0
    bytes_total: int = 0
    bytes_read: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Columns:
    """Where a JSONL/CSV record keeps its fields. Dotted names reach into nested JSON objects.

    `qas` (JSONL only) is a list of {"question", "answers"|"answer", "id"} objects; `question` and
    `answer` name flat columns of a "one row per question" file, whose consecutive rows with the same
    text become one passage."""

    text: str = "text"
    title: str | None = "title"
    id: str | None = "id"
    qas: str | None = "qas"
    question: str | None = None
    answer: str | None = None


# ------------------------------------------------------------------------------------ bytes & progress


class _Progress:
    """Throttled progress: about 200 callbacks per file however large, plus the final one."""

    def __init__(self, callback: ProgressCallback | None, total: int, stats: ReadStats) -> None:
        self.callback = callback
        self.total = total
        self.stats = stats
        self.step = max(64 * 1024, total // 200)
        self.last = 0

    def update(self, done: int) -> None:
        self.stats.bytes_read = done
        if self.callback is not None and (done - self.last >= self.step or done >= self.total):
            self.last = done
            self.callback(done, self.total)

    def finish(self) -> None:
        self.stats.bytes_read = self.total
        if self.callback is not None and self.last != self.total:
            self.last = self.total
            self.callback(self.total, self.total)


def _encoding_hint(sample: bytes) -> str:
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "The file is UTF-16; save it as UTF-8"
    try:
        decoded = sample.decode("cp932")
    except UnicodeDecodeError:
        return EncodingError.default_hint
    if any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in decoded):
        return "It looks like Shift_JIS (CP932); convert it to UTF-8, e.g. `iconv -f CP932 -t UTF-8 in > out`"
    return EncodingError.default_hint


def _encoding_error(path: Path, chunk: bytes, exc: UnicodeDecodeError, offset: int, line: int | None):
    bad = chunk[exc.start : exc.start + 1].hex()
    return EncodingError(
        path,
        f"not UTF-8: byte 0x{bad} at byte {offset + exc.start} cannot be decoded",
        line=line,
        hint=_encoding_hint(chunk),
    )


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_NUL_PROBLEM = "contains NUL bytes, so it is not UTF-8 text"
_NUL_HINT = "It looks like UTF-16 without a byte-order mark, or a binary file; save it as UTF-8"


def _lines(path: Path, progress: _Progress) -> Iterator[tuple[int, str]]:
    """(line number, decoded line without its newline), decoding each line strictly on its own so that an
    encoding error names the exact line; a UTF-8 byte-order mark is dropped, a UTF-16 one selects UTF-16."""
    with open(path, "rb") as handle:
        head = handle.read(2)
    if head in _UTF16_BOMS:
        yield from _utf16_lines(path, progress)
        return
    offset = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            chunk = raw[len(UTF8_BOM) :] if number == 1 and raw.startswith(UTF8_BOM) else raw
            start = offset + len(raw) - len(chunk)
            try:
                text = chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise _encoding_error(path, chunk, exc, start, number) from None
            if "\x00" in text:
                raise EncodingError(path, _NUL_PROBLEM, line=number, hint=_NUL_HINT)
            offset += len(raw)
            progress.update(offset)
            yield number, text.rstrip("\r\n")


def _utf16_lines(path: Path, progress: _Progress) -> Iterator[tuple[int, str]]:
    """Lines of a UTF-16 file with a byte-order mark (the "utf-16" codec reads the BOM and drops it).
    Progress follows the bytes the decoder has consumed."""
    with open(path, "rb") as raw:
        reader = io.TextIOWrapper(raw, encoding="utf-16", errors="strict", newline="")
        number = 0
        try:
            for number, line in enumerate(reader, start=1):
                progress.update(raw.tell())
                yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise EncodingError(
                path,
                f"not valid UTF-16 after line {number}: {exc.reason}",
                line=number + 1,
                hint="The file starts with a UTF-16 byte-order mark but is not UTF-16 throughout; save it as UTF-8",
            ) from None


def _text_field(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _lookup(obj: dict, name: str) -> tuple[bool, Any]:
    current: Any = obj
    for part in name.split("."):
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _answers(
    value: Any, path: Path, where: dict, passage: str, offset: int = 0
) -> tuple[tuple[str, ...], tuple[int | None, ...]]:
    """Answers as unique non-empty strings (SQuAD repeats the same answer from several annotators) with
    each one's character offset in `passage`.

    A SQuAD `answer_start` counts in the file's context; `offset` is where `passage` begins in it. That
    offset is kept when it points at the answer, else the first occurrence is used, else None."""
    items = value if isinstance(value, list) else [value]
    texts: list[str] = []
    starts: list[int | None] = []
    for item in items:
        raw = item.get("text") if isinstance(item, dict) else item
        if raw is None:
            continue
        if not isinstance(raw, str | int | float):
            raise InvalidRecordError(path, f"answer {item!r} is not text", **where)
        raw = str(raw)
        text = raw.strip()
        if not text or text in texts:
            continue
        start: int | None = None
        given = item.get("answer_start") if isinstance(item, dict) else None
        if isinstance(given, int) and not isinstance(given, bool):
            candidate = given - offset + (len(raw) - len(raw.lstrip()))
            if candidate >= 0 and passage.startswith(text, candidate):
                start = candidate
        if start is None:
            found = passage.find(text)
            start = found if found >= 0 else None
        texts.append(text)
        starts.append(start)
    return tuple(texts), tuple(starts)


def _answer_texts(value: Any, path: Path, where: dict) -> tuple[str, ...]:
    return _answers(value, path, where, "")[0]


def _qas_from_list(value: Any, path: Path, where: dict, passage: str) -> tuple[QARecord, ...]:
    if not isinstance(value, list):
        raise InvalidRecordError(path, f"'qas' must be a list, got {type(value).__name__}", **where)
    out = []
    for number, item in enumerate(value, start=1):
        if not isinstance(item, dict) or not _text_field(item.get("question")):
            raise MissingFieldError(path, f"question {number} in 'qas' has no 'question' text", **where)
        answers, starts = _answers(item.get("answers", item.get("answer", [])), path, where, passage)
        out.append(QARecord(_text_field(item["question"]), answers, _text_field(item.get("id")), starts))
    return tuple(out)


def _record_from_object(
    obj: Any, columns: Columns, path: Path, where: dict, position: int, line: int | None
) -> PassageRecord:
    """A PassageRecord from one JSON object or CSV row dict; `where` is the error location (line/record)."""
    if not isinstance(obj, dict):
        raise InvalidRecordError(path, f"expected a JSON object, got {type(obj).__name__}", **where)
    found, text = _lookup(obj, columns.text)
    if not found:
        present = ", ".join(map(str, list(obj)[:12])) or "none"
        raise MissingFieldError(
            path,
            f"no '{columns.text}' field (fields present: {present})",
            hint="Choose the column that holds the passage text",
            **where,
        )
    if not isinstance(text, str):
        raise InvalidRecordError(path, f"'{columns.text}' must be text, got {type(text).__name__}", **where)
    if not text.strip():
        raise EmptyTextError(path, f"'{columns.text}' is empty", **where)
    title = _text_field(_lookup(obj, columns.title)[1]) if columns.title else ""
    external_id = _text_field(_lookup(obj, columns.id)[1]) if columns.id else ""
    qas: tuple[QARecord, ...] = ()
    if columns.qas:
        found_qas, value = _lookup(obj, columns.qas)
        if found_qas and value is not None:
            qas = _qas_from_list(value, path, where, text.strip())
    if columns.question:
        question = _text_field(_lookup(obj, columns.question)[1])
        if question:
            raw_answer = _lookup(obj, columns.answer)[1] if columns.answer else None
            if isinstance(raw_answer, str) and raw_answer.strip().startswith("["):
                try:  # CSV cells holding a JSON list of answers
                    raw_answer = json.loads(raw_answer)
                except ValueError:
                    pass
            answers, starts = _answers(raw_answer, path, where, text.strip()) if raw_answer is not None else ((), ())
            qas = qas + (QARecord(question, answers, "", starts),)
    return PassageRecord(text.strip(), title, external_id, qas, position, line)


def _merge_consecutive(records: Iterable[PassageRecord], enabled: bool) -> Iterator[PassageRecord]:
    """One-row-per-question files repeat the passage on consecutive rows: merge them into one passage."""
    if not enabled:
        yield from records
        return
    current: PassageRecord | None = None
    position = 0
    for record in records:
        if current is not None and record.text == current.text and record.title == current.title:
            current = PassageRecord(
                current.text,
                current.title,
                current.external_id,
                current.qas + record.qas,
                current.position,
                current.line,
            )
            continue
        if current is not None:
            yield current
            position += 1
        current = PassageRecord(record.text, record.title, record.external_id, record.qas, position, record.line)
    if current is not None:
        yield current


def _counted(records: Iterable[PassageRecord], path: Path, stats: ReadStats, progress: _Progress):
    for record in records:
        stats.passages += 1
        stats.questions += len(record.qas)
        yield record
    progress.finish()
    if stats.passages == 0:
        raise EmptyFileError(path, "no passages found")


def _start(path: str | os.PathLike, progress: ProgressCallback | None, stats: ReadStats | None):
    path = Path(path)
    if not path.is_file():
        raise CorpusImportError(path, "file not found")
    stats = stats if stats is not None else ReadStats()
    stats.bytes_total = path.stat().st_size
    if stats.bytes_total == 0:
        raise EmptyFileError(path, EMPTY_FILE_PROBLEM)
    return path, stats, _Progress(progress, stats.bytes_total, stats)
