"""Prompt templates for QA-pair generation: placeholders, the shipped en/ja zero-/one-shot defaults, and
rendering for chat models (the tokenizer's own chat template) and base models (a plain completion prompt).

A base model does not follow instructions; it continues patterns. Its prompt therefore shows an example
passage followed by "質問1:/回答1:" lines and ends with the label of the first question, so the model
writes pairs in the same form; that label comes back as `response_prefix`, which the parser needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from generation.parsing import Pair, RenderStyle, render_pairs

PLACEHOLDERS = ("passage", "n", "title")
_PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_]+)\}")

PromptMode = Literal["auto", "chat", "plain"]


@dataclass(frozen=True)
class PromptTemplate:
    """Everything that decides a prompt. `instruction` is the chat user message and must contain
    {passage}; {n} and {title} are optional. One-shot templates carry an example passage and pairs."""

    name: str
    language: str
    shots: int
    n_pairs: int
    instruction: str
    example_passage: str = ""
    example_pairs: tuple[Pair, ...] = ()
    system: str = ""
    plain_header: str = ""  # first line(s) of a plain completion prompt
    passage_label: str = "Passage:"
    style: RenderStyle = RenderStyle.QA  # how example pairs are written and the output form asked for

    def errors(self) -> list[str]:
        """What is wrong with the template, as sentences for a form; empty when usable."""
        problems = []
        if self.shots not in (0, 1):
            problems.append("shots must be 0 or 1")
        if self.n_pairs < 1:
            problems.append("the number of pairs per passage must be at least 1")
        if "{passage}" not in self.instruction:
            problems.append("the instruction must contain the {passage} placeholder")
        unknown = sorted(set(_PLACEHOLDER_RE.findall(self.instruction + self.plain_header)) - set(PLACEHOLDERS))
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            problems.append(f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; use {allowed}")
        if self.shots == 1 and not (self.example_passage.strip() and self.example_pairs):
            problems.append("a one-shot template needs an example passage and at least one example pair")
        return problems

    def to_dict(self) -> dict[str, Any]:
        data = self.__dict__.copy()
        data["example_pairs"] = [list(p) for p in self.example_pairs]
        data["style"] = str(self.style)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptTemplate:
        values = dict(data)
        values["example_pairs"] = tuple(tuple(p) for p in values.get("example_pairs", ()))
        values["style"] = RenderStyle(values.get("style", RenderStyle.QA))
        return cls(**values)


@dataclass(frozen=True)
class RenderedPrompt:
    """What goes to the model and is stored with its output."""

    text: str  # the exact prompt string (chat template applied), or the messages as JSON for an endpoint
    mode: Literal["chat", "plain"]
    messages: tuple[dict[str, str], ...] = ()
    response_prefix: str = ""  # already written by the prompt; prepend it to the output before parsing
    stop: tuple[str, ...] = field(default_factory=tuple)


def fill(text: str, *, passage: str, n: int, title: str = "") -> str:
    """Replace the known placeholders in one pass (so braces inside the passage or in JSON examples are
    left alone and a passage containing "{n}" is not substituted again)."""
    values = {"passage": passage, "n": str(n), "title": title}
    return _PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def _first_label(style: RenderStyle) -> str:
    """The label that opens the first question in `style`, e.g. "質問1:" or "Q1:"."""
    first = render_pairs([("", "")], style).splitlines()[0]
    return first.strip()


def _next_label(style: RenderStyle, n: int) -> str:
    """The label of question n+1: a stop string, because a base model happily writes pair after pair."""
    if style is RenderStyle.JSON:
        return ""
    lines = render_pairs([("", "")] * (n + 1), style).splitlines()
    if style is RenderStyle.Q_DOT:
        return lines[n].split()[0]
    return lines[2 * n].strip()


def build_messages(template: PromptTemplate, passage: str, title: str = "") -> list[dict[str, str]]:
    """Chat messages; a one-shot example is a previous user/assistant exchange, the usual few-shot form."""
    messages: list[dict[str, str]] = []
    if template.system:
        messages.append({"role": "system", "content": template.system})
    if template.shots == 1:
        messages.append(
            {
                "role": "user",
                "content": fill(template.instruction, passage=template.example_passage, n=template.n_pairs),
            }
        )
        messages.append({"role": "assistant", "content": render_pairs(template.example_pairs, template.style)})
    messages.append(
        {"role": "user", "content": fill(template.instruction, passage=passage, n=template.n_pairs, title=title)}
    )
    return messages


def render_plain(template: PromptTemplate, passage: str, title: str = "") -> RenderedPrompt:
    """A completion prompt for base models: header, optional example, the passage, the first label."""
    parts = []
    if template.plain_header:
        parts.append(fill(template.plain_header, passage="", n=template.n_pairs, title=title).strip())
    if template.shots == 1:
        example = render_pairs(template.example_pairs, template.style)
        parts.append(f"{template.passage_label} {template.example_passage.strip()}\n{example}")
    prefix = _first_label(template.style)
    parts.append(f"{template.passage_label} {passage.strip()}\n{prefix}")
    stop = tuple(
        s for s in (f"\n{template.passage_label}", "\n\n\n", _next_label(template.style, template.n_pairs)) if s
    )
    return RenderedPrompt("\n\n".join(parts), "plain", (), prefix, stop)


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render_prompt(
    template: PromptTemplate,
    passage: str,
    *,
    title: str = "",
    tokenizer: Any = None,
    mode: PromptMode = "auto",
) -> RenderedPrompt:
    """Render for a local tokenizer or an endpoint.

    mode "auto": the chat template when the tokenizer has one, else plain (also without a tokenizer).
    "chat" without a tokenizer is
    for a /v1/chat/completions endpoint (the server applies its template; `text` is the messages as JSON).
    Base models whose tokenizer ships a chat template anyway must be rendered with mode="plain"."""
    if mode == "auto":
        mode = "chat" if has_chat_template(tokenizer) else "plain"
    if mode == "plain":
        return render_plain(template, passage, title)
    messages = build_messages(template, passage, title)
    stop = (_next_label(template.style, template.n_pairs),) if template.style is not RenderStyle.JSON else ()
    if tokenizer is not None:
        if not has_chat_template(tokenizer):
            raise ValueError("this tokenizer has no chat template; render the prompt with mode='plain'")
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = json.dumps(messages, ensure_ascii=False)
    return RenderedPrompt(text, "chat", tuple(messages), "", stop)


# ---------------------------------------------------------------------------------------- defaults

_EN_INSTRUCTION = """Read the passage below and write {n} question-answer pairs about it.
Rules:
- Each question must be answerable from the passage alone and end with a question mark.
- Each answer must be a short phrase copied exactly from the passage, not a full sentence.
- Do not repeat a question.
Write the pairs in exactly this form and nothing else:
Q1: <question>
A1: <answer>

