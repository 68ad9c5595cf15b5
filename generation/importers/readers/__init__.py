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

The readers live one module per format (plain_text, jsonl, csv_table, squad) over `common`; this package
keeps the public names importable from `generation.importers.readers`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from generation.importers.errors import UnsupportedFormatError
from generation.importers.readers.common import (
    FORMATS,
    UTF8_BOM,
    Columns,
    PassageRecord,
    ProgressCallback,
    QARecord,
    ReadStats,
)
from generation.importers.readers.csv_table import read_csv
from generation.importers.readers.jsonl import read_jsonl
from generation.importers.readers.plain_text import read_txt
from generation.importers.readers.squad import SEP_MARKER, read_squad

__all__ = [
    "FORMATS",
    "SEP_MARKER",
    "UTF8_BOM",
    "Columns",
    "PassageRecord",
    "ProgressCallback",
    "QARecord",
    "ReadStats",
    "detect_format",
    "read_corpus",
    "read_csv",
    "read_jsonl",
    "read_squad",
    "read_txt",
]


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
