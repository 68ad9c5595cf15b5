"""The paper's experiment as one object: a grid of cells, each generation -> dataset -> training -> evaluation.

How it runs: `launch` creates one ExperimentCell per grid point (no jobs yet). `advance` is the orchestrator:
under a lock on the experiment row it moves cells whose current job succeeded to their next stage and
starts cells that have not begun, never letting more than `max_concurrent` stage jobs be queued or running.
A cell that has not started has no Job row, so the sweep (which republishes every queued job whose
dependencies succeeded) cannot start it early: the limit needs no "hold" flag on jobs.

`advance` is called by a small "experiment.advance" job created with `depends_on=[stage job]` (so it is
published the moment that stage job succeeds) and by a periodic beat task (which also notices failed
jobs, retried jobs and freed slots). Both are idempotent: calling `advance` twice changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.models import FINISHED_STATUSES, Job, JobStatus, ModelEntry, ModelRole
from core.permissions import recorded_user
from core.services import jobs
from core.services.model_registry import default_model
from generation.models import Corpus, QADataset
from generation.run_settings import RunSettings
from training.models import EvaluationRun, Experiment, ExperimentCell, TrainingRun
from training.run_settings import EvaluationSettings, TrainingSettings
from training.services import evaluation_runs, training_runs

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
ADVANCE_KIND = "experiment.advance"


class ExperimentError(ValueError):
    """The experiment cannot be created or a stage cannot start; the message says which and why."""


# --- presets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    key: str
    label: str
    language: str
    corpus_name: str
    shots: tuple[int, ...]
    pairs_per_passage: tuple[int, ...]
    max_passages: int | None
    training: dict[str, Any]
    evaluation: dict[str, Any]
    generation: dict[str, Any] = field(default_factory=dict)
    max_concurrent: int = 1
    include_human_baseline: bool = True
    description: str = ""


PRESETS: dict[str, Preset] = {
    "small-en": Preset(
        key="small-en",
        label="Small English demo (about 15 minutes on 2 CPU cores; 14 measured)",
        language="en",
        corpus_name="Demo (English)",
        shots=(0, 1),
        pairs_per_passage=(1, 3),
        max_passages=12,
        # 8 LoRA steps of 8 examples x <= 256 tokens per model: about a minute each on 2 CPU cores.
        training={
            "max_steps": 8,
            "batch_size": 8,
            "max_seq_length": 256,
            "learning_rate": 1e-3,
            "warmup_ratio": 0.0,
            "checkpoint_every": 4,
        },
        evaluation={"max_items": 24, "batch_size": 12, "max_new_tokens": 24, "bootstrap_resamples": 1000},
        # One batch of 12 prompts per run; the token budget grows with N (a batch lasts as long as its
        # longest row, so a fixed 160 would make N=1 runs as slow as N=3 ones).
        generation={"max_new_tokens_per_pair": 48, "batch_size": 12},
        description="One context source (the English demo corpus), zero- vs one-shot, N = 1 vs 3, plus the "
        "human-pair baseline: 4 generation runs, 5 LoRA trainings, 5 evaluations on the validation split.",
    ),
    "ja-gemma": Preset(
        key="ja-gemma",
        label="Japanese demo on Gemma 3 270M (one-shot; slower)",
        language="ja",
        corpus_name="Demo (日本語)",
        shots=(1,),
        pairs_per_passage=(1, 3),
        max_passages=None,
        training={
            "max_steps": 8,
            "batch_size": 4,
            "max_seq_length": 256,
            "learning_rate": 5e-4,
            "warmup_ratio": 0.0,
            "checkpoint_every": 4,
        },
        evaluation={"max_items": None, "batch_size": 4, "max_new_tokens": 24, "bootstrap_resamples": 1000},
        # Measured best by bench/synthesis_yield.py (README "Yield"): answer-aware generation with exemplar
        # rotation, both deviations from the paper (83% of JSQuAD train passages gave >= 1 accepted pair vs 8%
        # for the paper's one-shot prompt, exemplar copies 8% vs 42%), and the copy guard (exemplar copies
        # 1.1% vs 6.1% of 180 outputs, the same yield and time per pair), with 2N answers per passage of which
        # the first N accepted pairs are kept (samples=2: 118 vs 104 of 180 passages with a pair, 238 vs 172
        # pairs, 1.2x the time per accepted pair; under the later ambiguous-question rule 98 of 180 and 182
        # pairs, still above the 50% target). One question per prompt: 48 tokens. Precision "fast" (bf16 on a
        # CPU with bf16 instructions): 60 JSQuAD train passages in 170 s instead of 388 s, 1.91 instead of 5.52
        # s per accepted pair, the same yield (34 vs 32 passages with a pair, 69 vs 58 pairs; README "Yield").
        generation={
            "precision": "fast",
            "max_new_tokens": 48,
            "batch_size": 9,
            "repetition_penalty": 1.3,
            "answer_aware": True,
            "rotate_exemplars": True,
            "copy_guard": True,
            "samples": 2,
        },
        description="Gemma 3 270M (a base model) writes one question per answer picked from each Japanese "
        "passage (answer-aware with 2N answers of which N pairs are kept, rotated one-shot examples, copy "
        "guard: deviations from the paper, see the README) and is the LoRA base; BERTScore uses Gemma's own "
        "layers (not comparable with published figures).",
    ),
}


def _model_for(role: str, language: str) -> ModelEntry | None:
    """The default model of a role for a language; an entry for another language is not used silently."""
    entry = default_model(role, language)
    if entry is not None and entry.language not in ("", language):
        return None
    return entry


@transaction.atomic
def create_from_preset(key: str, *, user=None, name: str = "", **overrides: Any) -> Experiment:
    """A draft experiment with the preset's settings; `overrides` replace single fields."""
    preset = PRESETS.get(key)
    if preset is None:
        raise ExperimentError(f"unknown preset {key!r}; choose one of {', '.join(PRESETS)}")
    corpus = overrides.pop("corpus", None) or Corpus.objects.filter(name=preset.corpus_name).first()
    if corpus is None:
        raise ExperimentError(f"corpus {preset.corpus_name!r} is not loaded (the bootstrap command loads it)")
    reader = overrides.pop("round_trip_reader", None)
    from_baseline = bool(overrides.pop("reader_from_baseline", False))
    generation = dict(preset.generation)
    if reader is not None or from_baseline:
        generation["round_trip"] = True  # a chosen reader is only asked when the filter is on
    generator = overrides.pop("generator", None) or _model_for(ModelRole.GENERATOR, corpus.language)
    qa_base = overrides.pop("qa_base", None) or _model_for(ModelRole.QA_BASE, corpus.language)
    if qa_base is None:
        raise ExperimentError(f"no QA base model (role qa_base) is registered for language {corpus.language!r}")
    training = dict(preset.training)
    evaluation = dict(preset.evaluation)
    precision = overrides.pop("precision", None)
    if precision:  # the whole grid's generation and answering; training keeps its own dtype rules
        generation["precision"] = evaluation["precision"] = precision
    if overrides.get("max_steps"):
        training["max_steps"] = overrides.pop("max_steps")
    overrides.pop("max_steps", None)
    if overrides.get("eval_items"):
        evaluation["max_items"] = overrides.pop("eval_items")
    overrides.pop("eval_items", None)
    eval_split = overrides.pop("eval_split", None) or default_eval_split(corpus)
    values = {
        "eval_split": eval_split,
        "shots": list(preset.shots),
        "pairs_per_passage": list(preset.pairs_per_passage),
        "max_concurrent": preset.max_concurrent,
        "include_human_baseline": preset.include_human_baseline,
        "include_base_model": False,
        "max_passages": preset.max_passages,
        "context_sources": [corpus.name],
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:  # stored sparse (what the preset and the form set), but checked now rather than at the first cell
        TrainingSettings.from_params(training).validated()
        EvaluationSettings.from_params(evaluation).validated()
        RunSettings.from_params(generation_options(generation)).validated()
    except ValueError as exc:
        raise ExperimentError(str(exc)) from None
    experiment = Experiment.objects.create(
        name=name or f"{preset.label.split(' (')[0]} {timezone.localtime():%Y-%m-%d %H:%M}",
        preset=key,
        language=corpus.language,
        corpus=corpus,
        generator=generator,
        qa_base=qa_base,
        generation_settings=generation,
        training_settings=training,
        evaluation_settings=evaluation,
        round_trip_reader=reader,
        reader_from_baseline=from_baseline,
        created_by=recorded_user(user),
        **values,
    )
    problems = reader_problems(experiment)
    if problems:
        raise ExperimentError("; ".join(problems))  # rolls the experiment back
    return experiment


def default_eval_split(corpus: Corpus) -> str:
    """Validation, or test where the corpus has no validation pairs (JSQuAD imported as the README says, split
    by article into train and test, has none): an experiment on it would otherwise not launch."""
    from generation.models import ReferenceQA, Split

    for split in (Split.VALIDATION, Split.TEST):
        if ReferenceQA.objects.filter(passage__corpus=corpus, passage__split=split).exists():
            return split
    return Split.VALIDATION


# --- the round-trip reader -----------------------------------------------------------------------------


def reader_problems(experiment: Experiment) -> list[str]:
    """Why the experiment's round-trip reader cannot serve its generation runs (empty when it can)."""
    from generation.services.generation_runs import reader_problems as generation_reader_problems

    if experiment.round_trip_reader is None and not experiment.reader_from_baseline:
        return []
    if experiment.round_trip_reader is not None and experiment.reader_from_baseline:
        return ["choose one round-trip reader: a registered model or the human baseline's adapter, not both"]
    settings = RunSettings.from_params(generation_options(experiment.generation_settings))
    if not settings.round_trip:
        return ["a round-trip reader was chosen but the generation settings turn the round-trip filter off"]
    if experiment.reader_from_baseline:
        if not experiment.include_human_baseline:
            return ["the human baseline's adapter cannot read the round trip: the grid has no human baseline"]
        return []
    return generation_reader_problems(experiment.round_trip_reader, settings.synthesis_options())


def baseline_reader(experiment: Experiment) -> ModelEntry | None:
    """The human baseline's adapter as a registered reader, once its training succeeded (None until then).

    Its training pairs are the train split's human pairs, the passages the generation runs read, never
    the evaluation split; so the reader has seen the human questions of the passages whose generated
    questions it checks, which is what a reader trained on the annotated training set is for."""
    from training.services.readers import register_reader

    human = experiment.cells.filter(kind=ExperimentCell.Kind.HUMAN).select_related("training_run__job").first()
    run = human.training_run if human is not None else None
    if run is None or run.job is None or run.job.status != JobStatus.SUCCEEDED:
        return None
    return register_reader(run)


def _reader_pending(cell: ExperimentCell, cells: list[ExperimentCell]) -> bool:
    """A synthetic cell waiting for the human baseline's adapter, whose training has not succeeded yet."""
    Stage = ExperimentCell.Stage
    if not (cell.experiment.reader_from_baseline and cell.kind == ExperimentCell.Kind.SYNTHETIC):
        return False
    if cell.stage != Stage.PENDING:
        return False
    human = next((c for c in cells if c.kind == ExperimentCell.Kind.HUMAN), None)
    if human is None:
        return True
    if human.stage in (Stage.EVALUATING, Stage.DONE):
        return False
    job = human.current_job
    return not (human.stage == Stage.TRAINING and job is not None and job.status == JobStatus.SUCCEEDED)


# --- launching -----------------------------------------------------------------------------------------


def grid_points(experiment: Experiment) -> list[dict[str, Any]]:
    """Cells in run order: synthetic cells (source x shots x N), then the human baseline, then the base model.
    When the human baseline's adapter reads the round trip, the baseline comes first."""
    points: list[dict[str, Any]] = []
    if experiment.include_human_baseline and experiment.reader_from_baseline:
        points.append({"kind": ExperimentCell.Kind.HUMAN})
    for source in experiment.context_sources:
        for shots in experiment.shots:
            for n in experiment.pairs_per_passage:
                points.append(
                    {
                        "kind": ExperimentCell.Kind.SYNTHETIC,
                        "context_source": str(source),
                        "shots": int(shots),
                        "pairs_per_passage": int(n),
                    }
                )
    if experiment.include_human_baseline and not experiment.reader_from_baseline:
        points.append({"kind": ExperimentCell.Kind.HUMAN})
    if experiment.include_base_model:
        points.append({"kind": ExperimentCell.Kind.BASE})
    return points


def _check_startable(experiment: Experiment) -> None:
    problems = []
    synthetic = bool(experiment.context_sources and experiment.shots and experiment.pairs_per_passage)
    if not synthetic and not experiment.include_human_baseline and not experiment.include_base_model:
        problems.append("the grid is empty (no context source x shots x N, no baseline)")
    if synthetic and experiment.generator is None:
        problems.append("no generator model is set")
    for source in experiment.context_sources:
        if not Corpus.objects.filter(name=source).exists():
            problems.append(f"context source {source!r} is not a corpus")
    if experiment.max_concurrent < 1:
        problems.append("max_concurrent must be at least 1")
    if synthetic:
        problems += reader_problems(experiment)
    if not evaluation_runs.evaluation_items(experiment.corpus, experiment.eval_split, 1):
        problems.append(f"corpus {experiment.corpus} has no reference pairs in split {experiment.eval_split!r}")
    if problems:
        raise ExperimentError(f"experiment {experiment}: " + "; ".join(problems))


def launch(experiment: Experiment) -> AdvanceReport:
    """Create the grid's cells and start the first stage jobs (up to the concurrency limit)."""
    with transaction.atomic():
        experiment = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if experiment.status != Experiment.Status.DRAFT:
            raise ExperimentError(f"experiment {experiment} was already launched ({experiment.get_status_display()})")
        _check_startable(experiment)
        for position, point in enumerate(grid_points(experiment)):
            ExperimentCell.objects.create(experiment=experiment, position=position, **point)
        experiment.status = Experiment.Status.RUNNING
        experiment.launched_at = timezone.now()
        experiment.save(update_fields=["status", "launched_at"])
    return advance(experiment)


# --- stages (module functions, so tests can swap one for a quick fake) ----------------------------------


def generation_options(generation_settings: dict[str, Any], pairs_per_passage: int = 1) -> dict[str, Any]:
    """An experiment's stored generation settings as RunSettings parameters (without validation overrides)."""
    options = dict(generation_settings)
    options.pop("validation", None)
    per_pair = options.pop("max_new_tokens_per_pair", None)
    if per_pair and "max_new_tokens" not in options:
        options["max_new_tokens"] = 16 + int(per_pair) * int(pairs_per_passage)
    return options


def start_generation(cell: ExperimentCell, reader: ModelEntry | None = None) -> Job:
    """Queue the generation run of a synthetic cell: the context source's train split, N pairs per passage,
    with the default zero- or one-shot template of the corpus language; `reader` reads its round trip."""
    from generation.services.generation_runs import create_run
    from generation.services.prompt_templates import default_template_for

    experiment = cell.experiment
    corpus = Corpus.objects.get(name=cell.context_source)
    run = create_run(
        corpus,
        experiment.generator,
        default_template_for(corpus.language, cell.shots),
        settings=RunSettings.from_params(
            generation_options(experiment.generation_settings, cell.pairs_per_passage),
            pairs_per_passage=cell.pairs_per_passage,
        ),
        split=experiment.train_split,
        limit=experiment.max_passages,
        validation=experiment.generation_settings.get("validation"),
        name=f"{experiment.name}: {cell.label}"[:200],
        user=experiment.created_by,
        round_trip_reader=reader,
    )
    return run.job


def synthetic_dataset(cell: ExperimentCell) -> QADataset:
    """Freeze the accepted pairs of the cell's (finished) generation run into a dataset."""
    from generation.models import GenerationRun
    from generation.services.datasets import build_synthetic_dataset

    run = GenerationRun.objects.get(job=cell.generation_job)
    return build_synthetic_dataset(
        [run], f"{cell.experiment.name}: {cell.label}"[:200], user=cell.experiment.created_by
    )


def human_dataset(cell: ExperimentCell) -> QADataset:
    """Every reference pair of the training split, as the paper's human-data baseline (not only the
    passages the generator saw: the human baseline is the annotated training set as published)."""
    from generation.services.datasets import build_human_dataset

    experiment = cell.experiment
    return build_human_dataset(
        experiment.corpus,
        experiment.train_split,
        f"{experiment.name}: human pairs"[:200],
        user=experiment.created_by,
    )


def start_training(cell: ExperimentCell, dataset: QADataset) -> TrainingRun:
    experiment = cell.experiment
    return training_runs.create_training_run(
        base_model=experiment.qa_base,
        dataset=dataset,
        name=f"{experiment.name}: {cell.label}"[:200],
        user=experiment.created_by,
        settings=TrainingSettings.from_params(experiment.training_settings),
    )


def start_evaluation(cell: ExperimentCell) -> EvaluationRun:
    experiment = cell.experiment
    settings = EvaluationSettings.from_params(experiment.evaluation_settings)
    if experiment.bertscore_model_id and settings.bertscore_model_id is None:
        settings = replace(settings, bertscore_model_id=experiment.bertscore_model_id)
    return evaluation_runs.create_evaluation_run(
        corpus=experiment.corpus,
        training_run=cell.training_run,
        base_model=experiment.qa_base if cell.training_run is None else None,
        split=experiment.eval_split,
        name=f"{experiment.name}: {cell.label}"[:200],
        user=experiment.created_by,
        settings=settings,
    )


# --- the orchestrator ----------------------------------------------------------------------------------


@dataclass
class AdvanceReport:
    experiment_id: int
    status: str = ""
    started: list[str] = field(default_factory=list)
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    in_flight: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cell_failed(cell: ExperimentCell) -> bool:
    job = cell.current_job
    return bool(cell.error) or (job is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED))


