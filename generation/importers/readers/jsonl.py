"""JSON Lines: one passage (or one question of a passage) per JSON object."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

from generation.importers.errors import (
    NotJSONError,
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
