"""Prompt templates for QA-pair generation: placeholders, the shipped en/ja zero-/one-shot defaults, and
rendering for chat models (the tokenizer's own chat template) and base models (a plain completion prompt).

A base model does not follow instructions; it continues patterns. Its prompt therefore shows an example
passage followed by "質問1:/回答1:" lines and ends with the label of the first question, so the model
writes pairs in the same form; that label comes back as `response_prefix`, which the parser needs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from generation.engine.base import CopyGuard
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
    pairs_per_passage: int
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
        if self.pairs_per_passage < 1:
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
        legacy = values.pop("n_pairs", None)  # snapshots stored before N had one name
        if legacy is not None:
            values.setdefault("pairs_per_passage", legacy)
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
    guard: CopyGuard | None = None  # the copy guard (generation.copy_guard), for local models


def fill(text: str, *, passage: str, pairs_per_passage: int, title: str = "") -> str:
    """Replace the known placeholders in one pass (so braces inside the passage or in JSON examples are
    left alone and a passage containing "{n}" is not substituted again). `{n}` stays the placeholder's
    name: it is what stored templates are written with."""
    values = {"passage": passage, "n": str(pairs_per_passage), "title": title}
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
                "content": fill(
                    template.instruction, passage=template.example_passage, pairs_per_passage=template.pairs_per_passage
                ),
            }
        )
        messages.append({"role": "assistant", "content": render_pairs(template.example_pairs, template.style)})
    messages.append(
        {
            "role": "user",
            "content": fill(
                template.instruction, passage=passage, pairs_per_passage=template.pairs_per_passage, title=title
            ),
        }
    )
    return messages


def render_plain(template: PromptTemplate, passage: str, title: str = "") -> RenderedPrompt:
    """A completion prompt for base models: header, optional example, the passage, the first label."""
    parts = []
    if template.plain_header:
        parts.append(
            fill(template.plain_header, passage="", pairs_per_passage=template.pairs_per_passage, title=title).strip()
        )
    if template.shots == 1:
        example = render_pairs(template.example_pairs, template.style)
        parts.append(f"{template.passage_label} {template.example_passage.strip()}\n{example}")
    prefix = _first_label(template.style)
    parts.append(f"{template.passage_label} {passage.strip()}\n{prefix}")
    stop = tuple(
        s
        for s in (f"\n{template.passage_label}", "\n\n\n", _next_label(template.style, template.pairs_per_passage))
        if s
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
    stop = (_next_label(template.style, template.pairs_per_passage),) if template.style is not RenderStyle.JSON else ()
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
                pairs_per_passage=3,
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


# ------------------------------------------------------------- answer-aware and round-trip prompts
# Deviations from the paper's method (each a run option): the answer is chosen first and the model only
# writes its question; a QA prompt lets the same model answer a generated question (round-trip filter).


@dataclass(frozen=True)
class _TaskText:
    aa_header: str  # plain completion header for answer-aware generation
    aa_instruction: str  # chat message: {passage}, {answer}
    qa_header: str  # plain completion header for the round-trip QA prompt
    qa_instruction: str  # chat message: {passage}, {question}
    passage_label: str
    answer_label: str
    question_label: str


_TASK_TEXT = {
    "en": _TaskText(
        aa_header="Each passage below is followed by short answers copied from it, each with the question it answers.",
        aa_instruction=(
            'Write one question about the passage whose answer is exactly "{answer}". '
            "Reply with the question only.\n\nPassage:\n{passage}"
        ),
        qa_header="Each passage below is followed by questions, each answered with a short phrase copied from it.",
        qa_instruction=(
            "Answer the question with a short phrase copied from the passage. Reply with the answer only.\n\n"
            "Passage:\n{passage}\n\nQuestion: {question}"
        ),
        passage_label="Passage:",
        answer_label="Answer:",
        question_label="Question:",
    ),
    "ja": _TaskText(
        aa_header="以下は、本文と、本文から抜き出した答えと、その答えを問う質問です。",
        aa_instruction=(
            "次の本文について、答えが「{answer}」になる質問を1つだけ書いてください。質問だけを書いてください。"
            "\n\n本文:\n{passage}"
        ),
        qa_header="以下は、本文と、本文についての質問と、本文から抜き出した短い答えです。",
        qa_instruction=(
            "次の質問に、本文から抜き出した短い語句で答えてください。答えだけを書いてください。"
            "\n\n本文:\n{passage}\n\n質問: {question}"
        ),
        passage_label="本文:",
        answer_label="答え:",
        question_label="質問:",
    ),
}


def task_text(language: str) -> _TaskText:
    return _TASK_TEXT["ja" if language.split("-")[0].lower() == "ja" else "en"]


def with_exemplar(template: PromptTemplate, passage: str, pairs: tuple[Pair, ...]) -> PromptTemplate:
    """The template with another one-shot example (exemplar rotation); zero-shot templates stay zero-shot."""
    if template.shots == 0 or not passage or not pairs:
        return template
    return replace(template, example_passage=passage, example_pairs=tuple(pairs))


def _render_task(
    header: str,
    instruction: str,
    example_blocks: list[tuple[str, list[tuple[str, str]]]],
    target: tuple[str, list[tuple[str, str]]],
    final: tuple[str, str],
    *,
    labels: _TaskText,
    tokenizer: Any,
    mode: PromptMode,
    instruction_values: dict[str, str],
    example_values: dict[str, str] | None,
    example_reply: str,
) -> RenderedPrompt:
    """A one-line completion task ("…\\n質問:" -> one line), as plain text or chat messages."""
    if mode == "auto":
        mode = "chat" if has_chat_template(tokenizer) else "plain"
    if mode == "plain":
        parts = [header]
        for passage, lines in example_blocks:
            parts.append("\n".join([f"{labels.passage_label} {passage.strip()}", *(f"{k} {v}" for k, v in lines)]))
        passage, lines = target
        body = [f"{labels.passage_label} {passage.strip()}", *(f"{k} {v}" for k, v in lines), final[0]]
        parts.append("\n".join(body))
        return RenderedPrompt("\n\n".join(parts), "plain", (), final[0], ("\n",))
    messages: list[dict[str, str]] = []
    if example_values is not None:
        messages.append({"role": "user", "content": fill_values(instruction, example_values)})
        messages.append({"role": "assistant", "content": example_reply})
    messages.append({"role": "user", "content": fill_values(instruction, instruction_values)})
    if tokenizer is not None:
        if not has_chat_template(tokenizer):
            raise ValueError("this tokenizer has no chat template; render the prompt with mode='plain'")
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    else:
        text = json.dumps(messages, ensure_ascii=False)
    return RenderedPrompt(text, "chat", tuple(messages), "", ("\n",))


_VALUE_RE = re.compile(r"\{(passage|answer|question)\}")


def fill_values(text: str, values: dict[str, str]) -> str:
    return _VALUE_RE.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def render_answer_prompt(
    template: PromptTemplate,
    passage: str,
    answer: str,
    *,
    tokenizer: Any = None,
    mode: PromptMode = "auto",
) -> RenderedPrompt:
    """Answer-aware generation: the model writes the question for a given answer (one line). The template's
    example (or a rotated exemplar) shows answer -> question lines; zero-shot templates show none."""
    labels = task_text(template.language)
    pairs = list(template.example_pairs) if template.shots else []
    blocks = [(template.example_passage, _aa_lines(pairs, labels))] if pairs else []
    target = (passage, [(labels.answer_label, answer)])
    first = pairs[0] if pairs else None
    return _render_task(
        labels.aa_header,
        labels.aa_instruction,
        blocks,
        target,
        (labels.question_label, ""),
        labels=labels,
        tokenizer=tokenizer,
        mode=mode,
        instruction_values={"passage": passage, "answer": answer},
        example_values={"passage": template.example_passage, "answer": first[1]} if first else None,
        example_reply=first[0] if first else "",
    )


def _aa_lines(pairs: list[Pair], labels: _TaskText) -> list[tuple[str, str]]:
    lines = []
    for q, a in pairs:
        lines += [(labels.answer_label, a), (labels.question_label, q)]
    return lines


def render_qa_prompt(
    template: PromptTemplate,
    passage: str,
    question: str,
    *,
    tokenizer: Any = None,
    mode: PromptMode = "auto",
) -> RenderedPrompt:
    """The round-trip check's QA prompt: the model answers a question from the passage in one short line,
    shown the template's example pairs (question -> answer) first when the template has them."""
    labels = task_text(template.language)
    pairs = list(template.example_pairs) if template.shots else []
    if not pairs:  # a zero-shot template still gets the QA format shown once: base models need it
        default = default_template(template.language, 1)
        example_passage, pairs = default.example_passage, list(default.example_pairs)
    else:
        example_passage = template.example_passage
    lines = []
    for q, a in pairs:
        lines += [(labels.question_label, q), (labels.answer_label, a)]
    return _render_task(
        labels.qa_header,
        labels.qa_instruction,
        [(example_passage, lines)],
        (passage, [(labels.question_label, question)]),
        (labels.answer_label, ""),
        labels=labels,
        tokenizer=tokenizer,
        mode=mode,
        instruction_values={"passage": passage, "question": question},
        example_values={"passage": example_passage, "question": pairs[0][0]},
        example_reply=pairs[0][1],
    )
