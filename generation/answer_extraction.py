"""Pick candidate answers from a passage before any question is written (answer-aware generation).

A small base model writes a question for a given answer far more reliably than it invents whole pairs
(the answer fixes what the question is about and is a passage span by construction). Candidates are the
spans reading-comprehension datasets ask about: names, numbers with their counters, dates, and noun
phrases. Japanese uses MeCab with the IPA dictionary (installed with sacrebleu[ja] for ja-mecab BLEU);
English uses a tokenizer-free heuristic (capitalised sequences, numbers with their unit, noun phrases
after a determiner), because no POS tagger is a dependency.

`pick_answers` then takes N candidates spread over the passage (one per segment, best first), so the
questions do not all ask about the first sentence. This module imports no Django.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Candidate:
    text: str
    start: int  # character offset in the passage
    score: float  # higher = more like a reading-comprehension answer (names, numbers, dates)


# ------------------------------------------------------------------------------------------- Japanese


@lru_cache(maxsize=1)
def _tagger():
    import ipadic
    import MeCab

    return MeCab.Tagger(ipadic.MECAB_ARGS)


# Noun sub-classes that never make an answer on their own ("こと", "ため", "これ", "的").
_JA_WEAK = ("非自立", "代名詞", "接尾,特殊", "副詞可能")
# A chunk ending in an adjectival stem ("鮮明", "具体的", "数学的") describes rather than names: 3 of JSQuAD
# validation's 4,442 answers end in 的, and given one such "answer" Gemma 3 270M wrote about its one-shot
# example instead of the passage (2 of the 6 exemplar copies in one 60-passage sample) or a vague question.
_JA_ADJECTIVAL_STEM = "形容動詞語幹"
_JA_MAX_CHARS = 20


def _ja_tokens(text: str) -> list[tuple[str, str]]:
    """(surface, feature) per MeCab token, in order."""
    tokens = []
    for line in _tagger().parse(text).splitlines():
        if line == "EOS" or "\t" not in line:
            continue
        surface, feature = line.split("\t", 1)
        tokens.append((surface, feature))
    return tokens


def japanese_candidates(passage: str) -> list[Candidate]:
    """Noun chunks (a prefix such as 約 or 第, nouns, counters, suffixes) scored by kind: proper nouns and
    numbers first, then compounds of two or more nouns, then single general nouns of two or more characters."""
    candidates: list[Candidate] = []
    offset = 0
    chunk: list[tuple[str, str, int]] = []  # (surface, feature, start)

    def flush() -> None:
        while chunk and chunk[-1][1].startswith("接頭詞"):  # a trailing prefix belongs to nothing
            chunk.pop()
        while chunk and any(w in chunk[0][1] for w in _JA_WEAK) and not chunk[0][1].startswith("接頭詞"):
            chunk.pop(0)
        if chunk:
            text = "".join(s for s, _, _ in chunk)
            features = [f for _, f, _ in chunk]
            nouns = [f for f in features if f.startswith("名詞")]
            proper = any("固有名詞" in f for f in features)
            number = any(",数," in f for f in features)
            weak_only = all(any(w in f for w in _JA_WEAK) or "接尾" in f for f in nouns)
            adjectival = bool(nouns) and _JA_ADJECTIVAL_STEM in nouns[-1] and not proper
            if 2 <= len(text) <= _JA_MAX_CHARS and nouns and not weak_only and not adjectival:
                score = 3.0 if proper or number else 1.5 if len(nouns) >= 2 else 1.0
                candidates.append(Candidate(text, chunk[0][2], score))
        chunk.clear()

    for surface, feature in _ja_tokens(passage):
        start = passage.find(surface, offset)
        if start == -1:  # MeCab normalises nothing with ipadic, but stay safe
            start = offset
        offset = start + len(surface)
        is_noun = (
            feature.startswith("名詞")
            and not feature.startswith("名詞,サ変接続")
            or (feature.startswith("名詞,サ変接続") and bool(chunk))
        )
        is_prefix = feature.startswith("接頭詞")
        contiguous = not chunk or chunk[-1][2] + len(chunk[-1][0]) == start
        if (is_noun or (is_prefix and not chunk)) and contiguous and not surface.isspace():
            chunk.append((surface, feature, start))
        else:
            flush()
            if is_prefix or (feature.startswith("名詞") and not surface.isspace()):
                chunk.append((surface, feature, start))
    flush()
    return candidates


# -------------------------------------------------------------------------------------------- English

_EN_STOP_WORDS = """a an the this that these those it its he she they them his her their we our you your i my me
    and or but if then than of in on at to for from by with as into over under about after before during
    is are was were be been being has have had do does did not no can could will would may might shall
    should which who whom whose what when where why how there here also only very more most such some
    any each every all both other another one first"""
_EN_STOP = frozenset(_EN_STOP_WORDS.split())
_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_NUMBER_WORDS = "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|thousand|million|billion"
_EN_PATTERNS: tuple[tuple[re.Pattern[str], float], ...] = (
    # dates: "14 March 1990", "March 1990", "March 14, 1990"
    (re.compile(rf"\b(?:\d{{1,2}} )?(?:{_MONTHS}) (?:\d{{1,2}}, )?\d{{4}}\b"), 3.0),
    # numbers with an optional unit word: "1982", "670 square kilometres", "ten steel gates", "40%"
    (
        re.compile(
            rf"(?<![\w.])(?:about |around |over |nearly )?(?:\d[\d,.]*%?|(?:{_NUMBER_WORDS})\b)"
            r"(?: (?:per cent|percent|square|cubic)?\s?[a-z]+){0,2}",
            re.IGNORECASE,
        ),
        3.0,
    ),
    # capitalised sequences, allowing "of"/"the"/"de" inside: "River Thames", "Bank of England"
    (re.compile(r"\b[A-Z][\w'’-]*(?: (?:of|the|de|and|von|van) [A-Z][\w'’-]*| [A-Z][\w'’-]*)*"), 3.0),
    # noun phrases after a determiner: "the flood barrier", "a movable flood barrier"
    (re.compile(r"\b(?:the|a|an|its|their) ((?:[a-z][\w-]* ){0,2}[a-z][\w-]{2,})\b"), 1.0),
)


def _trim_en(text: str, *, number: bool = False) -> str:
    words = text.strip(" ,.;:").split()
    if number:  # "1982 and protects": the unit words end at the first function word
        cut = next((i for i, w in enumerate(words[1:], 1) if w.lower() in _EN_STOP), len(words))
        words = words[:cut]
    while words and words[-1].lower() in _EN_STOP:
        words.pop()
    while words and words[0].lower() in _EN_STOP and not words[0][:1].isdigit():
        words.pop(0)
    return " ".join(words)


def english_candidates(passage: str) -> list[Candidate]:
    candidates: list[Candidate] = []
    for pattern, score in _EN_PATTERNS:
        for match in pattern.finditer(passage):
            group = 1 if pattern.groups else 0
            raw = match.group(group)
            text = _trim_en(raw, number=pattern is _EN_PATTERNS[1][0])
            if not text or len(text) < 2 or len(text) > 60:
                continue
            if text.lower() in _EN_STOP:
                continue
            start = passage.find(text, match.start(group))
            sentence_start = start == 0 or passage[:start].rstrip().endswith((".", "!", "?", "\n"))
            if score == 3.0 and sentence_start and " " not in text and pattern is _EN_PATTERNS[2][0]:
                continue  # one capitalised word opening a sentence is usually just the sentence's first word
            candidates.append(Candidate(text, start, score))
    return candidates


# -------------------------------------------------------------------------------------------- picking


def candidates(passage: str, language: str) -> list[Candidate]:
    """Every candidate answer span of the passage, deduplicated by text (first occurrence kept)."""
    lang = language.split("-")[0].lower()
    found = japanese_candidates(passage) if lang == "ja" else english_candidates(passage)
    best: dict[str, Candidate] = {}
    for cand in found:
        key = cand.text.casefold()
        if key not in best or (cand.score, -cand.start) > (best[key].score, -best[key].start):
            best[key] = cand
    # a span inside a better or equal span at the same place is redundant ("Thames" inside "River Thames")
    kept = []
    for cand in best.values():
        inside = any(
            other is not cand
            and other.start <= cand.start
            and cand.start + len(cand.text) <= other.start + len(other.text)
            and other.score >= cand.score
            and len(other.text) > len(cand.text)
            for other in best.values()
        )
        if not inside:
            kept.append(cand)
    return sorted(kept, key=lambda c: c.start)


def pick_answers(passage: str, language: str, n: int) -> list[str]:
    """Up to `n` answers spread over the passage: the passage is cut into n equal segments and each gets its
    best-scored candidate (earlier wins a tie); segments without one are filled with the best remaining."""
    if n < 1:
        return []
    found = candidates(passage, language)
    if not found:
        return []
    length = max(len(passage), 1)
    chosen: list[Candidate] = []
    for segment in range(n):
        lo, hi = length * segment / n, length * (segment + 1) / n
        inside = [c for c in found if lo <= c.start < hi and c not in chosen]
        if inside:
            chosen.append(max(inside, key=lambda c: (c.score, -c.start)))
    rest = sorted((c for c in found if c not in chosen), key=lambda c: (-c.score, c.start))
    chosen.extend(rest[: n - len(chosen)])
    return [c.text for c in sorted(chosen, key=lambda c: c.start)]
