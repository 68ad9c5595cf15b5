"""One batch of QA synthesis, from passages to judged candidate pairs, independent of Django.

The paper's method (arXiv 2310.08072) is the default path: one prompt per passage asking for N pairs,
zero- or one-shot, one greedy completion, parse, validate. The options add what makes small models
useful, each a deviation from the paper that a run records and the yield bench measures:

- exemplar rotation: the one-shot example is chosen per passage (see generation.exemplars); the caller
  passes the chosen exemplar with each passage;
- answer-aware generation: answers are picked from the passage first (generation.answer_extraction),
  and the model writes one question per answer;
- k samples: k completions per prompt (temperature/top-p sampling) or, answer-aware, k x N answers;
  candidates are de-duplicated and the best N accepted pairs kept (the rest are marked "surplus");
- copy guard: the content words of the example's pairs that the passage lacks are made unlikely while a
  local model writes (generation.copy_guard);
- round-trip filter: the model answers each accepted question from the passage; pairs whose answer
  it does not reproduce are rejected (generation.round_trip).

Both the generation-run service and bench/synthesis_yield.py call `synthesize`, so the bench measures
exactly what runs do.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from generation import answer_extraction, copy_guard
from generation import round_trip as rt
from generation.engine.base import GenerationOutput, SamplingParams
from generation.exemplars import Exemplar
from generation.parsing import ParseFormat, parse_line, parse_qa_pairs
from generation.prompts import PromptTemplate, RenderedPrompt, render_answer_prompt, render_qa_prompt, with_exemplar
from generation.validation import RejectionReason, ValidationConfig, duplicate_key, validate_pairs

Generate = Callable[[list[RenderedPrompt], SamplingParams], list[GenerationOutput]]


@dataclass(frozen=True)
class SynthesisOptions:
    """Run options beyond the paper's method (all off = the paper's method)."""

    answer_aware: bool = False
    samples: int = 1
    rotate_exemplars: bool = False
    round_trip: bool = False
    round_trip_threshold: float = rt.DEFAULT_THRESHOLD
    copy_guard: bool = False

    def errors(self, *, temperature: float = 0.0, shots: int = 1) -> list[str]:
        problems = []
        if not 1 <= self.samples <= 16:
            problems.append("samples per passage must be between 1 and 16")
        if self.samples > 1 and not self.answer_aware and temperature == 0:
            problems.append("k > 1 samples of the same prompt need sampling: set a temperature above 0")
        if not 0 < self.round_trip_threshold <= 1:
            problems.append("the round-trip threshold must be in (0, 1]")
        if self.rotate_exemplars and shots == 0:
            problems.append("exemplar rotation needs a one-shot template")
        if self.copy_guard and shots == 0:
            problems.append("the copy guard needs a one-shot template (zero-shot prompts show no example to copy)")
        return problems

    @property
    def is_paper(self) -> bool:
        return self == SynthesisOptions(round_trip_threshold=self.round_trip_threshold)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SynthesisOptions:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in (data or {}).items() if k in known})

    def describe(self) -> str:
        parts = []
        if self.rotate_exemplars:
            parts.append("exemplar rotation")
        if self.answer_aware:
            parts.append("answer-aware")
        if self.samples > 1:
            parts.append(f"k={self.samples} samples")
        if self.round_trip:
            parts.append(f"round trip >= {self.round_trip_threshold:g}")
        if self.copy_guard:
            parts.append("copy guard")
        return ", ".join(parts) or "paper's method"


@dataclass(frozen=True)
class PassageInput:
    key: int  # the passage id (seeds, exemplar draw)
    text: str
    title: str = ""
    exemplar: Exemplar | None = None  # the one-shot example to show (None: the template's own)


class Renderer:
    """Renders the three prompt kinds for one backend. `pairs` may be the backend's own renderer (the
    paper's N-pairs prompt); answer-aware and QA prompts use the tokenizer/mode given here."""

    def __init__(
        self,
        pairs: Callable[[PromptTemplate, PassageInput], RenderedPrompt],
        *,
        tokenizer: Any = None,
        mode: str = "auto",
    ) -> None:
        self._pairs = pairs
        self.tokenizer = tokenizer
        self.mode = mode

    def pairs(self, template: PromptTemplate, passage: PassageInput) -> RenderedPrompt:
        return self._pairs(template, passage)

    def answer(self, template: PromptTemplate, passage: PassageInput, answer: str) -> RenderedPrompt:
        return render_answer_prompt(template, passage.text, answer, tokenizer=self.tokenizer, mode=self.mode)  # type: ignore[arg-type]

    def qa(self, template: PromptTemplate, passage: PassageInput, question: str) -> RenderedPrompt:
        return render_qa_prompt(template, passage.text, question, tokenizer=self.tokenizer, mode=self.mode)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Reader:
    """A round-trip reader other than the generator (a run's chosen model, e.g. a training run's adapter).

    `score` is its extractive scoring; `renderer` renders the run template's QA prompt for its tokenizer;
    `trained` is the prompt an adapter trained here learnt, used instead of the template's when set."""

    name: str
    score: rt.Score
    renderer: Renderer
    trained: rt.ReaderPrompt | None = None

    def qa(self, template: PromptTemplate, passage: PassageInput, question: str) -> RenderedPrompt:
        if self.trained is not None:
            return self.trained.render(passage.text, question)
        return self.renderer.qa(template, passage, question)