def _set_job(cell: ExperimentCell, stage: str, job: Job) -> Job:
    cell.stage = stage
    cell.current_job = job
    cell.error = ""
    # Published when `job` succeeds (core publishes a job's dependents), so the next stage starts at once.
    jobs.create_job(
        ADVANCE_KIND,
        {"experiment_id": cell.experiment_id, "after_job": job.pk},
        title=f"Experiment #{cell.experiment_id}: next step after job #{job.pk}",
        depends_on=[job],
    )
    return job


def _start_next(cell: ExperimentCell) -> Job | None:
    """Start the cell's next stage; returns its job, or None when the cell has nothing left to run."""
    Stage, Kind = ExperimentCell.Stage, ExperimentCell.Kind
    if cell.stage == Stage.PENDING:
        if cell.kind == Kind.SYNTHETIC:
            reader = cell.experiment.round_trip_reader
            if cell.experiment.reader_from_baseline:
                reader = baseline_reader(cell.experiment)
                if reader is None:
                    return None  # waits for the human baseline's training
            job = start_generation(cell, reader)
            cell.generation_job = job
            return _set_job(cell, Stage.GENERATING, job)
        if cell.kind == Kind.HUMAN:
            cell.dataset = human_dataset(cell)
            cell.training_run = start_training(cell, cell.dataset)
            return _set_job(cell, Stage.TRAINING, cell.training_run.job)
        cell.evaluation_run = start_evaluation(cell)
        return _set_job(cell, Stage.EVALUATING, cell.evaluation_run.job)
    if cell.stage == Stage.GENERATING:
        cell.dataset = synthetic_dataset(cell)
        cell.training_run = start_training(cell, cell.dataset)
        return _set_job(cell, Stage.TRAINING, cell.training_run.job)
    if cell.stage == Stage.TRAINING:
        cell.evaluation_run = start_evaluation(cell)
        return _set_job(cell, Stage.EVALUATING, cell.evaluation_run.job)
    return None


