"""Prompt templates (context + question -> answer, per language) and tokenisation with answer-only labels.

Training and prediction tokenise the prompt the same way (`encode_prompt`), so the model sees at inference
exactly the token sequence it was trained to continue. The answer is tokenised separately and followed by
EOS; only the answer and EOS carry labels, everything else is -100 (ignored by the loss).
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

IGNORE_INDEX = -100


class FormattingError(ValueError):
    """An item cannot be turned into a training or prompt sequence (the message names the item)."""


@dataclass(frozen=True)
class PromptTemplate:
    """A prompt with `{context}` and `{question}` placeholders; the answer follows `answer_prefix`.

    `answer_prefix` is " " for languages written with spaces (so " Paris" is one natural BPE token after
    "Answer:") and "" for Japanese. Stored on the training run so evaluation reuses the exact same format.
    """

    language: str
    prompt: str
    answer_prefix: str = " "

    def __post_init__(self) -> None:
        fields = set()
        try:
            for _, name, _, _ in string.Formatter().parse(self.prompt):
                if name is not None:
                    fields.add(name)
        except ValueError as exc:
            raise FormattingError(f"prompt template is not a valid format string: {exc}") from exc
        if fields != {"context", "question"}:
            raise FormattingError(
                "prompt template must use exactly the placeholders {context} and {question}; "
                f"found {', '.join('{' + f + '}' for f in sorted(fields)) or 'none'}"
            )

    def render(self, context: str, question: str) -> str:
        return self.prompt.format(context=context, question=question)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PromptTemplate:
        return cls(**data)


DEFAULT_TEMPLATES: dict[str, PromptTemplate] = {
    "en": PromptTemplate(
        language="en",
        prompt=("Answer the question using the context.\n\nContext: {context}\n\nQuestion: {question}\n\nAnswer:"),
        answer_prefix=" ",
    ),
    "ja": PromptTemplate(
        language="ja",
        prompt="文脈を読んで質問に答えてください。\n\n文脈: {context}\n\n質問: {question}\n\n回答:",
        answer_prefix="",
    ),
}


def default_template(language: str) -> PromptTemplate:
    """The built-in template for `language` ("en", "ja"); other languages get the English wording."""
    code = (language or "en").lower().split("-")[0]
    base = DEFAULT_TEMPLATES.get(code)
    if base is None:
        base = DEFAULT_TEMPLATES["en"]
        return PromptTemplate(language=code, prompt=base.prompt, answer_prefix=base.answer_prefix)
    return base


@dataclass(frozen=True)
class QAExample:
    context: str
    question: str
    answer: str


@dataclass(frozen=True)
class EncodedExample:
    input_ids: list[int]
    labels: list[int]
    context_truncated: bool

    @property
    def answer_token_count(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def _ids(tokenizer: PreTrainedTokenizerBase, text: str, *, special: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=special)["input_ids"])


def encode_prompt(
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate,
    context: str,
    question: str,
    max_tokens: int,
    *,
    item: str = "item",
) -> tuple[list[int], bool]:
    """Prompt token ids (with the tokenizer's own BOS if it adds one), at most `max_tokens` long.

    When too long, the END of the context is cut (the question and the instructions are kept): the context
    is cut in tokens, decoded and re-rendered until it fits. Returns (ids, whether the context was cut).
    """
    ids = _ids(tokenizer, template.render(context, question), special=True)
    if len(ids) <= max_tokens:
        return ids, False
    context_ids = _ids(tokenizer, context, special=False)
    keep = len(context_ids) - (len(ids) - max_tokens)
    while keep > 0:
        cut = str(tokenizer.decode(context_ids[:keep], skip_special_tokens=True)).rstrip("\ufffd")
        ids = _ids(tokenizer, template.render(cut, question), special=True)
        if len(ids) <= max_tokens:
            return ids, True
        keep -= max(1, len(ids) - max_tokens)
    ids = _ids(tokenizer, template.render("", question), special=True)
    raise FormattingError(
        f"{item}: the prompt needs {len(ids)} tokens even with an empty context, more than the {max_tokens} "
        "allowed; raise max_seq_length or shorten the question"
    )


def answer_ids(tokenizer: PreTrainedTokenizerBase, template: PromptTemplate, answer: str) -> list[int]:
    """Answer tokens followed by EOS (the model learns to stop after the answer)."""
    if tokenizer.eos_token_id is None:
        raise FormattingError("the tokenizer has no EOS token; cannot mark the end of answers")
    return _ids(tokenizer, template.answer_prefix + answer.strip(), special=False) + [tokenizer.eos_token_id]


def encode_example(
    tokenizer: PreTrainedTokenizerBase,
    template: PromptTemplate,
    example: QAExample,
    max_seq_length: int,
    *,
    item: str = "item",
) -> EncodedExample:
    """input_ids = prompt + answer + EOS; labels = -100 over the prompt, the token ids over answer + EOS."""
    if not example.answer.strip():
        raise FormattingError(f"{item}: the answer is empty")
    target = answer_ids(tokenizer, template, example.answer)
    budget = max_seq_length - len(target)
    if budget < 1:
        raise FormattingError(
            f"{item}: the answer is {len(target)} tokens, which leaves no room for the prompt within "
            f"max_seq_length={max_seq_length}"
        )
    prompt, truncated = encode_prompt(tokenizer, template, example.context, example.question, budget, item=item)
    return EncodedExample(
        input_ids=prompt + target,
        labels=[IGNORE_INDEX] * len(prompt) + target,
        context_truncated=truncated,
    )


def encode_examples(
    tokenizer: PreTrainedTokenizerBase, template: PromptTemplate, examples: Sequence[QAExample], max_seq_length: int
) -> list[EncodedExample]:
    return [
        encode_example(tokenizer, template, ex, max_seq_length, item=f"training item {i + 1}")
        for i, ex in enumerate(examples)
    ]


def left_pad(
    sequences: Sequence[Sequence[int]], pad_id: int, *, fill: int | None = None
) -> tuple[list[list[int]], list[list[int]]]:
    """Left-pad to the longest sequence; returns (padded, attention_mask). `fill` overrides the pad value.

    Left padding aligns every sequence's END, so answers (training) and generated tokens (prediction) sit in
    the same final positions across the batch.
    """
    width = max(len(s) for s in sequences)
    value = pad_id if fill is None else fill
    padded = [[value] * (width - len(s)) + list(s) for s in sequences]
    mask = [[0] * (width - len(s)) + [1] * len(s) for s in sequences]
    return padded, mask