@dataclass
class Sample:
    prompt: RenderedPrompt
    answer: str = ""  # answer-aware: the answer the question was asked for
    output: GenerationOutput | None = None

    def to_dict(self, *, with_prompt: bool) -> dict[str, Any]:
        out = self.output
        data: dict[str, Any] = {
            "text": out.text if out else "",
            "finish_reason": out.finish_reason if out else "",
            "prompt_tokens": out.prompt_tokens if out else None,
            "completion_tokens": out.completion_tokens if out else None,
        }
        if self.answer:
            data["answer"] = self.answer
        if with_prompt:
            data["prompt"] = self.prompt.text
        return data


@dataclass
class CandidatePair:
    question: str
    answer: str
    sample: int
    reasons: list[RejectionReason] = field(default_factory=list)
    round_trip: rt.RoundTripVerdict | None = None

    @property
    def accepted(self) -> bool:
        return not self.reasons


@dataclass
class PassageResult:
    passage: PassageInput
    template: PromptTemplate  # with the exemplar actually shown
    samples: list[Sample]
    pairs: list[CandidatePair] = field(default_factory=list)
    parse_format: str = ""
    parse_note: str = ""

    @property
    def exemplar(self) -> Exemplar | None:
        if self.template.shots == 0:
            return None
        return self.passage.exemplar or Exemplar(self.template.example_passage, self.template.example_pairs)

    @property
    def copies_exemplar(self) -> bool:
        return any(RejectionReason.EXEMPLAR_COPY in p.reasons for p in self.pairs)

    @property
    def accepted(self) -> list[CandidatePair]:
        return [p for p in self.pairs if p.accepted]


def _template_for(template: PromptTemplate, passage: PassageInput) -> PromptTemplate:
    ex = passage.exemplar
    return with_exemplar(template, ex.passage, ex.pairs) if ex is not None else template


def plan(
    inputs: Sequence[PassageInput], template: PromptTemplate, options: SynthesisOptions, renderer: Renderer
) -> list[PassageResult]:
    """The prompts of every passage (k copies of one prompt, or one prompt per picked answer)."""
    results = []
    for passage in inputs:
        tmpl = _template_for(template, passage)
        if options.answer_aware:
            answers = answer_extraction.pick_answers(
                passage.text, tmpl.language, tmpl.pairs_per_passage * options.samples
            )
            samples = [Sample(renderer.answer(tmpl, passage, a), answer=a) for a in answers]
        else:
            prompt = renderer.pairs(tmpl, passage)
            samples = [Sample(prompt) for _ in range(options.samples)]
        result = PassageResult(passage, tmpl, samples)
        if options.copy_guard and result.exemplar is not None:
            for sample in samples:
                guard = copy_guard.guard_for(result.exemplar, passage.text, sample.answer, tmpl.language)
                sample.prompt = replace(sample.prompt, guard=guard)
        results.append(result)
    return results