def advance(experiment: Experiment) -> AdvanceReport:
    """Move the grid forward as far as the concurrency limit allows (idempotent; safe to call any time)."""
    report = AdvanceReport(experiment_id=experiment.pk)
    with transaction.atomic():
        # The no-op UPDATE takes SQLite's write lock first, so two concurrent calls serialise there too.
        Experiment.objects.filter(pk=experiment.pk).update(status=F("status"))
        exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
        report.status = exp.status
        if exp.status not in (Experiment.Status.RUNNING, Experiment.Status.FAILED):
            return report
        cells = list(exp.cells.select_related("current_job", "training_run", "experiment").order_by("position"))
        for cell in cells:
            cell.experiment = exp
        changed: set[int] = set()
        # Cells whose evaluation succeeded are done: that needs no slot.
        for cell in cells:
            job = cell.current_job
            if cell.stage == ExperimentCell.Stage.EVALUATING and job is not None and job.status == JobStatus.SUCCEEDED:
                cell.stage = ExperimentCell.Stage.DONE
                cell.current_job = None
                changed.add(cell.pk)
                report.completed.append(cell.label)
            elif job is not None and job.status in ACTIVE and cell.error:
                cell.error = ""  # its job was retried
                changed.add(cell.pk)
        in_flight = sum(1 for c in cells if c.current_job is not None and c.current_job.status in ACTIVE)
        # Finish what was started before starting new cells (results arrive cell by cell).
        moving = [c for c in cells if c.current_job is not None and c.current_job.status == JobStatus.SUCCEEDED]
        fresh = [
            c
            for c in cells
            if c.stage == ExperimentCell.Stage.PENDING and not c.error and not _reader_pending(c, cells)
        ]
        for cell in moving + fresh:
            if in_flight >= exp.max_concurrent:
                break
            if cell.error:
                continue
            try:
                with transaction.atomic():
                    job = _start_next(cell)
            except Exception as exc:  # a stage that cannot start marks its cell, not the whole grid
                cell.refresh_from_db()  # drop references to rows the savepoint rolled back
                cell.experiment = exp
                cell.error = f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
                changed.add(cell.pk)
                report.failed.append(cell.label)
                continue
            changed.add(cell.pk)
            if job is not None:
                in_flight += 1
                report.started.append(f"{cell.label}: {cell.get_stage_display().lower()} (job #{job.pk})")
        for cell in cells:
            if cell.pk in changed:
                cell.save()
        report.in_flight = in_flight
        exp.status = _overall_status(cells, in_flight)
        if exp.status in (Experiment.Status.SUCCEEDED,) and exp.finished_at is None:
            exp.finished_at = timezone.now()
        exp.save(update_fields=["status", "finished_at"])
        report.status = exp.status
        _cancel_stale_advance_jobs(exp)
    return report


