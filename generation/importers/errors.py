"""Typed corpus-import errors that carry where (file, line or record) and what is wrong.

Readers raise these and nothing else for bad input; the import job shows `user_message` as-is, so it
must name the file and the place in it and tell the user what to change.
"""

from __future__ import annotations

from pathlib import Path


class CorpusImportError(Exception):
    """Base class: `problem` says what is wrong, `line`/`record` say where, `hint` what to do about it."""

    default_hint = ""

    def __init__(
        self,
        path: str | Path,
        problem: str,
        *,
        line: int | None = None,
        record: str | int | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = str(path)
        self.file_name = Path(path).name
        self.problem = problem
        self.line = line
        self.record = record
        self.hint = self.default_hint if hint is None else hint
        super().__init__(self.user_message)

    @property
    def location(self) -> str:
        parts = [self.file_name]
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.record is not None:
            parts.append(self.record if isinstance(self.record, str) else f"record {self.record}")
        return ", ".join(parts)

    @property
    def user_message(self) -> str:
        message = f"{self.location}: {self.problem}"
        return then(message, self.hint) if self.hint else message


def then(message: str, more: str) -> str:
    """Join two sentences without doubling or stranding punctuation ("cut off?" + "Nothing" must not read
    "cut off?. Nothing")."""
    message = message.rstrip()
    if not message:
        return more
    return f"{message}{'' if message[-1] in '.!?。' else '.'} {more}"


class EncodingError(CorpusImportError):
    default_hint = "Save the file as UTF-8 (a byte-order mark is fine)"


class NotJSONError(CorpusImportError):
    default_hint = "Each line of a JSONL file must be one JSON object; a SQuAD file is one JSON document"


class TruncatedFileError(CorpusImportError):
    default_hint = "The file ends in the middle of its JSON; the upload or download was probably cut off"


class MissingFieldError(CorpusImportError):
    pass


class EmptyTextError(CorpusImportError):
    default_hint = "Remove the record or give it text"


class InvalidRecordError(CorpusImportError):
    """A field has the wrong type or shape (e.g. `answers` is not a list)."""


class EmptyFileError(CorpusImportError):
    default_hint = "Check that you picked the right file and format"


EMPTY_FILE_PROBLEM = "the file is empty (0 bytes)"


class UnsupportedFormatError(CorpusImportError):
    pass