Passage:
{passage}"""

_EN_EXAMPLE_PASSAGE = (
    "The Thames Barrier is a movable flood barrier across the River Thames in east London. It was "
    "completed in 1982 and protects central London from storm surges coming up the river from the North "
    "Sea. Its ten steel gates lie flat on the riverbed and are rotated upright when a dangerously high tide "
    "is forecast."
)
_EN_EXAMPLE_PAIRS: tuple[Pair, ...] = (
    ("In which part of London is the Thames Barrier?", "east London"),
    ("When was the Thames Barrier completed?", "1982"),
    ("How many steel gates does the barrier have?", "ten"),
)
_EN_PLAIN_HEADER = (
    "Each passage below is followed by {n} questions that the passage answers; every answer is a short "
    "phrase copied from the passage."
)

_JA_INSTRUCTION = """次の本文を読んで、本文の内容についての質問と回答の組を{n}個作成してください。
条件:
- 質問は本文だけを読めば答えられるものにし、「？」で終える。
- 回答は本文中の短い語句をそのまま抜き出す（文ではなく語句）。
- 同じ質問を繰り返さない。
次の形式だけで書いてください:
質問1: <質問>
回答1: <回答>

本文:
{passage}"""

_JA_EXAMPLE_PASSAGE = (
    "琵琶湖は滋賀県にある日本最大の湖で、面積は約670平方キロメートルである。湖の水は瀬田川から流れ出し、"
    "宇治川、淀川と名前を変えて大阪湾に注ぐ。京都や大阪など近畿地方の約1450万人が、琵琶湖の水を飲み水などに利用している。"
)
_JA_EXAMPLE_PAIRS: tuple[Pair, ...] = (
    ("琵琶湖はどの県にありますか？", "滋賀県"),
    ("琵琶湖の面積はおよそ何平方キロメートルですか？", "約670平方キロメートル"),
    ("琵琶湖の水が流れ出す川は何ですか？", "瀬田川"),
)
_JA_PLAIN_HEADER = (
    "以下は、本文ごとに、本文を読めば答えられる質問と、本文から抜き出した短い回答を{n}組ずつ書いたものです。"
)


def _defaults() -> dict[str, PromptTemplate]:
    templates = {}
    for language, instruction, passage, pairs, header, label, style in (
        ("en", _EN_INSTRUCTION, _EN_EXAMPLE_PASSAGE, _EN_EXAMPLE_PAIRS, _EN_PLAIN_HEADER, "Passage:", RenderStyle.QA),
        ("ja", _JA_INSTRUCTION, _JA_EXAMPLE_PASSAGE, _JA_EXAMPLE_PAIRS, _JA_PLAIN_HEADER, "本文:", RenderStyle.JA),
    ):
        for shots in (0, 1):
            name = f"{language}-{'zero' if shots == 0 else 'one'}-shot"
            templates[name] = PromptTemplate(
                name=name,
                language=language,
                shots=shots,
                n_pairs=3,
                instruction=instruction,
                example_passage=passage if shots else "",
                example_pairs=pairs if shots else (),
                plain_header=header,
                passage_label=label,
                style=style,
            )
    return templates


DEFAULT_TEMPLATES: dict[str, PromptTemplate] = _defaults()


def default_template(language: str, shots: int) -> PromptTemplate:
    """The shipped template for a language ("en"/"ja"; others fall back to English) and shot count."""
    lang = "ja" if language.split("-")[0].lower() == "ja" else "en"
    return DEFAULT_TEMPLATES[f"{lang}-{'zero' if shots == 0 else 'one'}-shot"]