def generate_samples(results: list[PassageResult], generate: Generate, params: SamplingParams) -> None:
    """One generate call for every sample of the batch (the backend batches them)."""
    flat = [s for r in results for s in r.samples]
    if not flat:
        return
    params = replace(params, stop=flat[0].prompt.stop)
    outputs = generate([s.prompt for s in flat], params)
    for sample, output in zip(flat, outputs, strict=True):
        sample.output = output


def judge(results: list[PassageResult], config: ValidationConfig, options: SynthesisOptions) -> None:
    """Parse every sample, validate a passage's candidates together (duplicates across samples count)."""
    for result in results:
        raw_pairs: list[tuple[str, str, int]] = []
        formats, notes = [], []
        for i, sample in enumerate(result.samples):
            text = sample.output.text if sample.output else ""
            if options.answer_aware:
                raw_pairs.append((parse_line(text), sample.answer, i))
                formats.append("question_line")
            else:
                parsed = parse_qa_pairs(text, prefix=sample.prompt.response_prefix)
                raw_pairs.extend((q, a, i) for q, a in parsed.pairs)
                formats.append(str(parsed.format))
                if parsed.note:
                    notes.append(parsed.note)
        if not result.samples:
            notes.append("no candidate answers found in the passage")
        ex = result.exemplar
        verdicts = validate_pairs(
            [(q, a) for q, a, _ in raw_pairs],
            result.passage.text,
            config,
            title=result.passage.title,
            exemplar=(ex.passage, ex.pairs) if ex else None,
        )
        result.pairs = [
            CandidatePair(v.question, v.answer, i, list(v.reasons))
            for v, (_, _, i) in zip(verdicts, raw_pairs, strict=True)
        ]
        if config.reject_ambiguous:
            mark_ambiguous(result.pairs, character_level=config.character_level)
        distinct = sorted(set(formats), key=formats.index)
        ok = [f for f in distinct if f != str(ParseFormat.NONE)]
        result.parse_format = (ok[0] if len(ok) == 1 else "mixed" if ok else str(ParseFormat.NONE))[:16]
        result.parse_note = "; ".join(sorted(set(notes), key=notes.index))[:300]


def mark_ambiguous(pairs: list[CandidatePair], *, character_level: bool) -> None:
    """Reject every pair whose question the model also wrote for a different answer of the same passage.

    Answer-aware generation asks for one question per answer; a small model often writes one generic
    question ("東京スカイツリーとは何でしょうか？") for several answers (634メートル, 武蔵, 2012年). Such a question
    determines none of them, so the first is no better than the duplicates already rejected after it.
    Answers that match each other (EM or F1 >= 0.5: "634メートル" and "634") are one answer, not two."""
    groups: dict[str, list[CandidatePair]] = {}
    for pair in pairs:
        key = duplicate_key(pair.question)
        if key and pair.answer.strip():
            groups.setdefault(key, []).append(pair)
    for group in groups.values():
        answers = [p.answer for p in group]
        differ = any(
            rt.match_score(a, b, character_level=character_level) < rt.DEFAULT_THRESHOLD
            for i, a in enumerate(answers)
            for b in answers[i + 1 :]
        )
        if differ:
            for pair in group:
                if RejectionReason.AMBIGUOUS not in pair.reasons:
                    pair.reasons.append(RejectionReason.AMBIGUOUS)