def _overall_status(cells: list[ExperimentCell], in_flight: int) -> str:
    if cells and all(c.stage == ExperimentCell.Stage.DONE for c in cells):
        return Experiment.Status.SUCCEEDED
    if in_flight == 0:
        # Nothing runs and nothing could start (every unfinished cell is failed or waits on a failed job).
        startable = [
            c
            for c in cells
            if not cell_failed(c)
            and c.stage != ExperimentCell.Stage.DONE
            and (c.current_job is None or c.current_job.status == JobStatus.SUCCEEDED)
            and not _reader_pending(c, cells)
        ]
        if not startable:
            return Experiment.Status.FAILED
    return Experiment.Status.RUNNING


def _cancel_stale_advance_jobs(exp: Experiment) -> None:
    """Advance jobs waiting on a stage job that failed would wait forever: cancel them (the periodic task
    and the retry action call advance instead)."""
    waiting = Job.objects.filter(kind=ADVANCE_KIND, status=JobStatus.QUEUED, params__experiment_id=exp.pk)
    for job in waiting:
        if job.depends_on.filter(status__in=[JobStatus.FAILED, JobStatus.CANCELLED]).exists():
            Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(
                status=JobStatus.CANCELLED,
                finished_at=timezone.now(),
                progress_message="Its stage job did not succeed.",
            )


