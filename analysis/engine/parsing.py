"""Reading a verdict out of a model's output: a JSON object first, then labelled lines, English and Japanese.

Nothing is guessed. A field is read only from a statement that names exactly one label (or one position);
statements that contradict each other leave the field unread, and an output without all three fields
(label of answer 1, label of answer 2, preference) is not a verdict: it is counted as unparseable and its
raw text is kept by the caller. Text is NFKC-normalised first, so full-width digits and colons (回答１：)
read like ASCII ones.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from analysis.engine.templates import JudgeLabel

Position = Literal["1", "2", "tie"]
Method = Literal["json", "text", "choice"]  # "choice": chosen by likelihood (engine/choice.py)
FIELDS = ("label_1", "label_2", "preference")


@dataclass(frozen=True)
class ParsedVerdict:
    """What could be read from one output, in position terms (answer 1 / answer 2 as shown)."""

    label_1: str | None = None
    label_2: str | None = None
    preference: Position | None = None
    method: Method | None = None
    problems: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        """Only a complete verdict is a vote; anything less counts as unparseable."""
        return self.label_1 is not None and self.label_2 is not None and self.preference is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label_1": self.label_1,
            "label_2": self.label_2,
            "preference": self.preference,
            "method": self.method,
            "problems": list(self.problems),
        }


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _squash(text: str) -> str:
    """Case-folded, markup and surrounding punctuation removed, inner whitespace and underscores as one space."""
    text = normalise(text).casefold()
    text = re.sub(r"[*`#\"'“”‘’「」『』【】()\[\]<>]", " ", text)
    text = re.sub(r"[\s_]+", " ", text)
    return text.strip(" .,;:!?。、・-")


def _has_cjk(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


def _spelling_pattern(spelling: str) -> re.Pattern[str]:
    """Latin spellings match only as whole words (so 'correct' is not found inside 'incorrect'); CJK
    spellings anywhere (Japanese has no spaces)."""
    pattern = re.escape(spelling)
    if not _has_cjk(spelling):
        pattern = r"(?<![^\W_])" + pattern + r"(?![^\W_])"
    return re.compile(pattern)


@functools.lru_cache(maxsize=64)
def _matcher(
    candidates: tuple[tuple[str, tuple[str, ...]], ...],
) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """Normalised spellings -> name, and one compiled pattern per spelling (built once per label set)."""
    exact: dict[str, str] = {}
    patterns = []
    for name, spellings in candidates:
        for spelling in spellings:
            squashed = _squash(spelling)
            if squashed:
                exact.setdefault(squashed, name)
                patterns.append((_spelling_pattern(squashed), name))
    return exact, patterns


def _only_match(value: str, candidates: tuple[tuple[str, tuple[str, ...]], ...]) -> str | None:
    """The single candidate named in ``value``; None when none or several different ones are.

    An exact match of the whole value wins. Otherwise every spelling found counts, except one lying inside
    a longer spelling found at the same place ('正解' inside '不正解', 'correct' inside 'not correct')."""
    squashed = _squash(value)
    if not squashed:
        return None
    exact, patterns = _matcher(candidates)
    if squashed in exact:
        return exact[squashed]
    found = [(m.start(), m.end(), name) for pattern, name in patterns for m in pattern.finditer(squashed)]
    kept = {
        name
        for start, end, name in found
        if not any(lo <= start and end <= hi and (hi - lo) > (end - start) for lo, hi, _ in found)
    }
    return kept.pop() if len(kept) == 1 else None


def _label_candidates(labels: Sequence[JudgeLabel]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((label.key, label.spellings()) for label in labels)


_POSITIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("1", ("1", "answer 1", "answer1", "first", "first answer", "the first", "回答1", "1つ目", "1番目", "前者")),
    ("2", ("2", "answer 2", "answer2", "second", "second answer", "the second", "回答2", "2つ目", "2番目", "後者")),
    (
        "tie",
        (
            "tie", "tied", "equal", "equally good", "both", "neither", "same", "draw", "none", "no preference",
            "引き分け", "同等", "同じ", "どちらも", "どちらでもない", "優劣なし", "甲乙つけがたい",
        ),
    ),
)  # fmt: skip


def read_label(value: Any, labels: Sequence[JudgeLabel]) -> str | None:
    """The label key ``value`` names, or None (nothing or more than one label named)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None
    return _only_match(str(value), _label_candidates(labels))


