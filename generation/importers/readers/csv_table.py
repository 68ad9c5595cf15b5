"""CSV/TSV with a header row (Excel's exports included)."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator

from generation.importers.errors import (
    InvalidRecordError,
    MissingFieldError,
)
from generation.importers.readers.common import (
    Columns,
    PassageRecord,
    ProgressCallback,
    ReadStats,
    _counted,
    _lines,
    _merge_consecutive,
    _record_from_object,
    _start,
)

_CSV_FIELD_LIMIT = 64 * 1024 * 1024


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
