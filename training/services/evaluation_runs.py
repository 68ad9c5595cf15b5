"""Evaluation runs: answer a corpus split's reference questions, store each prediction, then score them.

Two phases, both resumable. Prediction: items are answered in batches; each batch is stored in its own
short transaction, and a retried job skips the item indexes already stored (unique (run, item_index)).
Scoring: once every item has an answer, all predictions are scored together (corpus BLEU and bootstrap
intervals need the whole set) and per-item scores plus aggregates are written in one transaction.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.model_fields import record_dtype_used
from core.models import Job, ModelEntry, ModelKind, ModelRole
from core.permissions import recorded_user
from core.services import jobs
from core.services.jobs import JobContext, JobError
from core.services.model_registry import GEMMA_NAME, ModelUnavailable, default_model, ready_local_dir
from core.services.text import storable_text
from generation.models import Corpus, ReferenceQA
from training.models import EvaluationRun, Prediction, TrainingRun
from training.run_settings import EvaluationSettings

# Gemma 3 270M as the offline Japanese BERTScore encoder (no multilingual BERT is available offline).
# Layer 5 of 18, chosen by bench/bertscore_layers.py: over 24 same-meaning and 24 different-meaning Japanese
# answer pairs it separates them best (AUC 0.826; layer 4: 0.816, layer 6: 0.776, the last layer: 0.552).
# A small proxy, not a correlation with human judgments; such scores are labelled as not comparable.
GEMMA_BERTSCORE_LAYER = 5
SCORE_FIELDS = ("exact_match", "f1", "bleu_sentence", "bleu_stats", "bertscore_precision", "bertscore_recall")


@dataclass(frozen=True)
class EvalItem:
    index: int
    key: str
    reference_id: int
    passage_id: int
    context: str
    question: str
    gold_answers: list[str]


def evaluation_items(corpus: Corpus, split: str, max_items: int | None = None) -> list[EvalItem]:
    """The reference QA pairs of a corpus split in a stable order (passage, then pair): item i is always the
    same question, so predictions of different runs on the same split line up for paired tests."""
    qs = (
        ReferenceQA.objects.filter(passage__corpus=corpus, passage__split=split)
        .select_related("passage")
        .order_by("passage_id", "id")
    )
    if max_items:
        qs = qs[:max_items]
    items = []
    for i, ref in enumerate(qs):
        golds = [str(a) for a in (ref.answers or []) if str(a).strip()]
        if not golds:
            raise ValueError(f"reference pair #{ref.pk} (passage #{ref.passage_id}) has no answer")
        items.append(
            EvalItem(
                index=i,
                key=f"reference:{ref.pk}",
                reference_id=ref.pk,
                passage_id=ref.passage_id,
                context=ref.passage.text,
                question=ref.question,
                gold_answers=golds,
            )
        )
    return items


@transaction.atomic
def create_evaluation_run(
    *,
    corpus: Corpus,
    training_run: TrainingRun | None = None,
    base_model: ModelEntry | None = None,
    split: str = "validation",
    name: str = "",
    user=None,
    depends_on: list[Job] | tuple[Job, ...] = (),
    enqueue: bool = True,
    settings: EvaluationSettings | None = None,
    template: dict | None = None,
    bertscore_model: ModelEntry | None = None,
    **params: Any,
) -> EvaluationRun:
    """An EvaluationRun of an adapter (or of a bare base model) with its queued job, from `settings` and/or
    single settings as keyword `params`; the BERTScore encoder may be given as a model entry."""
    if bertscore_model is not None:
        params["bertscore_model_id"] = bertscore_model.pk
    settings = EvaluationSettings.from_params({**(settings.to_params() if settings else {}), **params}).validated()
    if training_run is None and base_model is None:
        raise ValueError("choose a training run (adapter) or a base model")
    if training_run is not None:
        base_model = training_run.base_model
    if not ReferenceQA.objects.filter(passage__corpus=corpus, passage__split=split).exists():
        raise ValueError(f"corpus {corpus} has no reference QA pairs in split {split or 'unsplit'!r}")
    run = EvaluationRun.objects.create(
        name=name or f"{training_run or base_model} on {corpus} {split or 'unsplit'}",
        training_run=training_run,
        base_model=base_model,
        corpus=corpus,
        split=split,
        language=corpus.language,
        template=template or (training_run.template if training_run else {}),
        created_by=recorded_user(user),
        **settings.to_params(),
    )
    run.job = jobs.create_job(
        "evaluation",
        {"evaluation_run_id": run.pk},
        user=user,
        title=f"Evaluate {run.name}",
        depends_on=list(depends_on),
        enqueue=enqueue,
    )
    run.save(update_fields=["job"])
    return run


def template_of(run: EvaluationRun):
    from training.engine.formatting import PromptTemplate, default_template
    from training.services.training_runs import trained_template

    if run.template:
        return PromptTemplate.from_dict(run.template)
    if run.training_run_id:
        found = trained_template(run.training_run)
        if found is not None:
            return found
    return default_template(run.language)


# --- BERTScore encoder ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EncoderChoice:
    path: str
    num_layers: int
    label: str


def bertscore_encoder(run: EvaluationRun) -> EncoderChoice:
    """The run's encoder, else the registered default for its language, else (Japanese and other
    non-English languages) the converted Gemma 3 270M at GEMMA_BERTSCORE_LAYER. English MiniLM is never used
    for another language: its vocabulary would turn Japanese into unknown tokens and score noise."""
    entry = run.bertscore_model
    if entry is None:
        candidate = default_model(ModelRole.BERTSCORE, run.language)
        if candidate is not None and (candidate.language in ("", run.language)):
            entry = candidate
    if entry is not None:
        layers = run.bertscore_num_layers or entry.num_layers
        if not layers:
            raise ValueError(f"BERTScore encoder {entry.name!r} has no num_layers; set it on the model entry")
        return EncoderChoice(str(ready_local_dir(entry)), int(layers), f"{entry.name} (layer {layers})")
    gemmas = ModelEntry.objects.filter(name__startswith=GEMMA_NAME)
    gemma = gemmas.exclude(converted_path="").first() or gemmas.filter(kind=ModelKind.GGUF).first()
    if gemma is None:
        raise ValueError(
            f"no BERTScore encoder for language {run.language!r}: register one (role bertscore) or convert "
            f"{GEMMA_NAME} first"
        )
    layers = run.bertscore_num_layers or GEMMA_BERTSCORE_LAYER
    return EncoderChoice(str(ready_local_dir(gemma)), layers, f"{GEMMA_NAME} (layer {layers})")


def make_scorer(run: EvaluationRun):
    from training.metrics import BertScorer
    from training.metrics.bertscore import default_encoder

    choice = bertscore_encoder(run)
    spec = default_encoder(run.language, model=choice.path, num_layers=choice.num_layers)
    return BertScorer(
        choice.path,
        choice.num_layers,
        language=spec.language,
        comparable_with_paper=spec.comparable_with_paper,
        note=spec.note,
    )


# --- the job ---------------------------------------------------------------------------------------------


def execute(run: EvaluationRun, ctx: JobContext) -> dict[str, Any]:
    """The body of an "evaluation" job: predict what is missing, then score everything."""
    try:
        items = evaluation_items(run.corpus, run.split, run.max_items)
    except ValueError as exc:
        raise JobError(str(exc)) from exc
    if not items:
        raise JobError(f"Corpus {run.corpus} has no reference pairs in split {run.split or 'unsplit'!r}.")
    done = dict(run.predictions.values_list("item_index", "item_key"))
    changed = [item for item in items if item.index in done and done[item.index] != item.key]
    if changed or len(done) > len(items):
        raise JobError(
            f"The reference pairs of {run.corpus} ({run.split or 'unsplit'}) changed since this run stored its "
            f"first answers (item {changed[0].index if changed else len(items)} is no longer the same question); "
            "start a new evaluation run."
        )
    missing = [item for item in items if item.index not in done]
    total = len(items)
    ctx.progress(len(done), total, f"{len(done)} of {total} answered")
    if missing:
        _predict(run, ctx, missing, already=len(done), total=total)
    ctx.check_cancelled()
    ctx.progress(total, total, "scoring")
    summary = score_run(run, ctx=ctx)
    ctx.progress(total, total, "scored", **{k: round(v["value"], 4) for k, v in summary.items()})
    return {"n_items": total, "metrics": {k: v["value"] for k, v in summary.items()}}


def _predict(run: EvaluationRun, ctx: JobContext, missing: list[EvalItem], *, already: int, total: int) -> None:
    from training.engine.predict import iter_predictions, load_for_inference

    adapter = None
    if run.training_run_id:
        training = run.training_run
        if not training.has_adapter:
            raise JobError(f"Training run {training} has no adapter yet (is it finished?).")
        adapter = training.adapter_dir
    try:
        base_path = str(ready_local_dir(run.base_model, progress=ctx.log))
    except ModelUnavailable as exc:
        raise JobError(str(exc)) from exc
    ctx.progress(message=f"loading {run.base_model.name}" + (" with adapter" if adapter else ""))
    model, tokenizer = load_for_inference(base_path, adapter, dtype=run.precision)
    record_dtype_used(run, model, run.base_model.name, ctx.log)
    template = template_of(run)
    stored = already
    began = time.perf_counter()
    batches = iter_predictions(
        model,
        tokenizer,
        [{"context": it.context, "question": it.question} for it in missing],
        template,
        batch_size=run.batch_size,
        max_new_tokens=run.max_new_tokens,
    )
    for batch in batches:
        rows = []
        for p in batch:
            item = missing[p.index]
            rows.append(
                Prediction(
                    evaluation_run=run,
                    item_index=item.index,
                    item_key=item.key,
                    reference_id=item.reference_id,
                    passage_id=item.passage_id,
                    context=item.context,
                    question=item.question,
                    gold_answers=item.gold_answers,
                    prediction=storable_text(p.prediction),  # a byte-level tokenizer can decode a NUL byte
                    raw_output=storable_text(p.raw_output),
                    latency_ms=p.latency_s * 1000.0,
                    prompt_tokens=p.prompt_tokens,
                    output_tokens=p.output_tokens,
                    context_truncated=p.context_truncated,
                )
            )
        with transaction.atomic():
            Prediction.objects.bulk_create(rows, ignore_conflicts=True)
        stored += len(rows)
        elapsed = time.perf_counter() - began
        rate = (stored - already) / elapsed if elapsed > 0 else 0.0
        ctx.progress(
            stored,
            total,
            f"{stored} of {total} answered",
            items_per_s=round(rate, 3),
            eta_s=round((total - stored) / rate, 1) if rate > 0 else None,
        )
        ctx.check_cancelled()


def score_run(run: EvaluationRun, *, ctx: JobContext | None = None) -> dict[str, dict[str, float]]:
    """Score all stored predictions of the run and store per-item scores and aggregates (one transaction)."""
    from training.metrics import score_answers

    predictions = list(run.predictions.order_by("item_index"))
    if not predictions:
        raise JobError(f"Evaluation run {run} has no predictions to score.")
    try:
        scorer = make_scorer(run)
    except (ValueError, ModelUnavailable) as exc:
        raise JobError(f"BERTScore: {exc}") from exc
    if ctx is not None:
        ctx.log(f"BERTScore encoder {scorer.model} layer {scorer.num_layers}")
    try:
        scores = score_answers(
            [p.prediction for p in predictions],
            [p.gold_answers for p in predictions],
            language=run.language,
            bertscorer=scorer,
            bleu_tokenize=run.bleu_tokenize or None,
            n_resamples=run.bootstrap_resamples,
            seed=0,
        )
    except ValueError as exc:
        raise JobError(f"Scoring failed: {exc}") from exc
    for prediction, item in zip(predictions, scores.items, strict=True):
        prediction.exact_match = item.exact_match
        prediction.f1 = item.f1
        prediction.bleu_sentence = item.bleu
        prediction.bleu_stats = item.bleu_stats
        prediction.bertscore_precision = item.bertscore_precision
        prediction.bertscore_recall = item.bertscore_recall
        prediction.bertscore_f1 = item.bertscore_f1
    summary = {
        name: {"value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high, "scale": m.scale}
        for name, m in scores.summary.items()
    }
    with transaction.atomic():
        Prediction.objects.bulk_update(predictions, [*SCORE_FIELDS, "bertscore_f1"], batch_size=500)
        EvaluationRun.objects.filter(pk=run.pk).update(
            n_items=len(predictions), metrics=summary, metrics_info=scores.info, scored_at=timezone.now()
        )
    run.refresh_from_db()
    return summary