def check_round_trip(
    results: list[PassageResult],
    renderer: Renderer,
    generate: Generate,
    config: ValidationConfig,
    *,
    threshold: float,
    enforce: bool,
    score: rt.Score | None = None,
    reader: Reader | None = None,
) -> None:
    """Ask the model every accepted question; store its answer and score on the pair, and with `enforce`
    reject the pairs it does not support. With `score` (local models) the model answers extractively: it
    picks the passage span it rates highest (rt.check_extractive); without, it writes an answer. A `reader`
    answers instead of the generator, extractively."""
    if reader is not None:  # its scoring, and its tokenizer for the prompts and the end of an answer
        score, renderer = reader.score, reader.renderer
    ask = reader.qa if reader is not None else renderer.qa
    items, targets = [], []
    for result in results:
        spans = round_trip_spans(result) if score is not None else []
        for pair in result.accepted:
            prompt = ask(result.template, result.passage, pair.question)
            items.append(rt.ExtractiveItem(prompt, pair.answer, spans) if score is not None else (prompt, pair.answer))
            targets.append(pair)
    if score is not None:
        eos = getattr(renderer.tokenizer, "eos_token", None) or "\n"
        verdicts = rt.check_extractive(
            items,
            score,
            character_level=config.character_level,
            threshold=threshold,
            end=eos,
            reader=reader.trained if reader is not None else None,
        )
    else:
        verdicts = rt.check(items, generate, character_level=config.character_level, threshold=threshold)
    for pair, verdict in zip(targets, verdicts, strict=True):
        pair.round_trip = verdict
        if enforce and not verdict.supported:
            pair.reasons.append(RejectionReason.ROUND_TRIP)


ROUND_TRIP_SPANS = 30  # candidate spans per passage the extractive reader chooses among (cost: one short row each)


def round_trip_spans(result: PassageResult) -> list[str]:
    """The spans the extractive round-trip reader chooses among: the passage's best-scored candidate answers
    (names, numbers, noun phrases) plus the accepted answers generated for it (spans of the passage, by
    validation), so a generated answer competes with the passage's other answers and with its siblings."""
    return passage_spans(result.passage.text, result.template.language, [p.answer for p in result.accepted])


def passage_spans(text: str, language: str, answers: Sequence[str]) -> list[str]:
    """round_trip_spans for a passage given as text and the accepted answers generated for it."""
    found = answer_extraction.candidates(text, language)
    best = sorted(found, key=lambda c: -c.score)[:ROUND_TRIP_SPANS]
    return [c.text for c in sorted(best, key=lambda c: c.start)] + list(answers)


def keep_best(results: list[PassageResult], n: int) -> None:
    """At most n accepted pairs per passage: the best round-trip score first, then the earliest."""
    for result in results:
        accepted = result.accepted
        if len(accepted) <= n:
            continue
        ranked = sorted(
            range(len(accepted)), key=lambda i: (-(accepted[i].round_trip.score if accepted[i].round_trip else 0), i)
        )
        for i in ranked[n:]:
            accepted[i].reasons.append(RejectionReason.SURPLUS)


def synthesize(
    inputs: Sequence[PassageInput],
    template: PromptTemplate,
    options: SynthesisOptions,
    config: ValidationConfig,
    renderer: Renderer,
    generate: Generate,
    params: SamplingParams,
    score: rt.Score | None = None,
    reader: Reader | None = None,
) -> list[PassageResult]:
    """Prompts -> samples -> judged pairs for one batch of passages. `score` (local models) makes the
    round trip extractive (see check_round_trip); `reader` answers the round trip instead of the generator."""
    results = plan(inputs, template, options, renderer)
    generate_samples(results, generate, params)
    judge(results, config, options)
    if options.round_trip:
        check_round_trip(
            results,
            renderer,
            generate,
            config,
            threshold=options.round_trip_threshold,
            enforce=True,
            score=score,
            reader=reader,
        )
    if options.samples > 1:
        keep_best(results, template.pairs_per_passage)
    return results
