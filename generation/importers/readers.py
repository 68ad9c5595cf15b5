"""Streaming corpus readers: plain text, JSONL, CSV/TSV and SQuAD-format JSON (SQuAD 1.1/2.0, JSQuAD).

Each reader yields one PassageRecord at a time and never holds the whole file: text formats are read
line by line from the raw bytes (so an encoding error names its exact line and byte), SQuAD JSON is
parsed by ijson one article at a time. A progress callback gets
(bytes read, total bytes). Bad input raises a CorpusImportError subclass naming the file and place.

A UTF-16 text, JSONL or CSV file with a byte-order mark is decoded (Excel's "Unicode text" export); a
SQuAD JSON file must be UTF-8, and anything else is refused with an encoding error naming the byte.

Every gold answer carries `answer_start`, its character offset in the stored passage text: SQuAD's own
offsets (moved with the text when a "title [SEP] " prefix is split off, checked against the text), else
the first occurrence; None where the answer is not a span of the text (free-form JSONL/CSV answers).

SQuAD 2.0 unanswerable questions (`is_impossible: true`) are skipped by default and counted in
ReadStats.skipped_unanswerable: reference pairs are used as training targets and for EM/F1 scoring,
and a question without an answer is neither. `keep_unanswerable=True` keeps them with `answers=()`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple

import ijson

from generation.importers.errors import (
    EMPTY_FILE_PROBLEM,
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

ProgressCallback = Callable[[int, int], None]

UTF8_BOM = codecs.BOM_UTF8
SEP_MARKER = " [SEP] "  # JSQuAD writes contexts as "title [SEP] text"
_SEP_TITLE_MAX_CHARS = 300
_CSV_FIELD_LIMIT = 64 * 1024 * 1024
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


class _CheckedReader(io.RawIOBase):
    """Binary reader for ijson that drops a leading BOM, validates UTF-8 incrementally (so the error says
    which byte is bad instead of yajl's generic message) and reports progress."""

    def __init__(self, handle: IO[bytes], path: Path, progress: _Progress) -> None:
        super().__init__()
        self.handle = handle
        self.path = path
        self.progress = progress
        self.offset = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self.first = True

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson probes with read(0) to tell bytes from text; that must not consume the BOM check
            return b""
        data = self.handle.read(size)
        base = self.offset
        self.offset += len(data)
        if self.first:
            self.first = False
            if data.startswith(UTF8_BOM):
                data = data[len(UTF8_BOM) :]
                base += len(UTF8_BOM)
        try:
            self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise _encoding_error(self.path, data, exc, base, None) from None
        self.progress.update(self.offset)
        return data

    def readinto(self, buffer) -> int:  # pragma: no cover - ijson calls read()
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


# ------------------------------------------------------------------------------------------ helpers


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


# -------------------------------------------------------------------------------------------- readers


def read_txt(
    path: str | os.PathLike, *, progress: ProgressCallback | None = None, stats: ReadStats | None = None
) -> Iterator[PassageRecord]:
    """One passage per block of lines; blocks are separated by blank lines. No titles or ids."""
    path, stats, prog = _start(path, progress, stats)

    def records() -> Iterator[PassageRecord]:
        block: list[str] = []
        first_line = 0
        position = 0
        for number, line in _lines(path, prog):
            if line.strip():
                if not block:
                    first_line = number
                block.append(line.rstrip())
            elif block:
                yield PassageRecord("\n".join(block).strip(), position=position, line=first_line)
                position += 1
                block = []
        if block:
            yield PassageRecord("\n".join(block).strip(), position=position, line=first_line)

    return _counted(records(), path, stats, prog)


def read_jsonl(
    path: str | os.PathLike,
    *,
    columns: Columns = Columns(),
    progress: ProgressCallback | None = None,
    stats: ReadStats | None = None,
) -> Iterator[PassageRecord]:
    """One JSON object per line (blank lines are skipped)."""
    path, stats, prog = _start(path, progress, stats)

    def records() -> Iterator[PassageRecord]:
        position = 0
        for number, line in _lines(path, prog):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise NotJSONError(path, f"not valid JSON ({exc})", line=number) from None
            yield _record_from_object(obj, columns, path, {"line": number}, position, number)
            position += 1

    return _counted(_merge_consecutive(records(), bool(columns.question)), path, stats, prog)


def read_csv(
    path: str | os.PathLike,
    *,
    columns: Columns = Columns(qas=None),
    delimiter: str | None = None,
    progress: ProgressCallback | None = None,
    stats: ReadStats | None = None,
) -> Iterator[PassageRecord]:
    """CSV/TSV with a header row; `delimiter` defaults to a tab for .tsv files and a comma otherwise."""
    path, stats, prog = _start(path, progress, stats)
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    # Passages can exceed csv's 128 KiB default field limit; the limit is process-wide, so only raise it.
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)

    def records() -> Iterator[PassageRecord]:
        counter = {"line": 0}

        def physical_lines() -> Iterator[str]:
            for number, line in _lines(path, prog):
                counter["line"] = number
                yield line + "\n"

        reader = csv.reader(physical_lines(), delimiter=delimiter, strict=True)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise InvalidRecordError(path, f"cannot read the header row ({exc})", line=1) from None
        header = [name.strip() for name in header]
        if columns.text not in header:
            raise MissingFieldError(
                path,
                f"no '{columns.text}' column in the header (columns: {', '.join(header) or 'none'})",
                line=1,
                hint="Choose the column that holds the passage text",
            )
        position = 0
        while True:
            start = counter["line"] + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InvalidRecordError(path, f"malformed CSV ({exc})", line=start) from None
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise InvalidRecordError(
                    path, f"row has {len(row)} fields but the header has {len(header)}", line=start
                )
            yield _record_from_object(
                dict(zip(header, row, strict=True)), columns, path, {"line": start}, position, start
            )
            position += 1

    return _counted(_merge_consecutive(records(), bool(columns.question)), path, stats, prog)


