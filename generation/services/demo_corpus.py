"""Loads the project's own demo corpus (generation/fixtures/demo_corpus.json) once, idempotently."""

from __future__ import annotations

import json
from pathlib import Path

from django.db import transaction

from generation.models import Corpus, Passage, ReferenceQA, content_hash

DEMO_FILE = Path(__file__).resolve().parent.parent / "fixtures" / "demo_corpus.json"


def load_demo_corpus(path: Path = DEMO_FILE) -> dict[str, int]:
    """Create the demo corpora; passages already present (same text) are left alone. Returns counts."""
    data = json.loads(path.read_text(encoding="utf-8"))
    counts = {"corpora": 0, "passages": 0, "pairs": 0}
    with transaction.atomic():
        for spec in data["corpora"]:
            corpus, created = Corpus.objects.get_or_create(
                name=spec["name"],
                defaults={
                    "language": spec["language"],
                    "source": spec.get("source", "demo"),
                    "description": spec.get("description", ""),
                },
            )
            counts["corpora"] += int(created)
            existing = set(corpus.passages.values_list("content_hash", flat=True))
            for item in spec["passages"]:
                digest = content_hash(item["text"])
                if digest in existing:
                    continue
                passage = Passage.objects.create(
                    corpus=corpus,
                    text=item["text"],
                    title=item.get("title", ""),
                    external_id=item.get("external_id", ""),
                    split=item.get("split", ""),
                    content_hash=digest,
                )
                existing.add(digest)
                counts["passages"] += 1
                for qa in item.get("qas", []):
                    ReferenceQA.objects.create(passage=passage, question=qa["question"], answers=list(qa["answers"]))
                    counts["pairs"] += 1
    return counts
