"""Round-trip consistency filter (after Alberti et al. 2019, "Synthetic QA Corpora Generation with
Roundtrip Consistency"): a QA model answers each generated question from the passage, and the pair is
kept only if that answer matches the generated one.

Two ways to let the model answer:
- extractive (`check_extractive`, used with local models): like Alberti's BERT reader, the answer is the
  passage span the model rates highest. The spans are the passage's candidate answers
  (generation.answer_extraction) plus the answers generated for it; each is scored by the mean
  log-probability per token the model gives " <span>\n" after the QA prompt, and the best one is the
  model's answer. Measured with Gemma 3 270M on JSQuAD's own (human) pairs, free generation recovered
  about a third of the gold answers (it rambled or named things not in the passage, "岡山県" for a passage
  about Gutenberg), so most generated pairs failed for the reader's weakness, not theirs; the extractive
  reader cannot answer outside the passage and does not ramble.
- generative (`check`, endpoints and models without scoring): the model writes its answer in one line.

A span check only shows that the answer occurs in the passage; it accepted "What is the capital of
France?" -> "Paris" for the passage "Paris is in France.". Asking a model the question from the passage
tests whether the passage supports the answer *to this question*. Match = exact match or token F1 >=
threshold, SQuAD-normalised, on characters for Japanese (no spaces). This module imports no Django.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generation.engine.base import GenerationOutput, SamplingParams
from generation.parsing import parse_line
from generation.prompts import RenderedPrompt
from generation.validation import normalise, tokens

DEFAULT_THRESHOLD = 0.5
ANSWER_TOKENS = 32  # the QA prompt asks for a short phrase on one line


@dataclass(frozen=True)
class RoundTripVerdict:
    model_answer: str
    score: float  # max(EM, token F1) between the model's answer and the generated answer
    supported: bool


_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")


def match_score(predicted: str, answer: str, *, character_level: bool) -> float:
    """1.0 for an exact (normalised) match, else SQuAD token F1 (characters for ja/zh); 0 when the two name
    different numbers (neither's numbers all occur in the other): character F1 gives "629年" for "630年"
    0.5, and token F1 "in 1890" for "in 1889" 0.5, yet a number is right or wrong as a whole."""
    if normalise(predicted) == normalise(answer) and normalise(answer):
        return 1.0
    pred_numbers = set(_NUMBER_RE.findall(normalise(predicted)))
    gold_numbers = set(_NUMBER_RE.findall(normalise(answer)))
    if (pred_numbers or gold_numbers) and not (pred_numbers <= gold_numbers or gold_numbers <= pred_numbers):
        return 0.0
    pred = tokens(predicted, character_level=character_level)
    gold = tokens(answer, character_level=character_level)
    if not pred or not gold:
        return 0.0
    common = sum((Counter(pred) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def verdict(model_output: str, answer: str, *, character_level: bool, threshold: float) -> RoundTripVerdict:
    predicted = parse_line(model_output)
    score = match_score(predicted, answer, character_level=character_level)
    return RoundTripVerdict(predicted, round(score, 4), score >= threshold)


Generate = Callable[[list[RenderedPrompt], SamplingParams], list[GenerationOutput]]
# [(prompt text, continuations)] -> one score per continuation, higher = more likely (mean token log-prob)
Score = Callable[[list[tuple[str, list[str]]]], list[list[float]]]


def check(
    items: Sequence[tuple[RenderedPrompt, str]],
    generate: Generate,
    *,
    character_level: bool,
    threshold: float = DEFAULT_THRESHOLD,
    max_new_tokens: int = ANSWER_TOKENS,
) -> list[RoundTripVerdict]:
    """One verdict per (QA prompt, generated answer), greedy decoding, in order (one generate call, batched)."""
    if not items:
        return []
    if not 0 < threshold <= 1:
        raise ValueError("the round-trip threshold must be in (0, 1]")
    stop = items[0][0].stop or ("\n",)
    outputs = generate([p for p, _ in items], SamplingParams(max_new_tokens=max_new_tokens, stop=stop))
    return [
        verdict(out.text, answer, character_level=character_level, threshold=threshold)
        for out, (_, answer) in zip(outputs, items, strict=True)
    ]


@dataclass(frozen=True)
class ExtractiveItem:
    prompt: RenderedPrompt  # the QA prompt, ending where the answer starts
    answer: str  # the generated answer to check
    spans: Sequence[str]  # the passage spans the model chooses among (the answer is added if missing)


@dataclass(frozen=True)
class ReaderPrompt:
    """How a reader trained by this project (a training run's LoRA adapter) was taught to answer: its own
    QA prompt (a format string with {context} and {question}), then `answer_prefix`, the answer and `end`
    (the tokenizer's EOS). The round trip must ask it in that form: in the generator's QA prompt a trained
    adapter is a stranger again."""

    prompt: str
    answer_prefix: str
    end: str

    def __post_init__(self) -> None:
        missing = [name for name in ("{context}", "{question}") if name not in self.prompt]
        if missing:
            raise ValueError(f"the reader's QA prompt lacks {' and '.join(missing)}")
        try:
            self.prompt.format(context="", question="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"the reader's QA prompt is not a format string with only {{context}} and {{question}}: {exc!r}"
            ) from None

    def render(self, context: str, question: str) -> RenderedPrompt:
        return RenderedPrompt(text=self.prompt.format(context=context, question=question), mode="plain")

    def continuation(self, span: str) -> str:
        return f"{self.answer_prefix}{span}{self.end}"


def continuation(span: str, prompt: RenderedPrompt, end: str = "\n") -> str:
    """How an answer follows the QA prompt: plain prompts end in "答え:" / "Answer:" (a space, the span, the
    line break that ends it); chat prompts end at the assistant turn (the span, then `end`, the turn's end)."""
    return f" {span}\n" if prompt.mode == "plain" else f"{span}{end}"


def check_extractive(
    items: Sequence[ExtractiveItem],
    score: Score,
    *,
    character_level: bool,
    threshold: float = DEFAULT_THRESHOLD,
    end: str = "\n",
    reader: ReaderPrompt | None = None,
) -> list[RoundTripVerdict]:
    """One verdict per item: the model's answer is the span it scores highest (ties: the earlier span);
    supported when that span matches the generated answer (EM, or token/character F1 >= threshold). With
    `reader` (items rendered by its `render`) a span follows the prompt as that reader was trained to answer."""
    if not 0 < threshold <= 1:
        raise ValueError("the round-trip threshold must be in (0, 1]")

    def follow(span: str, prompt: RenderedPrompt) -> str:
        return reader.continuation(span) if reader is not None else continuation(span, prompt, end)

    span_lists = [_distinct_spans([*item.spans, item.answer]) for item in items]
    scores = score([(item.prompt.text, [follow(s, item.prompt) for s in spans])
                    for item, spans in zip(items, span_lists, strict=True)])  # fmt: skip
    verdicts = []
    for item, spans, values in zip(items, span_lists, scores, strict=True):
        best = max(range(len(spans)), key=lambda i: (values[i], -i))
        value = match_score(spans[best], item.answer, character_level=character_level)
        verdicts.append(RoundTripVerdict(spans[best], round(value, 4), value >= threshold))
    return verdicts


def _distinct_spans(spans: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for span in spans:
        span = span.strip()
        key = normalise(span)
        if span and key not in seen:
            seen.add(key)
            out.append(span)
    return out