def _split_sep_title(context: str) -> tuple[str, str]:
    """JSQuAD "title [SEP] text" -> (title, text); contexts without the marker are returned unchanged."""
    head, marker, rest = context.partition(SEP_MARKER)
    if marker and len(head) <= _SEP_TITLE_MAX_CHARS and "\n" not in head:
        return head.strip(), rest.strip()
    return "", context.strip()


def _first_json_byte(path: Path) -> bytes:
    """The first non-blank byte after an optional BOM: '{' for SQuAD, '[' for a JSON list, b'' if blank.

    The head of the file is checked to be UTF-8 first, so a UTF-16 file or random bytes are reported as
    the wrong encoding rather than as the wrong format."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if head.startswith(_UTF16_BOMS):
        raise EncodingError(path, "the file is UTF-16, not UTF-8", hint="Save it as UTF-8")
    base = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
    try:  # not final: the 4096-byte cut may split a character
        codecs.getincrementaldecoder("utf-8")("strict").decode(head[base:], final=False)
    except UnicodeDecodeError as exc:
        raise _encoding_error(path, head[base:], exc, base, None) from None
    if b"\x00" in head:
        raise EncodingError(path, _NUL_PROBLEM, hint=_NUL_HINT)
    return head[base:].lstrip()[:1]


def _has_data_list(path: Path) -> bool:
    """Only asked when no article was read: tells "data": [] apart from a file without a data list."""
    try:
        with open(path, "rb") as handle:
            return any(p == "data" and e == "start_array" for p, e, _ in ijson.parse(handle))
    except ijson.JSONError:
        return False


def _squad_answer_list(qa: dict, path: Path, where: dict) -> list:
    """SQuAD `answers` must be a list of {"text", "answer_start"} objects; a bare string would silently
    become a one-answer list, so it is refused (plain strings inside the list are accepted)."""
    value = qa.get("answers")
    if value is None:
        return []
    if not isinstance(value, list):
        kind = "text" if isinstance(value, str) else type(value).__name__
        raise InvalidRecordError(
            path,
            f'\'answers\' must be a list of {{"text": ..., "answer_start": ...}} objects, got {kind}',
            hint='Write it as "answers": [{"text": "...", "answer_start": 0}]',
            **where,
        )
    return value


def _squad_paragraph(
    obj: Any,
    where: dict,
    title: str,
    position: int,
    options: tuple[bool, bool],
    path: Path,
    stats: ReadStats,
) -> PassageRecord:
    """One paragraph. When a "title [SEP] " prefix is split off but some gold answer occurs only in that
    title (3% of JSQuAD's questions), the passage keeps the context as written: the prefix stays in the
    text every model, judge and dataset reads, so the pair stays answerable from its passage."""
    keep_unanswerable, strip_sep_title = options
    if not isinstance(obj, dict):
        raise InvalidRecordError(path, "a paragraph must be a JSON object", **where)
    if "context" not in obj:
        raise MissingFieldError(path, f"no 'context' (fields present: {', '.join(obj) or 'none'})", **where)
    context = obj["context"]
    if not isinstance(context, str):
        raise InvalidRecordError(path, "'context' must be text", **where)
    sep_title, text = _split_sep_title(context) if strip_sep_title else ("", context.strip())
    if not text:
        raise EmptyTextError(path, "'context' is empty", **where)
    raw_qas = obj.get("qas") or []
    if not isinstance(raw_qas, list):
        raise InvalidRecordError(path, "'qas' must be a list", **where)
    kept: list[tuple[str, str, list]] = []
    for number, qa in enumerate(raw_qas, start=1):
        qid = _text_field(qa.get("id")) if isinstance(qa, dict) else ""
        qwhere = {"record": where["record"] + f", question {number}" + (f" (id {qid})" if qid else "")}
        if not isinstance(qa, dict) or not _text_field(qa.get("question")):
            raise MissingFieldError(path, "no 'question' text", **qwhere)
        answer_list = _squad_answer_list(qa, path, qwhere)
        if qa.get("is_impossible") or not _answer_texts(answer_list, path, qwhere):
            if not keep_unanswerable:
                stats.skipped_unanswerable += 1
                continue
            answer_list = []
        kept.append((_text_field(qa["question"]), qid, answer_list))
    if sep_title:
        title_only = sum(
            1
            for _, _, answer_list in kept
            if any(a not in text and a in context for a in _answer_texts(answer_list, path, where))
        )
        if title_only:
            stats.title_kept += 1
            stats.title_only_questions += title_only
            text = context.strip()
    offset = context.find(text)
    qas = []
    for question, qid, answer_list in kept:
        answers, starts = _answers(answer_list, path, where, text, offset)
        qas.append(QARecord(question, answers, qid, starts))
    return PassageRecord(text, title or sep_title, _text_field(obj.get("id")), tuple(qas), position)


def read_squad(
    path: str | os.PathLike,
    *,
    keep_unanswerable: bool = False,
    strip_sep_title: bool = True,
    progress: ProgressCallback | None = None,
    stats: ReadStats | None = None,
) -> Iterator[PassageRecord]:
    """SQuAD 1.1/2.0 and JSQuAD: data[].title, data[].paragraphs[].context, .qas[].question/.answers[].text.

    JSQuAD's "title [SEP] " prefix is moved into the title (`strip_sep_title=False` keeps contexts as
    written), except in a paragraph where some gold answer occurs only in that title: it keeps the prefix
    in its text (counted in ReadStats.title_kept / title_only_questions) so the pair stays answerable.

    ijson builds one article (data[i]) at a time in C, so memory is bounded by the largest article, not
    by the file (SQuAD's and JSQuAD's articles are well under a megabyte). Building single paragraphs
    from Python-level events instead was 10x slower for no real gain."""
    path, stats, prog = _start(path, progress, stats)

    def records() -> Iterator[PassageRecord]:
        first = _first_json_byte(path)
        if not first:
            raise EmptyFileError(path, "the file holds nothing but blank space")
        if first != b"{":
            raise UnsupportedFormatError(
                path,
                "not SQuAD format: the file must be a JSON object with a 'data' list",
                hint="Import a JSON-lines file with the JSONL importer instead",
            )
        position = 0
        articles = 0
        options = (keep_unanswerable, strip_sep_title)
        try:
            with open(path, "rb") as handle:
                for number, article in enumerate(
                    ijson.items(_CheckedReader(handle, path, prog), "data.item", use_float=True), 1
                ):
                    articles += 1
                    label = f"article {number}"
                    if not isinstance(article, dict):
                        raise InvalidRecordError(path, "an article must be a JSON object", record=label)
                    title = _text_field(article.get("title"))
                    if title:
                        label += f" ({title!r})"
                    paragraphs = article.get("paragraphs")
                    if paragraphs is None:
                        raise MissingFieldError(path, "no 'paragraphs' list", record=label)
                    if not isinstance(paragraphs, list):
                        raise InvalidRecordError(path, "'paragraphs' must be a list", record=label)
                    for par, obj in enumerate(paragraphs, start=1):
                        where = {"record": f"{label}, paragraph {par}"}
                        yield _squad_paragraph(obj, where, title, position, options, path, stats)
                        position += 1
                    del article, paragraphs  # do not keep the last article alive while waiting for the next
        except ijson.IncompleteJSONError as exc:
            message = str(exc).splitlines()[0].strip() if str(exc) else "invalid JSON"
            if "premature EOF" in message:
                raise TruncatedFileError(path, f"unexpected end of file after {prog.stats.bytes_read} bytes") from None
            raise NotJSONError(path, f"not valid JSON near byte {prog.stats.bytes_read}: {message}") from None
        if articles == 0 and not _has_data_list(path):
            raise MissingFieldError(path, "no top-level 'data' list: this is not a SQuAD-format file")

    return _counted(records(), path, stats, prog)


# ------------------------------------------------------------------------------------------- dispatch


def detect_format(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    mapping = {".txt": "txt", ".text": "txt", ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "csv"}
    if suffix in mapping:
        return mapping[suffix]
    if suffix == ".json":
        return "squad"
    raise UnsupportedFormatError(
        path, f"cannot tell the format from the extension {suffix!r}", hint=f"Pick one of {', '.join(FORMATS)}"
    )


def read_corpus(
    path: str | os.PathLike,
    fmt: str = "auto",
    *,
    columns: Columns | None = None,
    keep_unanswerable: bool = False,
    strip_sep_title: bool = True,
    progress: ProgressCallback | None = None,
    stats: ReadStats | None = None,
) -> Iterator[PassageRecord]:
    """Pick the reader for `fmt` ("auto" looks at the extension)."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt == "txt":
        return read_txt(path, progress=progress, stats=stats)
    if fmt == "jsonl":
        return read_jsonl(path, columns=columns or Columns(), progress=progress, stats=stats)
    if fmt == "csv":
        return read_csv(path, columns=columns or Columns(qas=None), progress=progress, stats=stats)
    if fmt == "squad":
        return read_squad(
            path, keep_unanswerable=keep_unanswerable, strip_sep_title=strip_sep_title, progress=progress, stats=stats
        )
    raise UnsupportedFormatError(path, f"unknown format {fmt!r}", hint=f"Pick one of {', '.join(FORMATS)}")
