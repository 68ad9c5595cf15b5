"""Exemplar rotation: the one-shot example is drawn per passage from a pool, not fixed.

A small model shown the same example before every passage learns to echo it (the shipped Japanese
default rewrote its 琵琶湖 example in 6 of 8 outputs). Drawing the example per passage from the template's
own example plus human pairs of the corpus's *train* split removes the single pattern to copy. Two rules
keep the evaluation honest: an exemplar never comes from the passage being generated for (or its
article: passages of one article share facts), and never from an evaluation split. The draw is seeded by
(seed, passage id), so a resumed run draws the same exemplar. This module imports no Django.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from generation.parsing import Pair

TEMPLATE_SOURCE = "template"


@dataclass(frozen=True)
class Exemplar:
    passage: str
    pairs: tuple[Pair, ...]
    source: str = TEMPLATE_SOURCE  # "template" or "reference:<passage id>"
    passage_id: int | None = None
    title: str = ""
    split: str = ""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"source": self.source, "passage": self.passage, "pairs": [list(p) for p in self.pairs]}
        if self.passage_id is not None:
            data.update(passage_id=self.passage_id, title=self.title, split=self.split)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Exemplar:
        return cls(
            passage=str(data.get("passage", "")),
            pairs=tuple((str(q), str(a)) for q, a in data.get("pairs", ())),
            source=str(data.get("source", TEMPLATE_SOURCE)),
            passage_id=int(data["passage_id"]) if data.get("passage_id") is not None else None,
            title=str(data.get("title", "")),
            split=str(data.get("split", "")),
        )


@dataclass(frozen=True)
class ExemplarPool:
    """The template's example plus eligible human exemplars; `draw` picks one per passage."""

    template: Exemplar | None
    references: tuple[Exemplar, ...] = field(default_factory=tuple)
    seed: int = 0

    def to_list(self) -> list[dict[str, Any]]:
        return [e.to_dict() for e in self.members()]

    @classmethod
    def from_list(cls, rows: list[dict[str, Any]], seed: int = 0) -> ExemplarPool:
        members = [Exemplar.from_dict(r) for r in rows]
        template = next((e for e in members if e.source == TEMPLATE_SOURCE), None)
        return cls(template, tuple(e for e in members if e.source != TEMPLATE_SOURCE), seed)

    def members(self) -> list[Exemplar]:
        return ([self.template] if self.template else []) + list(self.references)

    def draw(self, passage_id: int, passage_text: str = "", title: str = "") -> Exemplar | None:
        """The exemplar for one passage: seeded by (seed, passage id); never the passage itself or its article."""
        eligible = [e for e in self.members() if allowed(e, passage_id, passage_text, title)]
        if not eligible:
            return None
        digest = hashlib.sha256(f"{self.seed}:{passage_id}".encode()).digest()
        return random.Random(digest).choice(eligible)


def allowed(exemplar: Exemplar, passage_id: int, passage_text: str, title: str) -> bool:
    if exemplar.source == TEMPLATE_SOURCE:
        return True
    if exemplar.passage_id == passage_id:
        return False
    if passage_text and " ".join(exemplar.passage.split()) == " ".join(passage_text.split()):
        return False
    return not (title and exemplar.title == title)


def build_pool(
    template: Exemplar | None,
    rows: Iterable[dict[str, Any]],
    *,
    train_split: str = "train",
    pairs_per_exemplar: int = 3,
    max_passage_chars: int = 400,
    max_size: int = 64,
    seed: int = 0,
    excerpt: bool = False,
) -> ExemplarPool:
    """Pool from reference rows {passage_id, passage, title, split, pairs: [(q, a), ...]}.

    Only rows of `train_split` are used (an unsplit corpus has no split to leak into and is used whole when
    `train_split` is ""). Long passages are left out (a long example doubles the prompt and the time),
    and a seeded sample of at most `max_size` keeps the stored pool and the prompts small. With `excerpt`,
    an exemplar shows only the sentences that hold its answers (``answer_sentences``)."""
    eligible: list[Exemplar] = []
    for row in rows:
        if train_split and row.get("split") != train_split:
            continue
        passage = str(row.get("passage") or "").strip()
        stripped = ((str(q).strip(), str(a).strip()) for q, a in row.get("pairs", ()))
        pairs = tuple((q, a) for q, a in stripped if q and a)
        if not passage or not pairs or len(passage) > max_passage_chars:
            continue
        pairs = _distinct(pairs)[:pairs_per_exemplar]
        eligible.append(
            Exemplar(
                passage=answer_sentences(passage, [a for _, a in pairs]) if excerpt else passage,
                pairs=pairs,
                source=f"reference:{row['passage_id']}",
                passage_id=int(row["passage_id"]),
                title=str(row.get("title") or ""),
                split=str(row.get("split") or ""),
            )
        )
    eligible.sort(key=lambda e: e.passage_id or 0)
    if len(eligible) > max_size:
        eligible = random.Random(seed).sample(eligible, max_size)
    return ExemplarPool(template=template, references=tuple(eligible), seed=seed)


def _distinct(pairs: Sequence[Pair]) -> tuple[Pair, ...]:
    """Pairs with different answers first-come (JSQuAD often asks three questions with one answer)."""
    seen: set[str] = set()
    out = []
    for q, a in pairs:
        if a not in seen:
            seen.add(a)
            out.append((q, a))
    return tuple(out)


_SENTENCE_END = re.compile(r"(?<=[。！？])|(?<=[.!?])\s+")


def answer_sentences(passage: str, answers: Sequence[str]) -> str:
    """The passage's sentences that hold an answer, in passage order: an example a small model can see how
    answers map to questions in, with little else in it to write about instead of its own passage. The whole
    passage where an answer is in no single sentence (it spans two, or is not a span)."""
    sentences = [s.strip() for s in _SENTENCE_END.split(passage) if s.strip()]
    kept = [s for s in sentences if any(a and a in s for a in answers)]
    if not answers or not all(any(a in s for s in kept) for a in answers):
        return passage
    return ("" if "。" in passage else " ").join(kept)
