"""Judging prompt templates: the shipped English and Japanese defaults, placeholders, and rendering of one
pair in one order as chat messages (for a chat template or a /v1/chat/completions endpoint) or plain text.

The rubric (label list, output format) comes before the passage so that every prompt of a run shares a long
prefix: the local engine prefills it once, and an endpoint with prefix caching (vLLM) reuses it.
The model sees "Answer 1" and "Answer 2", never system names; which system is which follows from the order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

PLACEHOLDERS = ("passage", "question", "gold", "answer_1", "answer_2", "labels", "label_keys")
REQUIRED_PLACEHOLDERS = ("question", "answer_1", "answer_2", "labels")
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_0-9]+)\}")

Order = Literal["ab", "ba"]
ORDERS: tuple[Order, Order] = ("ab", "ba")
""""ab": system A's answer is shown as answer 1; "ba": system B's answer is answer 1."""


@dataclass(frozen=True)
class JudgeLabel:
    """One label of the session's label set: the key the model must answer with, the text shown to it, and
    other spellings the parser accepts for it (e.g. 正解 for ``correct``)."""

    key: str
    text: str = ""
    aliases: tuple[str, ...] = ()

    def spellings(self) -> tuple[str, ...]:
        return tuple(s for s in (self.key, self.text, *self.aliases) if s.strip())


# Extra spellings of the default label keys, so a model that answers in words is still understood.
_ALIASES: dict[str, tuple[str, ...]] = {
    "correct": ("right", "fully correct", "完全に正しい", "正しい", "正解", "正答"),
    "partial": (
        "partially correct",
        "partly correct",
        "partially",
        "部分的に正しい",
        "部分的に正解",
        "一部正しい",
        "部分正解",
    ),  # fmt: skip
    "incorrect": ("wrong", "not correct", "false", "誤り", "間違い", "不正解", "誤答", "正しくない"),
}
_JA_TEXT = {"correct": "正しい", "partial": "部分的に正しい", "incorrect": "誤り"}


def judge_labels(labels: Sequence[Mapping[str, str]] | Sequence[str], language: str = "en") -> tuple[JudgeLabel, ...]:
    """The session's label set (``[{"key": ..., "label": ...}]`` as sessions store it, or bare keys) as
    JudgeLabels, with the built-in spellings for the default keys. Keys must be distinct and non-empty."""
    out: list[JudgeLabel] = []
    for entry in labels:
        key, text = (entry, "") if isinstance(entry, str) else (entry.get("key", ""), entry.get("label", ""))
        key = key.strip()
        if not key:
            raise ValueError("every label needs a non-empty key")
        if language.split("-")[0].lower() == "ja" and key in _JA_TEXT:
            text = _JA_TEXT[key]
        out.append(JudgeLabel(key, text or key, _ALIASES.get(key, ())))
    keys = [label.key for label in out]
    if len(out) < 2:
        raise ValueError("a judging label set needs at least two labels")
    if len(set(keys)) != len(keys):
        raise ValueError(f"label keys must be distinct, got {keys}")
    return tuple(out)


@dataclass(frozen=True)
class JudgeTemplate:
    """Everything that decides a judging prompt; stored with the run so its verdicts can be reproduced.

    ``instruction`` is the user message; ``gold_line`` replaces ``{gold}`` when the item has gold answers
    (``{gold_answers}`` inside it is the answers joined by " / "), and ``{gold}`` is empty otherwise."""

    name: str
    language: str
    instruction: str
    system: str = ""
    gold_line: str = "Reference answer: {gold_answers}"
    plain_cue: str = "JSON:"  # ends a plain (non-chat) prompt so a base model continues with the verdict

    def errors(self) -> list[str]:
        """What is wrong with the template, as sentences for a form; empty when usable."""
        problems = []
        used = set(_PLACEHOLDER_RE.findall(self.instruction))
        missing = [p for p in REQUIRED_PLACEHOLDERS if p not in used]
        if missing:
            problems.append("the instruction must contain " + ", ".join("{" + p + "}" for p in missing))
        unknown = sorted((used | set(_PLACEHOLDER_RE.findall(self.system))) - set(PLACEHOLDERS))
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            problems.append(f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; use {allowed}")
        if "{gold_answers}" not in self.gold_line:
            problems.append("the gold answer line must contain {gold_answers}")
        return problems

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeTemplate:
        template = cls(**dict(data))
        problems = template.errors()
        if problems:
            raise ValueError(f"judging template {template.name!r}: " + "; ".join(problems))
        return template


@dataclass(frozen=True)
class JudgePair:
    """One item to judge: system A's and system B's answers to a question about a passage."""

    key: Any  # the caller's id for the pair (a session item id); must be hashable
    question: str
    answer_a: str
    answer_b: str
    passage: str = ""
    gold_answers: tuple[str, ...] = field(default_factory=tuple)

    def shown(self, order: Order) -> tuple[str, str]:
        """(answer 1, answer 2) as the model sees them in this order."""
        if order == "ab":
            return self.answer_a, self.answer_b
        if order == "ba":
            return self.answer_b, self.answer_a
        raise ValueError(f"unknown order {order!r}; use 'ab' or 'ba'")


def _fill(text: str, values: Mapping[str, str]) -> str:
    """Replace known {placeholders} only: the JSON example in the instruction keeps its braces."""
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render_messages(
    template: JudgeTemplate, pair: JudgePair, order: Order, labels: Sequence[JudgeLabel]
) -> list[dict[str, str]]:
    """Chat messages judging ``pair`` shown in ``order``."""
    first, second = pair.shown(order)
    golds = [g.strip() for g in pair.gold_answers if g and g.strip()]
    values = {
        "passage": pair.passage.strip(),
        "question": pair.question.strip(),
        "gold": _fill(template.gold_line, {"gold_answers": " / ".join(golds)}) if golds else "",
        "answer_1": first.strip(),
        "answer_2": second.strip(),
        "labels": "\n".join(f"- {label.key}: {label.text}" for label in labels),
        "label_keys": " | ".join(f'"{label.key}"' for label in labels),
    }
    user = re.sub(r"\n{3,}", "\n\n", _fill(template.instruction, values)).strip()
    messages = [{"role": "system", "content": _fill(template.system, values).strip()}] if template.system else []
    return [*messages, {"role": "user", "content": user}]


PromptRenderer = Callable[[list[dict[str, str]]], Any]
"""Turns chat messages into what the generator takes: the messages themselves (endpoint, chat mode) or a
string (a local tokenizer's chat template, or a plain prompt)."""


def as_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """For an OpenAI-compatible /v1/chat/completions endpoint: the server applies its chat template."""
    return messages


def chat_renderer(tokenizer: Any) -> PromptRenderer:
    """For a local chat model: its tokenizer's chat template, with the assistant turn opened."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("this tokenizer has no chat template; use plain_renderer for a base model")

    def render(messages: list[dict[str, str]]) -> str:
        rendered: str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return rendered

    return render


def plain_renderer(cue: str = "JSON:") -> PromptRenderer:
    """For a base model or a /v1/completions endpoint: the messages as text, ending with ``cue``."""

    def render(messages: list[dict[str, str]]) -> str:
        return "\n\n".join(m["content"] for m in messages) + "\n\n" + cue

    return render


_EN_SYSTEM = "You are a careful, impartial judge of answers to reading-comprehension questions."
_EN_INSTRUCTION = """Two systems answered the same question about a passage. Judge each answer on its own \
against the passage (and the reference answer when one is given), then say which answer is better. \
The order in which the answers are shown does not matter; answer length is not a quality.

Labels (answer with the key before the colon):
{labels}

Reply with one JSON object and nothing else, in exactly this form:
{"answer_1": <one of {label_keys}>, "answer_2": <one of {label_keys}>, "preference": "1" | "2" | "tie"}

Passage:
{passage}

Question: {question}
{gold}

Answer 1: {answer_1}
Answer 2: {answer_2}"""

_JA_SYSTEM = "あなたは読解問題の回答を公平かつ慎重に評価する審査員です。"
_JA_INSTRUCTION = """二つのシステムが、本文についての同じ質問に回答しました。\
それぞれの回答を本文（参考回答があればそれも）に照らして個別に評価し、どちらの回答が良いかを答えてください。回答の表示順は関係ありません。回答の長さは良さではありません。

評価ラベル（コロンの前のキーで答えてください）:
{labels}

次の形式のJSONオブジェクトを一つだけ出力し、ほかには何も書かないでください:
{"answer_1": <{label_keys} のいずれか>, "answer_2": <{label_keys} のいずれか>, "preference": "1" | "2" | "tie"}

本文:
{passage}

質問: {question}
{gold}

回答1: {answer_1}
回答2: {answer_2}"""

DEFAULT_TEMPLATES: dict[str, JudgeTemplate] = {
    "en-judge": JudgeTemplate("en-judge", "en", _EN_INSTRUCTION, _EN_SYSTEM, "Reference answer: {gold_answers}"),
    "ja-judge": JudgeTemplate("ja-judge", "ja", _JA_INSTRUCTION, _JA_SYSTEM, "参考回答: {gold_answers}", "JSON:"),
}


def default_template(language: str) -> JudgeTemplate:
    """The shipped judging template for a language ("ja..." gets Japanese, anything else English)."""
    return DEFAULT_TEMPLATES["ja-judge" if language.split("-")[0].lower() == "ja" else "en-judge"]
