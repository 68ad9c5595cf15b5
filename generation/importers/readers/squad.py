"""SQuAD-format JSON (SQuAD 1.1/2.0, JSQuAD), parsed by ijson one article at a time."""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import ijson

from generation.importers.errors import (
    EmptyFileError,
    EmptyTextError,
    EncodingError,
    InvalidRecordError,
    MissingFieldError,
    NotJSONError,
    TruncatedFileError,
    UnsupportedFormatError,
)
from generation.importers.readers.common import (
    _NUL_HINT,
    _NUL_PROBLEM,
    _UTF16_BOMS,
    UTF8_BOM,
    PassageRecord,
    ProgressCallback,
    QARecord,
    ReadStats,
    _answer_texts,
    _answers,
    _counted,
    _encoding_error,
    _Progress,
    _start,
    _text_field,
)

SEP_MARKER = " [SEP] "  # JSQuAD writes contexts as "title [SEP] text"
_SEP_TITLE_MAX_CHARS = 300


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
