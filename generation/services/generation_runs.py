"""Generation runs: create one (frozen selection, frozen template), execute it batch by batch, resumably.

Resuming is a property of the rows: a passage is done when the run has a RawOutput for it (unique per
(run, passage)), and each batch's outputs and parsed pairs are written in one short transaction. A run
that was cancelled, crashed or lost its worker therefore continues from the first passage without
output, and a batch that two workers raced on is stored once (the loser's insert conflicts and is
dropped). Model loading, prompt rendering and generation come from the pure `generation.engine` and
`generation.prompts` modules; this module adapts them to rows and to the job's progress/cancel hooks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any, Protocol

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef

from core.model_fields import record_dtype_used
from core.models import ModelEntry, ModelKind
from core.permissions import recorded_user
from core.services import model_registry
from core.services.jobs import JobError, create_job
from core.services.text import storable_text
from decoding.lazy import precision_used
from generation import round_trip as rt
from generation.engine.base import GenerationOutput, SamplingParams
from generation.engine.openai_client import EndpointError
from generation.exemplars import Exemplar, ExemplarPool, build_pool
from generation.models import (
    MANUAL_REASON,
    Corpus,
    GenerationRun,
    PairStatus,
    Passage,
    PromptTemplate,
    RawOutput,
    ReferenceQA,
    Split,
    SyntheticPair,
    SyntheticPairRevision,
    reason_label,
)
from generation.prompts import PromptTemplate as EnginePromptTemplate
from generation.prompts import RenderedPrompt, has_chat_template, render_prompt
from generation.run_settings import RunSettings
from generation.synthesis import PassageInput, PassageResult, Reader, Renderer, SynthesisOptions, synthesize
from generation.validation import RejectionReason, SupportCheck, ValidationConfig

logger = logging.getLogger(__name__)


class RunSetupError(ValueError):
    """The run cannot be created as asked; the message says why (shown on forms and by the command)."""


class Reporter(Protocol):
    """What execute_run needs from its caller: core.services.jobs.JobContext fits."""

    def progress(self, done: int | None = None, total: int | None = None, message: str | None = None, **data): ...

    def check_cancelled(self) -> None: ...

    def log(self, line: str) -> None: ...


VALIDATION_KEYS = {f.name for f in fields(ValidationConfig)} - {"language"}


def validation_config(run: GenerationRun) -> ValidationConfig:
    overrides = dict(run.validation or {})
    if "support_check" in overrides:
        overrides["support_check"] = SupportCheck(overrides["support_check"])
    return ValidationConfig.for_language(run.corpus.language, **overrides)


def _check_validation_overrides(overrides: dict[str, Any]) -> None:
    unknown = sorted(set(overrides) - VALIDATION_KEYS)
    if unknown:
        raise RunSetupError(
            f"unknown validation setting(s) {', '.join(unknown)}; known: {', '.join(sorted(VALIDATION_KEYS))}"
        )
    if "support_check" in overrides:
        try:
            SupportCheck(overrides["support_check"])
        except ValueError:
            raise RunSetupError(f"support_check must be one of {', '.join(s.value for s in SupportCheck)}") from None


# ------------------------------------------------------------------------------------------ creating


def selection_bounds(corpus: Corpus, split: str, passage_ids: Sequence[int], limit: int | None) -> tuple[int, int]:
    """(max passage id, count) of the passages a new run will cover."""
    qs = Passage.objects.filter(corpus=corpus)
    if split:
        qs = qs.filter(split=split)
    if passage_ids:
        qs = qs.filter(pk__in=list(passage_ids))
    qs = qs.order_by("pk")
    if limit:
        last = qs.values_list("pk", flat=True)[limit - 1 : limit].first()
        if last is None:
            last = qs.values_list("pk", flat=True).last()
    else:
        last = qs.values_list("pk", flat=True).last()
    if last is None:
        return 0, 0
    return last, qs.filter(pk__lte=last).count()


def create_run(
    corpus: Corpus,
    generator: ModelEntry,
    template: PromptTemplate,
    *,
    settings: RunSettings = RunSettings(),
    split: str = "",
    passage_ids: Sequence[int] = (),
    limit: int | None = None,
    validation: dict[str, Any] | None = None,
    name: str = "",
    user=None,
    enqueue: bool = True,
    round_trip_reader: ModelEntry | None = None,
) -> GenerationRun:
    """Create a run and its queued job (kind "generation", queue "gpu"); published when the caller commits.

    `round_trip_reader` (a local model, e.g. a training run's adapter) answers the round trip instead of the
    generator."""
    problems = settings.errors()
    if problems:
        raise RunSetupError("; ".join(problems))
    if generator.kind not in (ModelKind.HF, ModelKind.GGUF, ModelKind.OPENAI):
        raise RunSetupError(f"model {generator.name!r} has unknown kind {generator.kind!r}")
    if generator.kind == ModelKind.OPENAI:
        try:
            model_registry.validate_endpoint(generator)
        except model_registry.ModelUnavailable as exc:
            raise RunSetupError(str(exc)) from None
    engine_template = template.as_engine(settings.pairs_per_passage)
    template_problems = engine_template.errors()
    if template_problems:
        raise RunSetupError(f"template {template.name!r}: " + "; ".join(template_problems))
    options = settings.synthesis_options()
    option_problems = options.errors(temperature=settings.temperature, shots=engine_template.shots)
    if options.copy_guard and generator.kind == ModelKind.OPENAI:
        option_problems.append(
            f"the copy guard needs a local model: {generator.name!r} is an endpoint, whose token ids are not known"
        )
    option_problems += reader_problems(round_trip_reader, options)
    if option_problems:
        raise RunSetupError("; ".join(option_problems))
    _check_validation_overrides(validation or {})
    if limit is not None and limit < 1:
        raise RunSetupError("the passage limit must be at least 1")
    max_id, total = selection_bounds(corpus, split, passage_ids, limit)
    if total == 0:
        where = f" in split {split!r}" if split else ""
        raise RunSetupError(f"corpus {corpus.name!r} has no passages{where} to generate from")
    title = name or f"Generate {settings.pairs_per_passage} pairs/passage for {corpus.name} with {generator.name}"
    with transaction.atomic():
        job = create_job("generation", {}, user=user, title=title, enqueue=enqueue)
        run = GenerationRun.objects.create(
            job=job,
            name=name,
            corpus=corpus,
            split=split,
            passage_ids=list(passage_ids),
            limit=limit,
            max_passage_id=max_id,
            passages_total=total,
            generator=generator,
            round_trip_reader=round_trip_reader,
            template=template,
            template_snapshot=engine_template.to_dict(),
            **settings.column_values(),
            validation=dict(validation or {}),
            synthesis={} if options.is_paper else options.to_dict(),
            exemplar_pool=exemplar_pool(corpus, engine_template, seed=settings.seed)
            if options.rotate_exemplars
            else [],
            created_by=recorded_user(user),
        )
        job.params = {"run_id": run.pk}
        job.save(update_fields=["params"])
    return run


def reader_problems(reader: ModelEntry | None, options: SynthesisOptions) -> list[str]:
    """Why `reader` cannot answer this run's round trip (empty when it can, or when there is none)."""
    if reader is None:
        return []
    if not options.round_trip:
        return [f"a round-trip reader ({reader.name!r}) was chosen but the round-trip filter is off"]
    if reader.kind not in (ModelKind.HF, ModelKind.GGUF):
        return [f"the round-trip reader must be a local model (it scores passage spans): {reader.name!r} is not"]
    try:
        model_registry.validate(reader)
        trained_prompt(reader, end="")
    except model_registry.ModelUnavailable as exc:
        return [str(exc)]
    except ValueError as exc:
        return [f"model {reader.name!r}: {exc}"]
    return []


def exemplar_pool(corpus: Corpus, template: EnginePromptTemplate, *, seed: int) -> list[dict[str, Any]]:
    """The rotation pool, frozen into the run: the template's example plus human pairs of the corpus's
    train split (never an evaluation split; the passage itself is excluded when drawing)."""
    rows: dict[int, dict[str, Any]] = {}
    refs = (
        ReferenceQA.objects.filter(passage__corpus=corpus, passage__split=Split.TRAIN)
        .select_related("passage")
        .order_by("passage_id", "id")
    )
    for ref in refs.iterator():
        if not ref.answers:
            continue
        row = rows.setdefault(
            ref.passage_id,
            {
                "passage_id": ref.passage_id,
                "passage": ref.passage.text,
                "title": ref.passage.title,
                "split": ref.passage.split,
                "pairs": [],
            },
        )
        row["pairs"].append((ref.question, ref.answers[0]))
    template_exemplar = Exemplar(template.example_passage, template.example_pairs) if template.shots else None
    pool = build_pool(template_exemplar, rows.values(), pairs_per_exemplar=template.pairs_per_passage, seed=seed)
    return pool.to_list()


# ------------------------------------------------------------------------------------------ backends


class Backend(Protocol):
    def render(self, template: EnginePromptTemplate, passage: Passage) -> RenderedPrompt: ...

    def generate(
        self, prompts: list[RenderedPrompt], params: SamplingParams, reporter: Reporter
    ) -> list[GenerationOutput]: ...

    def close(self) -> None: ...


def _load_local(entry: ModelEntry, reporter: Reporter, run: GenerationRun):
    """(model, tokenizer) of a local entry in the run's precision, converting a GGUF file once first (later runs
    reuse the directory)."""
    model_registry.ready_local_dir(entry, progress=reporter.log)
    return model_registry.load_causal_lm(entry, dtype=run.precision)  # decoding.loading


class LocalBackend:
    """A local HF model (or a converted GGUF), batched with left padding."""

    def __init__(self, entry: ModelEntry, run: GenerationRun, reporter: Reporter) -> None:
        from generation.engine.local import LocalGenerator

        model, tokenizer = _load_local(entry, reporter, run)
        record_dtype_used(run, model, entry.name, reporter.log)
        if run.prompt_mode == "chat" and not has_chat_template(tokenizer):
            raise JobError(
                f"Model {entry.name!r} has no chat template (is it a base model?): create the run with prompt "
                "mode 'plain' or 'auto' instead of 'chat'."
            )
        self.tokenizer = tokenizer
        self.mode = run.prompt_mode
        self.generator = LocalGenerator(model, tokenizer, batch_size=run.batch_size)

    def render(self, template: EnginePromptTemplate, passage: Passage) -> RenderedPrompt:
        return render_prompt(template, passage.text, title=passage.title, tokenizer=self.tokenizer, mode=self.mode)

    def generate(
        self, prompts: list[RenderedPrompt], params: SamplingParams, reporter: Reporter
    ) -> list[GenerationOutput]:
        return self.generator.generate([p.text for p in prompts], params, guards=[p.guard for p in prompts])

    def score(self, items: list[tuple[str, list[str]]]) -> list[list[float]]:
        """Mean token log-probability of each continuation (the extractive round-trip reader)."""
        return self.generator.score(items)

    def close(self) -> None:
        self.generator = None  # type: ignore[assignment]


class EndpointBackend:
    """An OpenAI-compatible server: chat messages (the server applies the chat template) or plain completions."""

    def __init__(self, entry: ModelEntry, run: GenerationRun) -> None:
        from generation.engine.openai_client import EndpointConfig, OpenAIEndpointGenerator

        self.plain = run.prompt_mode == "plain"
        config = EndpointConfig(
            base_url=entry.base_url,
            model=entry.api_model,
            api_key=model_registry.api_key(entry),
            mode="completions" if self.plain else "chat",
            concurrency=run.concurrency,
        )
        self.client = OpenAIEndpointGenerator(config)

    def render(self, template: EnginePromptTemplate, passage: Passage) -> RenderedPrompt:
        return render_prompt(template, passage.text, title=passage.title, mode="plain" if self.plain else "chat")

    def generate(
        self, prompts: list[RenderedPrompt], params: SamplingParams, reporter: Reporter
    ) -> list[GenerationOutput]:
        payload = [p.text if self.plain else list(p.messages) for p in prompts]
        return self.client.generate(payload, params)

    def close(self) -> None:
        self.client.close()


def trained_prompt(entry: ModelEntry, *, end: str) -> rt.ReaderPrompt | None:
    """The QA prompt a reader was trained with (None: it has none); ValueError when it is malformed."""
    if not entry.qa_prompt:
        return None
    return rt.ReaderPrompt(str(entry.qa_prompt.get("prompt", "")), str(entry.qa_prompt.get("answer_prefix", "")), end)


def load_reader(run: GenerationRun, reporter: Reporter) -> Reader | None:
    """The run's chosen round-trip reader, loaded (None: the generator answers its own questions)."""
    entry = run.round_trip_reader
    if entry is None:
        return None
    from generation.engine.local import LocalGenerator

    reporter.log(f"loading the round-trip reader {entry.name}")
    try:
        model, tokenizer = _load_local(entry, reporter, run)
    except model_registry.ModelUnavailable as exc:
        raise JobError(f"round-trip reader: {exc}") from exc
    reporter.log(f"loaded {entry.name} in {precision_used(run.precision, model)}")  # the run keeps its generator's
    scorer = LocalGenerator(model, tokenizer, batch_size=run.batch_size)
    mode = run.prompt_mode if run.prompt_mode != "chat" or has_chat_template(tokenizer) else "plain"
    try:
        trained = trained_prompt(entry, end=tokenizer.eos_token or "\n")
    except ValueError as exc:
        raise JobError(f"round-trip reader {entry.name!r}: {exc}") from exc
    renderer = Renderer(
        lambda t, p: render_prompt(t, p.text, title=p.title, tokenizer=tokenizer, mode=mode),
        tokenizer=tokenizer,
        mode=mode,
    )
    return Reader(entry.name, scorer.score, renderer, trained)


def make_backend(run: GenerationRun, reporter: Reporter) -> Backend:
    entry = run.generator
    try:
        model_registry.validate(entry)
        if entry.kind == ModelKind.OPENAI:
            return EndpointBackend(entry, run)
        return LocalBackend(entry, run, reporter)
    except model_registry.ModelUnavailable as exc:
        raise JobError(str(exc)) from exc


# ------------------------------------------------------------------------------------------ executing


def pending_passages(run: GenerationRun, after_pk: int = 0):
    """Passages of the run that have no raw output yet, in id order."""
    done = RawOutput.objects.filter(run=run, passage=OuterRef("pk"))
    return run.selection().filter(pk__gt=after_pk).filter(~Exists(done))


def status_counts(run: GenerationRun) -> dict[str, int]:
    counts = dict.fromkeys(PairStatus.values, 0)
    for row in SyntheticPair.objects.filter(run=run).values("status").annotate(n=Count("id")).order_by():
        counts[row["status"]] = row["n"]
    return counts


def reason_counts(run: GenerationRun) -> list[dict[str, Any]]:
    """Rejected pairs per main reason, most frequent first (validation reasons and 'manual')."""
    rows = (
        SyntheticPair.objects.filter(run=run)
        .exclude(status=PairStatus.ACCEPTED)
        .values("rejection_reason")
        .annotate(n=Count("id"))
        .order_by("-n", "rejection_reason")
    )
    return [
        {"reason": r["rejection_reason"], "label": reason_label(r["rejection_reason"]), "count": r["n"]} for r in rows
    ]


def _renderer(backend: Backend, passages: dict[int, Passage]) -> Renderer:
    """The backend renders the paper's N-pairs prompt; answer-aware and QA prompts use its tokenizer/mode."""
    tokenizer = getattr(backend, "tokenizer", None)
    mode = getattr(backend, "mode", None) or ("plain" if getattr(backend, "plain", False) else "chat")
    if tokenizer is None and mode == "auto":
        mode = "chat"
    return Renderer(lambda template, p: backend.render(template, passages[p.key]), tokenizer=tokenizer, mode=mode)


def _rows_for_result(
    run: GenerationRun, passage: Passage, result: PassageResult
) -> tuple[RawOutput, list[SyntheticPair]]:
    """One RawOutput per passage (every sample in `samples` when there was more than one completion) and
    its pairs with their verdicts and round-trip results."""
    samples = result.samples
    first = samples[0] if samples else None
    out = first.output if first else None
    many = len(samples) > 1 or bool(first and first.answer)
    raw = RawOutput(
        run=run,
        passage=passage,
        prompt=first.prompt.text if first else "",
        response_prefix=(first.prompt.response_prefix if first else "")[:100],
        text=storable_text(out.text) if out else "",
        finish_reason=out.finish_reason if out else "",
        prompt_tokens=sum(s.output.prompt_tokens or 0 for s in samples if s.output)
        if out and out.prompt_tokens is not None
        else None,
        completion_tokens=sum(s.output.completion_tokens or 0 for s in samples if s.output)
        if out and out.completion_tokens is not None
        else None,
        parse_format=result.parse_format,
        parse_note=result.parse_note,
        exemplar=result.exemplar.to_dict() if result.exemplar else {},
        samples=[_storable(s.to_dict(with_prompt=s.prompt.text != first.prompt.text)) for s in samples]
        if many and first
        else [],
    )
    pairs = []
    for i, pair in enumerate(result.pairs):
        verdict = pair.round_trip
        pairs.append(
            SyntheticPair(
                run=run,
                passage=passage,
                index=i,
                sample=pair.sample,
                question=storable_text(pair.question),
                answer=storable_text(pair.answer),
                status=PairStatus.ACCEPTED if pair.accepted else PairStatus.REJECTED,
                rejection_reason=str(pair.reasons[0]) if pair.reasons else "",
                reasons=[str(r) for r in pair.reasons],
                round_trip_answer=storable_text(verdict.model_answer) if verdict else "",
                round_trip_score=verdict.score if verdict else None,
                round_trip_supported=verdict.supported if verdict else None,
            )
        )
    return raw, pairs


def _storable(data: dict[str, Any]) -> dict[str, Any]:
    return {k: storable_text(v) if isinstance(v, str) else v for k, v in data.items()}


def _store_batch(
    run: GenerationRun, rows: list[tuple[RawOutput, list[SyntheticPair]]]
) -> list[tuple[RawOutput, list[SyntheticPair]]]:
    """Write a batch's outputs and pairs in one short transaction; outputs another worker already stored
    for the same passages (a raced duplicate run) are dropped. Returns what was written."""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                outputs = RawOutput.objects.bulk_create([raw for raw, _ in rows])
                pairs = []
                for raw, (_, batch_pairs) in zip(outputs, rows, strict=True):
                    for pair in batch_pairs:
                        pair.raw_output_id = raw.pk
                        pairs.append(pair)
                if pairs:
                    SyntheticPair.objects.bulk_create(pairs)
            return rows
        except IntegrityError:
            taken = set(
                RawOutput.objects.filter(run=run, passage_id__in=[raw.passage_id for raw, _ in rows]).values_list(
                    "passage_id", flat=True
                )
            )
            rows = [(raw, pairs) for raw, pairs in rows if raw.passage_id not in taken]
            for raw, _ in rows:
                raw.pk = None
            if not rows:
                return []
    raise JobError("could not store a batch: its passages keep conflicting with another run of the same job")


def execute_run(run: GenerationRun, reporter: Reporter, *, backend: Backend | None = None) -> dict[str, Any]:
    """Generate for every passage of the run that has no output yet. Call again to resume."""
    run = GenerationRun.objects.select_related("corpus", "generator", "round_trip_reader").get(pk=run.pk)
    template = EnginePromptTemplate.from_dict(run.template_snapshot)
    config = validation_config(run)
    options = SynthesisOptions.from_dict(run.synthesis)
    pool = ExemplarPool.from_list(run.exemplar_pool, seed=run.seed) if options.rotate_exemplars else None
    total = run.selection().count()
    done = RawOutput.objects.filter(run=run).count()
    counts = status_counts(run)
    accepted = counts[PairStatus.ACCEPTED]
    rejected = counts[PairStatus.REJECTED] + counts[PairStatus.MANUALLY_REJECTED]
    reporter.progress(done, total, f"{done} of {total} passages done; loading {run.generator.name}")
    if done >= total:
        return run_result(run)
    if done:
        reporter.log(f"resuming: {done} of {total} passages already have output")
    reader = load_reader(run, reporter) if options.round_trip else None  # first: a bad reader fails before loading
    backend = backend or make_backend(run, reporter)
    if isinstance(backend, LocalBackend):  # a large run compiles the CUDA static path, a small one does not
        backend.generator.expect((total - done) * max(1, options.samples) * run.max_new_tokens)
    # Cancellation is checked between batches only: a batch that was generated is always stored, so a
    # cancelled and resumed run sends no passage to the model twice.
    write_size = run.batch_size if run.generator.kind != ModelKind.OPENAI else max(run.batch_size, run.concurrency)
    started = time.monotonic()
    generated = pairs_seen = 0
    last_pk = 0
    try:
        while True:
            reporter.check_cancelled()
            passages = list(pending_passages(run, last_pk)[:write_size])
            if not passages:
                break
            last_pk = passages[-1].pk
            by_id = {passage.pk: passage for passage in passages}
            inputs = [
                PassageInput(p.pk, p.text, p.title, pool.draw(p.pk, p.text, p.title) if pool is not None else None)
                for p in passages
            ]
            params = SamplingParams(
                max_new_tokens=run.max_new_tokens,
                temperature=run.temperature,
                top_p=run.top_p,
                seed=run.seed + passages[0].pk,  # per batch: a resumed run does not replay earlier batches' seeds
                repetition_penalty=run.repetition_penalty,
            )  # the stop strings come from the rendered prompts (generation.synthesis.generate_samples)
            # Say which batch is running: without this the page kept "loading <model>" through batch one.
            span = f"passage {done + 1}" if len(passages) == 1 else f"passages {done + 1}-{done + len(passages)}"
            reporter.progress(done, total, f"{done} of {total} passages done; generating {span}")

            def generate(prompts: list[RenderedPrompt], sampling: SamplingParams) -> list[GenerationOutput]:
                try:
                    outputs = backend.generate(prompts, sampling, reporter)
                    return [replace(o, text=storable_text(o.text)) for o in outputs]  # models can emit NUL bytes
                except EndpointError as exc:
                    raise JobError(f"generation failed: {exc}") from exc

            score = getattr(backend, "score", None)  # local models: an extractive round-trip reader
            results = synthesize(
                inputs,
                template,
                options,
                config,
                _renderer(backend, by_id),
                generate,
                params,
                score=score,
                reader=reader,
            )
            rows = [_rows_for_result(run, by_id[r.passage.key], r) for r in results]
            written = _store_batch(run, rows)
            for _, pairs in written:
                pairs_seen += len(pairs)
                accepted += sum(1 for p in pairs if p.status == PairStatus.ACCEPTED)
                rejected += sum(1 for p in pairs if p.status != PairStatus.ACCEPTED)
            generated += len(written)
            done += len(written)
            elapsed = max(time.monotonic() - started, 1e-6)
            rate = generated / elapsed
            reporter.progress(
                done,
                total,
                f"{done} of {total} passages; {accepted} pairs accepted, {rejected} rejected",
                passages_done=done,
                passages_total=total,
                pairs_accepted=accepted,
                pairs_rejected=rejected,
                pairs_per_s=round(pairs_seen / elapsed, 3),
                passages_per_s=round(rate, 3),
                eta_s=round((total - done) / rate, 1) if rate > 0 else None,
            )
    finally:
        backend.close()
    return run_result(run)


def run_result(run: GenerationRun) -> dict[str, Any]:
    counts = status_counts(run)
    return {
        "run_id": run.pk,
        "passages_done": RawOutput.objects.filter(run=run).count(),
        "passages_total": run.passages_total,
        "pairs": counts,
        "rejections": {r["reason"]: r["count"] for r in reason_counts(run)},
    }


# ------------------------------------------------------------------------------------------ staff edits


class PairEditError(ValueError):
    pass


def edit_pair(
    pair: SyntheticPair,
    *,
    user,
    question: str | None = None,
    answer: str | None = None,
    status: str | None = None,
    note: str = "",
) -> SyntheticPair:
    """Change a pair by hand. The state before the change is kept as a revision; nothing changes (and no
    revision is written) when the values are the same. Staff may accept a pair validation rejected."""
    if status is not None and status not in (PairStatus.ACCEPTED, PairStatus.MANUALLY_REJECTED):
        raise PairEditError("a pair can be set to accepted or rejected by hand only")
    with transaction.atomic():
        current = SyntheticPair.objects.select_for_update().get(pk=pair.pk)
        new_question = current.question if question is None else question.strip()
        new_answer = current.answer if answer is None else answer.strip()
        new_status = current.status if status is None else status
        if not new_question or not new_answer:
            raise PairEditError("question and answer must not be empty")
        if (new_question, new_answer, new_status) == (current.question, current.answer, current.status):
            return current
        SyntheticPairRevision.objects.create(
            pair=current,
            question=current.question,
            answer=current.answer,
            status=current.status,
            rejection_reason=current.rejection_reason,
            note=note,
            changed_by=recorded_user(user),
        )
        if (new_question, new_answer) != (current.question, current.answer):
            current.edited = True
        current.question, current.answer = new_question, new_answer
        if new_status != current.status:
            current.status = new_status
            if new_status == PairStatus.MANUALLY_REJECTED:
                current.rejection_reason = MANUAL_REASON
            elif new_status == PairStatus.ACCEPTED:
                current.rejection_reason = ""
        current.save()
    return current


def reject_pair(pair: SyntheticPair, *, user, note: str = "") -> SyntheticPair:
    return edit_pair(pair, user=user, status=PairStatus.MANUALLY_REJECTED, note=note)


def sample_pairs(run: GenerationRun, *, accepted: bool, limit: int = 10, offset: int = 0):
    """A page of accepted or rejected pairs with their passage, for the side-by-side review."""
    qs = SyntheticPair.objects.filter(run=run).select_related("passage", "raw_output")
    qs = qs.filter(status=PairStatus.ACCEPTED) if accepted else qs.exclude(status=PairStatus.ACCEPTED)
    return list(qs.order_by("passage_id", "index")[offset : offset + limit])


def rejection_choices() -> list[tuple[str, str]]:
    return [(r.value, r.label) for r in RejectionReason] + [(MANUAL_REASON, reason_label(MANUAL_REASON))]


def describe_prompt(raw: RawOutput) -> str:
    """The stored prompt in readable form (messages JSON for endpoints is shown role by role)."""
    text = raw.prompt
    if text.startswith("[{"):
        try:
            messages = json.loads(text)
            return "\n\n".join(f"[{m.get('role')}]\n{m.get('content')}" for m in messages)
        except (ValueError, AttributeError):
            pass
    return text
