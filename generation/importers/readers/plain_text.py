"""Plain text: one passage per block of lines (blocks separated by blank lines)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from generation.importers.readers.common import (
    PassageRecord,
    ProgressCallback,
    ReadStats,
    _counted,
    _lines,
    _start,
)


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