def read_position(value: Any) -> Position | None:
    """ "1", "2" or "tie" from a preference value ("Answer 2", 2, "回答1", "引き分け"), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    found = _only_match(str(value), _POSITIONS)
    return found  # type: ignore[return-value]


# --- which field a JSON key or a text line is about --------------------------------------------------------

_PREFERENCE_WORDS = ("prefer", "better", "winner", "best", "choice", "verdict", "好", "良い", "優れ", "勝")
_ANSWER_WORDS = ("answer", "label", "rating", "judgment", "judgement", "grade", "回答", "評価", "ラベル", "解答")


def field_of(name: str) -> str | None:
    """Which verdict field a JSON key or a line's heading names: "label_1", "label_2", "preference" or None."""
    key = _squash(name)
    if not key:
        return None
    if any(word in key for word in _PREFERENCE_WORDS):
        return "preference"
    compact = key.replace(" ", "")
    ones = bool(re.search(r"(?<!\d)1(?!\d)", compact)) or "first" in key or "1つ目" in compact
    twos = bool(re.search(r"(?<!\d)2(?!\d)", compact)) or "second" in key or "2つ目" in compact
    if ones == twos:
        return None
    if compact in ("1", "2") or any(word in key for word in _ANSWER_WORDS):
        return "label_1" if ones else "label_2"
    return None


# --- the two readers -------------------------------------------------------------------------------------


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every JSON object embedded in the text (code fences and prose around it are fine)."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    pos = 0
    while True:
        start = text.find("{", pos)
        if start == -1:
            return objects
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            pos = start + 1
            continue
        if isinstance(value, dict):
            objects.append(value)
        pos = end


def _statements_from_json(text: str, labels: Sequence[JudgeLabel]) -> list[tuple[str, str]]:
    statements = []
    for obj in _json_objects(text):
        stack = [obj]
        while stack:  # nested objects ({"verdict": {...}}) are read too
            current = stack.pop()
            for key, value in current.items():
                if isinstance(value, dict):
                    stack.append(value)
                    continue
                field = field_of(str(key))
                read = (read_position(value) if field == "preference" else read_label(value, labels)) if field else None
                if field and read is not None:
                    statements.append((field, read))
    return statements


_LINE_RE = re.compile(r"^\s*(?:[-*•>]\s*)*(?P<head>[^:=\n]{1,60}?)\s*[:=]\s*(?P<value>.+?)\s*$")


def _statements_from_text(text: str, labels: Sequence[JudgeLabel]) -> list[tuple[str, str]]:
    statements = []
    for line in text.splitlines():
        match = _LINE_RE.match(line)
        if not match:
            continue
        field = field_of(match["head"])
        if field is None:
            continue
        value = match["value"]
        read = read_position(value) if field == "preference" else read_label(value, labels)
        if read is not None:  # an echoed "Answer 1: Paris" names no label and is not a statement
            statements.append((field, read))
    return statements


def _resolve(statements: list[tuple[str, str]]) -> tuple[dict[str, str | None], list[str]]:
    values: dict[str, str | None] = {}
    problems = []
    for field in FIELDS:
        said = {value for f, value in statements if f == field}
        if len(said) == 1:
            values[field] = said.pop()
        else:
            values[field] = None
            if len(said) > 1:
                problems.append(f"{field} is contradictory ({', '.join(sorted(said))})")
    return values, problems


def parse_verdict(text: str, labels: Sequence[JudgeLabel]) -> ParsedVerdict:
    """Read a verdict: JSON objects first; a field no JSON object states is read from labelled lines."""
    text = normalise(text or "")
    from_json = _statements_from_json(text, labels)
    stated = {field for field, _ in from_json}
    from_text = [] if stated == set(FIELDS) else [s for s in _statements_from_text(text, labels) if s[0] not in stated]
    if not from_json and not from_text:
        return ParsedVerdict(problems=("no verdict found",))
    statements = from_json + from_text
    values, problems = _resolve(statements)
    said = {field for field, _ in statements}
    problems += [f"no {field}" for field in FIELDS if field not in said]
    return ParsedVerdict(
        values["label_1"],
        values["label_2"],
        values["preference"],  # type: ignore[arg-type]
        "json" if from_json else "text",
        tuple(problems),
    )
