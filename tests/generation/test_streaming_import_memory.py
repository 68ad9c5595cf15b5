"""Importing a large file streams: 100,000 passages (25-30 MB on disk) are read with a few MB of Python
objects at most, measured with tracemalloc (which counts every Python allocation, C-built objects too)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from generation.importers.readers import ReadStats, read_jsonl, read_squad

N_PASSAGES = 100_000
PEAK_BOUND_BYTES = 4 * 1024 * 1024  # the files are 6-8x larger than this
FILLER = "Some filler words about the topic of this passage. " * 4


@pytest.fixture(scope="module")
def big_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("big")
    jsonl = folder / "big.jsonl"
    with jsonl.open("w", encoding="utf-8") as out:
        for i in range(N_PASSAGES):
            out.write(json.dumps({"id": i, "title": f"Article {i // 10}", "text": f"Passage {i}. {FILLER}"}) + "\n")
    squad = folder / "big.json"
    with squad.open("w", encoding="utf-8") as out:
        out.write('{"version": "1.1", "data": [')
        for a in range(N_PASSAGES // 10):
            paragraphs = [
                {
                    "context": f"Paragraph {a}-{p}. {FILLER}",
                    "qas": [
                        {
                            "id": f"{a}-{p}",
                            "question": f"What is {a}-{p}?",
                            "answers": [{"text": f"{a}-{p}", "answer_start": 10}],
                        }
                    ],
                }
                for p in range(10)
            ]
            out.write(("," if a else "") + json.dumps({"title": f"Article {a}", "paragraphs": paragraphs}))
        out.write("]}")
    return {"jsonl": jsonl, "squad": squad}


def _peak_while_reading(records) -> tuple[int, int, str]:
    tracemalloc.start()
    try:
        count, last_text = 0, ""
        for record in records:
            count += 1
            last_text = record.text
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return count, peak, last_text


@pytest.mark.slow
def test_a_100k_passage_jsonl_file_is_read_in_bounded_memory(big_files):
    size = big_files["jsonl"].stat().st_size
    assert size > 6 * PEAK_BOUND_BYTES
    count, peak, last = _peak_while_reading(read_jsonl(big_files["jsonl"]))
    assert count == N_PASSAGES
    assert last.startswith(f"Passage {N_PASSAGES - 1}.")
    assert peak < PEAK_BOUND_BYTES, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"


@pytest.mark.slow
def test_a_100k_paragraph_squad_file_is_read_in_bounded_memory(big_files):
    size = big_files["squad"].stat().st_size
    assert size > 6 * PEAK_BOUND_BYTES
    stats = ReadStats()
    count, peak, last = _peak_while_reading(read_squad(big_files["squad"], stats=stats))
    assert count == N_PASSAGES
    assert stats.questions == N_PASSAGES
    assert last.startswith(f"Paragraph {N_PASSAGES // 10 - 1}-9.")
    assert peak < PEAK_BOUND_BYTES, f"peak {peak / 1e6:.1f} MB for a {size / 1e6:.1f} MB file"