def advance_all() -> list[AdvanceReport]:
    """The periodic task's body: advance every experiment that is running or waiting for attention."""
    live = Experiment.objects.filter(status__in=[Experiment.Status.RUNNING, Experiment.Status.FAILED])
    return [advance(exp) for exp in live]


# --- staff actions -------------------------------------------------------------------------------------


def retry_failed(experiment: Experiment) -> AdvanceReport:
    """Retry every failed cell: failed or cancelled stage jobs resume from what they stored; a stage that
    could not start is tried again."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if exp.status == Experiment.Status.CANCELLED:
            exp.status = Experiment.Status.RUNNING
        for cell in exp.cells.select_related("current_job"):
            job = cell.current_job
            if job is not None and job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
                jobs.retry_job(job)
                jobs.create_job(
                    ADVANCE_KIND,
                    {"experiment_id": exp.pk, "after_job": job.pk},
                    title=f"Experiment #{exp.pk}: next step after job #{job.pk}",
                    depends_on=[job],
                )
            if cell.error:
                cell.error = ""
                cell.save(update_fields=["error", "updated_at"])
        if exp.status == Experiment.Status.FAILED:
            exp.status = Experiment.Status.RUNNING
        exp.save(update_fields=["status"])
    return advance(exp)


def cancel(experiment: Experiment) -> Experiment:
    """Stop the grid: running stage jobs are asked to stop (they keep what they stored), nothing new starts."""
    with transaction.atomic():
        exp = Experiment.objects.select_for_update().get(pk=experiment.pk)
        if exp.status in (Experiment.Status.SUCCEEDED, Experiment.Status.CANCELLED):
            return exp
        exp.status = Experiment.Status.CANCELLED
        exp.finished_at = timezone.now()
        exp.save(update_fields=["status", "finished_at"])
        for cell in exp.cells.select_related("current_job"):
            if cell.current_job is not None and cell.current_job.status in ACTIVE:
                jobs.cancel_job(cell.current_job)
        Job.objects.filter(kind=ADVANCE_KIND, status=JobStatus.QUEUED, params__experiment_id=exp.pk).update(
            status=JobStatus.CANCELLED, finished_at=timezone.now(), progress_message="Experiment cancelled."
        )
    return exp


# --- progress and the paper-style table ----------------------------------------------------------------


@dataclass
class CellView:
    cell: ExperimentCell
    state: str
    job: Job | None
    fraction: float | None
    yield_report: Any = None  # generation.services.yield_report.YieldReport of a synthetic cell's run
    note: str = ""  # what a waiting cell waits for, beyond a free slot


def cell_views(experiment: Experiment) -> list[CellView]:
    from generation.models import GenerationRun
    from generation.services.yield_report import yield_reports

    views = []
    cells = list(experiment.cells.select_related("current_job", "training_run", "evaluation_run", "dataset"))
    for cell in cells:
        cell.experiment = experiment
    for cell in cells:
        job = cell.current_job
        if cell.stage == ExperimentCell.Stage.DONE:
            state = "done"
        elif cell_failed(cell):
            state = "failed"
        elif job is None:
            state = "waiting"
        elif job.status == JobStatus.SUCCEEDED:
            state = "waiting"  # for a slot to start its next stage
        else:
            state = job.status
        view = CellView(cell, state, job, job.fraction_done if job else None)
        if _reader_pending(cell, cells):
            view.note = "for the human baseline's adapter, which reads its round trip"
        views.append(view)
    job_ids = [v.cell.generation_job_id for v in views if v.cell.generation_job_id]
    runs = {run.job_id: run for run in GenerationRun.objects.filter(job_id__in=job_ids)}
    reports = yield_reports(runs.values())
    for view in views:
        run = runs.get(view.cell.generation_job_id)
        view.yield_report = reports.get(run.pk) if run else None
    return views


def stage_counts(experiment: Experiment) -> dict[str, int]:
    counts: dict[str, int] = {}
    for view in cell_views(experiment):
        counts[view.state] = counts.get(view.state, 0) + 1
    return counts


def finished_job_count(experiment: Experiment) -> tuple[int, int]:
    """(stage jobs finished, stage jobs the grid needs in all), for the progress bar."""
    per_kind = {ExperimentCell.Kind.SYNTHETIC: 3, ExperimentCell.Kind.HUMAN: 2, ExperimentCell.Kind.BASE: 1}
    order = [ExperimentCell.Stage.GENERATING, ExperimentCell.Stage.TRAINING, ExperimentCell.Stage.EVALUATING]
    total = done = 0
    for cell in experiment.cells.select_related("current_job"):
        needed = per_kind[cell.kind]
        total += needed
        if cell.stage == ExperimentCell.Stage.DONE:
            done += needed
            continue
        if cell.stage in order:
            before = order.index(cell.stage) - (3 - needed)
            finished_current = cell.current_job is not None and cell.current_job.status == JobStatus.SUCCEEDED
            done += max(0, before) + int(finished_current)
    return done, total


# --- running a whole experiment in this process (management command, README figures) --------------------


def run_in_process(
    experiment: Experiment, *, log: Callable[[str], None] = print, poll_s: float = 0.5, timeout_s: float = 3600
) -> Experiment:
    """Launch (if needed) and run every stage job of the experiment in this process, one at a time.

    For machines without a worker and for measuring the grid's time. Jobs are run through the normal job
    runtime (`run_job`), so a worker that is also running may take some of them: both are safe.
    """
    from core.services.jobs import run_job

    started = time.perf_counter()
    experiment.refresh_from_db()
    if experiment.status == Experiment.Status.DRAFT:
        report = launch(experiment)
        log(f"launched: {', '.join(report.started) or 'nothing started'}")
    while True:
        experiment.refresh_from_db()
        if experiment.status not in (Experiment.Status.RUNNING,):
            break
        if time.perf_counter() - started > timeout_s:
            raise TimeoutError(f"experiment {experiment} did not finish in {timeout_s} s")
        ran = False
        for cell in experiment.cells.select_related("current_job").order_by("position"):
            job = cell.current_job
            if job is not None and job.status == JobStatus.QUEUED and jobs.dependencies_ready(job):
                began, cpu = time.perf_counter(), cpu_seconds()
                status = run_job(job.pk)
                log(f"[{time.perf_counter() - started:7.1f} s] {cell.label}: {job.kind} job #{job.pk} {status} "
                    f"in {time.perf_counter() - began:.1f} s (CPU {cpu_seconds() - cpu:.1f} s)")  # fmt: skip
                ran = True
                break
        report = advance(experiment)
        for line in report.started:
            log(f"[{time.perf_counter() - started:7.1f} s] started {line}")
        if not ran and not report.started:
            time.sleep(poll_s)
    # Leftover advance jobs (their stage succeeded, advance already ran here) have nothing to do: run them.
    for job in Job.objects.filter(kind=ADVANCE_KIND, status=JobStatus.QUEUED, params__experiment_id=experiment.pk):
        if jobs.dependencies_ready(job):
            run_job(job.pk)
    log(f"experiment {experiment} {experiment.get_status_display().lower()} in {time.perf_counter() - started:.1f} s")
    return experiment


def cpu_seconds() -> float:
    """User + system CPU time of this process and its finished children: on a shared machine the wall time
    depends on the other load, this does much less."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def unfinished_stage_jobs(experiment: Experiment):
    return Job.objects.filter(pk__in=experiment.cells.values("current_job")).exclude(status__in=FINISHED_STATUSES)
