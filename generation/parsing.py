"""Turn what an instruct model actually wrote into (question, answer) pairs, and say which form it used.

Models rarely follow the requested output format exactly: JSON comes wrapped in ```json fences, with
trailing commas or cut off at max_new_tokens; line formats mix "Q1:", "**Question 1:**", "質問１：" and
"Q1. ... A1. ..." on one line. Every parser here is total: garbage gives an empty result with format
NONE, never an exception, so one odd output can never stop a generation run. The renderers at the end
write pairs in the same forms (one-shot prompt examples use them, and the property tests round-trip them).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

Pair = tuple[str, str]


class ParseFormat(StrEnum):
    JSON = "json"  # a complete JSON list/object (fenced or bare, trailing commas repaired)
    JSON_PARTIAL = "json_partial"  # complete objects salvaged from broken or truncated JSON
    QA_LINES = "qa_lines"  # "Q:/A:", "Question 1:/Answer 1:", "質問1：/回答1：", "Q1. ... A1. ..."
    NUMBERED = "numbered"  # "1. question?" followed by an unlabeled answer line
    NONE = "none"


@dataclass(frozen=True)
class ParseResult:
    pairs: list[Pair]
    format: ParseFormat
    note: str = ""  # what was repaired or why nothing matched, for the run log

    @property
    def ok(self) -> bool:
        return bool(self.pairs)


# --------------------------------------------------------------------------------------------- cleanup

_THINK_RE = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE_RE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


def _strip_reasoning(text: str) -> str:
    """Reasoning models put a <think> block first; its drafts must not be parsed as pairs."""
    return _THINK_RE.sub("", text)


# ------------------------------------------------------------------------------------------------ JSON

_QUESTION_KEYS = ("question", "q", "質問", "問い", "問題", "query")
_ANSWER_KEYS = ("answer", "a", "回答", "答え", "答", "response")
_LIST_KEYS = ("pairs", "qa_pairs", "qas", "questions", "qa", "data", "items", "results")
_TRAILING_COMMA_RE = re.compile(r",(\s*[\]}])")


def _remove_trailing_commas(text: str) -> str:
    """Drop commas before ] or } that sit outside strings (a regex alone would also edit string contents)."""
    out: list[str] = []
    in_string = escaped = False
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if in_string:
            out.append(ch)
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
            out.append(ch)
        elif ch == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j >= n or text[j] not in "]}":
                out.append(ch)
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _as_text(value: object) -> str | None:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and value:  # {"answer": ["x", ...]}: SQuAD-like answer lists
        return _as_text(value[0])
    if isinstance(value, dict):
        return _as_text(value.get("text"))
    return None


def _pair_from_object(obj: object) -> Pair | None:
    if isinstance(obj, dict):
        lowered = {str(k).strip().lower(): v for k, v in obj.items()}
        question = next((lowered[k] for k in _QUESTION_KEYS if k in lowered), None)
        answer = next((lowered[k] for k in _ANSWER_KEYS if k in lowered), None)
        q, a = _as_text(question), _as_text(answer)
        if not q:  # an object without a question is not a QA pair (an answer alone teaches nothing)
            return None
        return (q, a or "")
    if isinstance(obj, list | tuple) and len(obj) == 2 and all(isinstance(x, str) for x in obj):
        return (obj[0].strip(), obj[1].strip())
    return None


def _pairs_from_json(value: object, depth: int = 0) -> list[Pair] | None:
    """Pairs from a decoded JSON value, or None if its shape is not a QA list/object."""
    if depth > 3:
        return None
    if isinstance(value, list):
        pairs = [p for p in (_pair_from_object(item) for item in value) if p is not None]
        if pairs:
            return pairs
        # [[{...}, {...}]] or a list of wrapper objects
        nested = [_pairs_from_json(item, depth + 1) for item in value if isinstance(item, list | dict)]
        flat = [p for group in nested if group for p in group]
        return flat or None
    if isinstance(value, dict):
        single = _pair_from_object(value)
        if single is not None:
            return [single]
        lowered = {str(k).strip().lower(): v for k, v in value.items()}
        for key in _LIST_KEYS:
            if key in lowered:
                found = _pairs_from_json(lowered[key], depth + 1)
                if found:
                    return found
        # {"1": {"question": ...}, "2": {...}} or {"What is X?": "Y", ...}
        values = list(value.values())
        if values and all(isinstance(v, dict) for v in values):
            return _pairs_from_json(values, depth + 1)
        if values and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            keys = [k.strip() for k in value]
            if all(k.endswith(("?", "？")) for k in keys):
                return [(k, v.strip()) for k, v in zip(keys, values, strict=True)]
    return None


def _json_candidates(text: str) -> Iterable[tuple[str, str]]:
    """(source, snippet) pairs to try as a whole JSON document, most specific first."""
    for match in _FENCE_RE.finditer(text):
        body = match.group(2).strip()
        if body[:1] in "[{":
            yield "fenced", body
    stripped = text.strip()
    for opener, closer in (("[", "]"), ("{", "}")):
        start, end = stripped.find(opener), stripped.rfind(closer)
        if start != -1 and end > start:
            yield "embedded", stripped[start : end + 1]


def _decode(snippet: str) -> tuple[object, str] | None:
    try:
        return json.loads(snippet), ""
    except (ValueError, RecursionError):
        pass
    repaired = _remove_trailing_commas(snippet)
    if repaired != snippet:
        try:
            return json.loads(repaired), "trailing commas removed"
        except (ValueError, RecursionError):
            pass
    return None


def _salvage_objects(text: str) -> list[Pair]:
    """Complete {...} objects with QA keys found anywhere: what is left of a list cut off mid-way."""
    decoder = json.JSONDecoder()
    cleaned = _remove_trailing_commas(text)
    pairs: list[Pair] = []
    i = cleaned.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(cleaned, i)
        except (ValueError, RecursionError):
            i = cleaned.find("{", i + 1)
            continue
        pair = _pair_from_object(obj)
        if pair is not None:
            pairs.append(pair)
            i = cleaned.find("{", end)
        else:
            i = cleaned.find("{", i + 1)
    return pairs


def parse_json(text: str) -> ParseResult:
    """A JSON list of {"question","answer"} objects (or a wrapper object), fenced or bare."""
    text = _strip_reasoning(text)
    if "{" not in text and "[" not in text:
        return ParseResult([], ParseFormat.NONE, "no JSON brackets")
    for source, snippet in _json_candidates(text):
        decoded = _decode(snippet)
        if decoded is None:
            continue
        value, repair = decoded
        pairs = _pairs_from_json(value)
        if pairs:
            if source == "embedded" and snippet[0] == "{":
                # '[{...}, {...' cut off at max_new_tokens: the first-to-last brace span is only one object
                salvaged = _salvage_objects(text)
                if len(salvaged) > len(pairs):
                    return ParseResult(salvaged, ParseFormat.JSON_PARTIAL, "complete objects kept from truncated JSON")
            note = ", ".join(x for x in (source if source == "fenced" else "", repair) if x)
            return ParseResult(pairs, ParseFormat.JSON, note)
    salvaged = _salvage_objects(text)
    if salvaged:
        return ParseResult(salvaged, ParseFormat.JSON_PARTIAL, "complete objects kept from invalid/truncated JSON")
    return ParseResult([], ParseFormat.NONE, "no QA pairs in JSON")


# ----------------------------------------------------------------------------------------- line forms

_NUM = r"[0-9０-９]{1,3}"
# "Q1:", "Q1：", "Q1.", "Q1)", "Ｑ１．", "Q1 - "; an ASCII dot must be followed by a space or non-ASCII text
_SEP = r"(?:[:：．]|[.)）](?=\s|$|[^\x00-\x7F])|\s*[-—–]\s)"
_OPEN = r"[【\[(（<〈「]?"
_CLOSE = r"[】\])）>〉」]?"
_Q_WORDS = r"Q|Ｑ|Question|QUESTION|question|質問|問い|問題|問"
_A_WORDS = r"A|Ａ|Answer|ANSWER|answer|回答|解答|答え|答"
_BOLD = r"(?:\*\*|__)?"
_LEAD = r"(?:[-*•・>#]+\s*)?(?:" + _NUM + r"[.．)）]\s*)?"  # bullets, headings, "1." list numbers


def _label(words: str) -> str:
    """A label such as 【質問1】, **Q1:**, Question 1 - or A1. (number and brackets optional)."""
    return (
        _BOLD
        + _OPEN
        + r"(?:"
        + words
        + r")[ \t]*(?:"
        + _NUM
        + r")?"
        + _CLOSE
        + r"(?:"
        + _SEP
        + r"|(?<=[】\])）>〉」]))"
        + _BOLD
    )


_Q_LINE_RE = re.compile(r"^[ \t]*" + _LEAD + r"(?P<label>" + _label(_Q_WORDS) + r")[ \t]*", re.MULTILINE)
_A_LINE_RE = re.compile(r"^[ \t]*" + _LEAD + r"(?P<label>" + _label(_A_WORDS) + r")[ \t]*", re.MULTILINE)
# An answer label in the middle of a line ("Q1. What is X? A1. Y", "質問：…ですか？回答：…") is only
# trusted when it follows whitespace or a question mark, and bare "A." needs a number ("Plan A. Then").
_A_INLINE_RE = re.compile(
    r"(?:(?<=\s)|(?<=[?？]))"
    + _BOLD
    + _OPEN
    + r"(?:(?:A|Ａ)[ \t]*"
    + _NUM
    + _CLOSE
    + _SEP
    + r"|(?:A|Ａ|Answer|回答|解答|答え)[ \t]*(?:"
    + _NUM
    + r")?"
    + _CLOSE
    + r"[:：]"
    + r"|【(?:回答|解答|答え|答)(?:"
    + _NUM
    + r")?】)"
    + _BOLD
    + r"[ \t]*"
)


def _clean_segment(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines()]
    joined = " ".join(line for line in lines if line)
    # a bold label's closing "**" sometimes lands after the separator: "**Q1:** text" is handled by the
    # label; stray markers around the whole text are not content.
    if joined.startswith("**") and joined.endswith("**") and len(joined) > 4:
        joined = joined[2:-2].strip()
    return joined


def parse_qa_lines(text: str) -> ParseResult:
    """Labeled question/answer lines in English or Japanese, with or without numbers."""
    text = _strip_reasoning(text)
    marks: list[tuple[int, int, str]] = []  # (start, end, "q"/"a")
    for match in _Q_LINE_RE.finditer(text):
        marks.append((match.start(), match.end(), "q"))
    for match in _A_LINE_RE.finditer(text):
        marks.append((match.start(), match.end(), "a"))
    if not any(kind == "q" for _, _, kind in marks):
        return ParseResult([], ParseFormat.NONE, "no question labels")
    for match in _A_INLINE_RE.finditer(text):
        marks.append((match.start(), match.end(), "a"))
    marks.sort()
    # drop marks that start inside an earlier mark's label
    kept: list[tuple[int, int, str]] = []
    for mark in marks:
        if kept and mark[0] < kept[-1][1]:
            continue
        kept.append(mark)

    pairs: list[Pair] = []
    question: str | None = None
    for idx, (_start, end, kind) in enumerate(kept):
        stop = kept[idx + 1][0] if idx + 1 < len(kept) else len(text)
        body = _clean_segment(text[end:stop])
        if kind == "q":
            if question is not None:
                pairs.append((question, ""))  # a question the model never answered: validation rejects it
            question = body
        elif question is not None:
            pairs.append((question, body))
            question = None
        # an answer with no open question (e.g. the tail of an echoed example) is ignored
    if question is not None:
        pairs.append((question, ""))
    pairs = [p for p in pairs if p[0] or p[1]]
    if not pairs:
        return ParseResult([], ParseFormat.NONE, "labels without text")
    return ParseResult(pairs, ParseFormat.QA_LINES)


_NUMBERED_Q_RE = re.compile(r"^[ \t]*(?:\*\*)?" + _NUM + r"[.．)）](?:\*\*)?[ \t]+(?P<q>.+?[?？])(?:\*\*)?[ \t]*$")


def parse_numbered(text: str) -> ParseResult:
    """ "1. What is X?" then the answer on the following line(s): the form small models drift into."""
    text = _strip_reasoning(text)
    pairs: list[Pair] = []
    question: str | None = None
    answer_lines: list[str] = []
    for raw in text.splitlines():
        match = _NUMBERED_Q_RE.match(raw)
        if match:
            if question is not None:
                pairs.append((question, _clean_segment("\n".join(answer_lines))))
            question, answer_lines = match.group("q").strip(), []
        elif question is not None and raw.strip():
            answer_lines.append(re.sub(r"^[ \t]*(?:[-*•・>]+|→)[ \t]*", "", raw))
    if question is not None:
        pairs.append((question, _clean_segment("\n".join(answer_lines))))
    if not any(a for _, a in pairs):
        return ParseResult([], ParseFormat.NONE, "no numbered questions with answers")
    return ParseResult(pairs, ParseFormat.NUMBERED)


def parse_qa_pairs(text: str, *, prefix: str = "") -> ParseResult:
    """Best reading of a model output. `prefix` is the part of the answer the prompt already wrote
    (a completion prompt ending in "質問1:" leaves the model to continue after the label)."""
    try:
        full = prefix + (text or "")
        if not full.strip():
            return ParseResult([], ParseFormat.NONE, "empty output")
        looks_like_json = bool(re.search(r"[\[{]\s*[\"'{\[]", full)) or "```json" in full.lower()
        if looks_like_json:
            result = parse_json(full)
            if result.ok:
                return result
        result = parse_qa_lines(full)
        if result.ok:
            return result
        if not looks_like_json:
            result = parse_json(full)
            if result.ok:
                return result
        result = parse_numbered(full)
        if result.ok:
            return result
        return ParseResult([], ParseFormat.NONE, "no question/answer structure found")
    except Exception as exc:  # noqa: BLE001 - a parser bug must not stop a run; the note records it
        return ParseResult([], ParseFormat.NONE, f"parser error: {type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------------------------ renderers


class RenderStyle(StrEnum):
    JSON = "json"
    QA = "qa"  # Q1: / A1:
    QUESTION_ANSWER = "question_answer"  # Question 1: / Answer 1:
    JA = "ja"  # 質問1: / 回答1:
    JA_FULLWIDTH = "ja_fullwidth"  # 質問１：/ 回答１：
    Q_DOT = "q_dot"  # Q1. ... A1. ... on one line


_FULLWIDTH_DIGITS = str.maketrans("0123456789", "０１２３４５６７８９")


def render_pairs(pairs: Sequence[Pair], style: RenderStyle | str = RenderStyle.QA) -> str:
    """Pairs written in one of the forms the parser reads (used for one-shot examples and tests)."""
    style = RenderStyle(style)
    if style is RenderStyle.JSON:
        return json.dumps([{"question": q, "answer": a} for q, a in pairs], ensure_ascii=False, indent=2)
    lines: list[str] = []
    for i, (q, a) in enumerate(pairs, start=1):
        if style is RenderStyle.QA:
            lines += [f"Q{i}: {q}", f"A{i}: {a}"]
        elif style is RenderStyle.QUESTION_ANSWER:
            lines += [f"Question {i}: {q}", f"Answer {i}: {a}"]
        elif style is RenderStyle.JA:
            lines += [f"質問{i}: {q}", f"回答{i}: {a}"]
        elif style is RenderStyle.JA_FULLWIDTH:
            n = str(i).translate(_FULLWIDTH_DIGITS)
            lines += [f"質問{n}：{q}", f"回答{n}：{a}"]
        elif style is RenderStyle.Q_DOT:
            lines.append(f"Q{i}. {q} A{i}. {a}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- one-line answers

_LINE_WORDS = sorted({*_Q_WORDS.split("|"), *_A_WORDS.split("|")}, key=len, reverse=True)
_LINE_LABEL_RE = re.compile(
    r"^\s*(?:\*\*)?[【\[(（]?(?:" + "|".join(_LINE_WORDS) + r")[ \t]*(?:" + _NUM + r"[ \t]*(?:[:：.．)）]|[】\])）])"
    r"|[】\])）]?[ \t]*[:：])(?:\*\*)?\s*"
)
_QUOTES = "\"'“”‘’「」『』"


def parse_line(text: str) -> str:
    """The first non-empty line of a one-line completion (an answer-aware question or a round-trip answer),
    without a leading label ("質問:", "Question:", "A:") or wrapping quotes. Total: garbage gives ""."""
    try:
        text = _strip_reasoning(text or "")
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            stripped = _LINE_LABEL_RE.sub("", line, count=1).strip() if _LINE_LABEL_RE.match(line) else line
            if stripped and stripped[0] in _QUOTES and stripped[-1] in _QUOTES and len(stripped) > 2:
                stripped = stripped[1:-1].strip()
            return stripped
        return ""
    except Exception:  # noqa: BLE001 - like parse_qa_pairs: a parser bug must not stop a run
        return ""
