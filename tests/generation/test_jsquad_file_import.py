"""Integration: stream the real JSQuAD validation file and compare counts with a plain json.load count.

The file lives outside the repository (../shared/data next to the repo root) because of its size and
licence; the test is skipped, saying so, where it is absent. QASYNTH_JSQUAD_PATH overrides the path.
"""

from __future__ import annotations

import json

import pytest

from generation.importers.readers import SEP_MARKER, ReadStats, read_squad
from generation.validation import SupportCheck, ValidationConfig, validate_pairs
from tests.generation.synth_helpers import JSQUAD_PATH

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not JSQUAD_PATH.is_file(), reason=f"JSQuAD validation file not found at {JSQUAD_PATH} (optional data)"
    ),
]


@pytest.fixture(scope="module")
def independent_counts() -> dict[str, int]:
    data = json.loads(JSQUAD_PATH.read_text(encoding="utf-8-sig"))
    paragraphs = [p for article in data["data"] for p in article["paragraphs"]]
    questions = [q for p in paragraphs for q in p["qas"]]
    answerable = [q for q in questions if not q.get("is_impossible") and any(a["text"].strip() for a in q["answers"])]
    return {
        "articles": len(data["data"]),
        "contexts": len(paragraphs),
        "questions": len(questions),
        "answerable": len(answerable),
        "sep_contexts": sum(1 for p in paragraphs if SEP_MARKER in p["context"]),
    }


def test_streaming_the_jsquad_file_finds_every_context_and_question(independent_counts):
    stats = ReadStats()
    progress: list[tuple[int, int]] = []
    records = list(read_squad(JSQUAD_PATH, stats=stats, progress=lambda d, t: progress.append((d, t))))
    assert len(records) == independent_counts["contexts"]
    assert stats.questions == independent_counts["answerable"]
    assert stats.questions + stats.skipped_unanswerable == independent_counts["questions"]
    assert progress[-1] == (JSQUAD_PATH.stat().st_size,) * 2
    assert len({r.title for r in records}) <= independent_counts["articles"]


def test_jsquad_titles_are_split_off_unless_a_gold_answer_occurs_only_in_the_title(independent_counts):
    if not independent_counts["sep_contexts"]:
        pytest.skip("this file has no 'title [SEP] ' contexts")
    stats = ReadStats()
    kept = 0
    for record in read_squad(JSQUAD_PATH, stats=stats):
        assert record.title
        if record.text.startswith(record.title + SEP_MARKER):
            kept += 1
            body = record.text[len(record.title + SEP_MARKER) :]
            assert any(a not in body for qa in record.qas for a in qa.answers)
        for qa in record.qas:  # every gold answer is a span of the stored text, at its stored offset
            assert len(qa.answer_starts) == len(qa.answers)
            for answer, start in zip(qa.answers, qa.answer_starts, strict=True):
                assert start is not None and record.text[start : start + len(answer)] == answer
    assert kept == stats.title_kept > 0
    assert stats.title_only_questions < 0.1 * stats.questions


def test_the_validator_keeps_nearly_all_human_jsquad_pairs():
    """Human pairs are the quality bar: a validator rejecting many of them would also discard good
    synthetic pairs. The few it rejects are cloze items ("…で形成され？"), bare noun phrases and
    duplicate questions within a paragraph."""
    config = ValidationConfig.for_language("ja", support_check=SupportCheck.EXACT)
    total = rejected = 0
    for record in read_squad(JSQUAD_PATH):
        pairs = [(qa.question, qa.answers[0]) for qa in record.qas]
        verdicts = validate_pairs(pairs, record.text, config, title=record.title)
        total += len(verdicts)
        rejected += sum(1 for v in verdicts if not v.accepted)
    assert total > 0
    assert rejected / total < 0.05, f"{rejected} of {total} human pairs rejected"
