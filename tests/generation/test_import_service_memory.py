"""A large file imports in bounded memory: the stream never holds the file or its rows.

The bound stated and checked here: importing a ~20 MB, 20k-passage JSONL file (chunks of 1,000 passages of
~1 kB) raises the process's peak resident memory by less than 16 MB. Holding the passages' text alone would
take more than the file's size, and their ORM objects several times that. (Fewer, longer passages than the
100k this test once used: about the same file size and bound, a fifth of the database rows and of the
time.) The peak is read from Linux's VmHWM after resetting it (no tracing overhead); elsewhere tracemalloc
measures the Python heap.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from generation.models import Passage
from generation.services.imports import import_file
from tests.generation.synth_helpers import make_corpus

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

N_PASSAGES = 20_000
PEAK_LIMIT_BYTES = 16 * 1024 * 1024
FILLER = "The river rose after three days of rain and the bridge was closed to traffic for a week. " * 11


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        return True
    except OSError:
        return False


def _import_measuring_peak(corpus, path: Path) -> tuple[object, int, str]:
    if _reset_peak_rss():
        before = _status_kb("VmRSS")
        imp = import_file(corpus, path)
        return imp, (_status_kb("VmHWM") - before) * 1024, "peak RSS growth"
    tracemalloc.start()
    try:
        imp = import_file(corpus, path)
        return imp, tracemalloc.get_traced_memory()[1], "traced Python heap peak"
    finally:
        tracemalloc.stop()


def test_a_large_file_imports_in_bounded_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(N_PASSAGES):
            handle.write(f'{{"text": "Passage {i}. {FILLER}", "title": "Article {i // 10}", "id": "p{i}"}}\n')
    size = path.stat().st_size
    corpus = make_corpus("big")

    started = time.monotonic()
    imp, peak, measure = _import_measuring_peak(corpus, path)
    elapsed = time.monotonic() - started

    assert imp.passages_created == N_PASSAGES
    assert Passage.objects.filter(corpus=corpus).count() == N_PASSAGES
    print(f"\nimported {N_PASSAGES} passages ({size / 1e6:.1f} MB) in {elapsed:.1f} s; {measure} {peak / 1e6:.1f} MB")
    assert size > PEAK_LIMIT_BYTES  # the bound would say nothing for a file smaller than it
    assert peak < PEAK_LIMIT_BYTES, f"{measure} {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
