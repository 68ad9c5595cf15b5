"""Create training runs and run them as jobs: the Django side of `training.engine.trainer.train`.

The engine owns the loop, checkpoints and exact resume; this module turns a TrainingRun row into a
TrainConfig, forwards progress to the Job (step/total, loss, learning rate, tokens/s, ETA) and to LossPoint
rows, and turns the job's cancel flag into the engine's clean stop (which writes a checkpoint first).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.models import Job, ModelEntry
from core.permissions import recorded_user
from core.services import jobs
from core.services.jobs import JobCancelled, JobContext, JobError, LeaseLost
from core.services.model_registry import ModelUnavailable, local_dir, ready_local_dir
from generation.models import QADataset
from training.models import LossPoint, TrainingRun
from training.run_settings import TrainingSettings

GENERIC_DEFAULTS: dict[str, Any] = TrainingSettings().resolved("").to_params()
"""The form's initial values: TrainingSettings' defaults with the generic learning rate and sequence length."""


def model_type_of(entry: ModelEntry) -> str:
    """config.model_type of a local model entry ('' when it cannot be read yet, e.g. before conversion)."""
    try:
        path = local_dir(entry)
    except ModelUnavailable:
        return ""
    config = Path(path) / "config.json"
    if not config.is_file():
        return ""
    return str(json.loads(config.read_text()).get("model_type", ""))


def default_settings(entry: ModelEntry) -> dict[str, Any]:
    """Generic defaults with the architecture's overrides and its default LoRA target modules (shown on the
    form and used for every setting a run leaves open)."""
    from training.engine.lora import default_target_modules

    model_type = model_type_of(entry)
    settings = TrainingSettings().resolved(model_type, default_target_modules(model_type)).to_params()
    settings["model_type"] = model_type
    return settings


def template_for(language: str, template: dict | None = None) -> dict:
    """The prompt template to store on a run: the given one (validated) or the language's default."""
    from training.engine.formatting import FormattingError, PromptTemplate, default_template

    if template:
        try:
            return PromptTemplate.from_dict(template).to_dict()
        except (FormattingError, TypeError) as exc:
            raise ValueError(f"prompt template: {exc}") from exc
    return default_template(language).to_dict()


@transaction.atomic
def create_training_run(
    *,
    base_model: ModelEntry,
    dataset: QADataset,
    name: str = "",
    user=None,
    template: dict | None = None,
    depends_on: list[Job] | tuple[Job, ...] = (),
    enqueue: bool = True,
    settings: TrainingSettings | None = None,
    **params: Any,
) -> TrainingRun:
    """A TrainingRun with its queued job, from `settings` and/or single settings as keyword `params` (an
    experiment's stored JSON, a test's few overrides). Settings left open take the architecture's defaults."""
    from training.engine.lora import default_target_modules

    settings = TrainingSettings.from_params({**(settings.to_params() if settings else {}), **params}).validated()
    if not dataset.frozen:
        raise ValueError(f"dataset {dataset} is not frozen; freeze it before training on it")
    if not dataset.examples.exists():
        raise ValueError(f"dataset {dataset} has no examples")
    model_type = model_type_of(base_model)
    settings = settings.resolved(model_type, default_target_modules(model_type))
    run = TrainingRun.objects.create(
        name=name or f"{base_model.name} on {dataset}",
        base_model=base_model,
        dataset=dataset,
        language=dataset.language,
        template=template_for(dataset.language, template),
        created_by=recorded_user(user),
        **settings.column_values(),
    )
    _validate(run)
    run.job = jobs.create_job(
        "training",
        {"training_run_id": run.pk},
        user=user,
        title=f"Train {run.name}",
        depends_on=list(depends_on),
        enqueue=enqueue,
    )
    run.save(update_fields=["job"])
    return run


def _validate(run: TrainingRun) -> None:
    """Build the engine config once at creation so bad settings fail in the form, not in the worker."""
    build_config(run, base_path="(checked at run time)")


def build_config(run: TrainingRun, *, base_path: str):
    from training.engine.trainer import TrainConfig

    return TrainConfig(
        base_model=base_path,
        output_dir=str(run.output_dir),
        language=run.language,
        template=run.template or None,
        lora={
            "r": run.lora_r,
            "alpha": run.lora_alpha,
            "dropout": run.lora_dropout,
            "target_modules": run.target_modules or None,
        },
        epochs=run.epochs,
        max_steps=run.max_steps,
        learning_rate=run.learning_rate,
        batch_size=run.batch_size,
        gradient_accumulation_steps=run.gradient_accumulation_steps,
        max_seq_length=run.max_seq_length,
        seed=run.seed,
        warmup_ratio=run.warmup_ratio,
        checkpoint_every=run.checkpoint_every,
        device=run.device or "auto",
        dtype=run.dtype or "auto",
    )


def _store_points(run: TrainingRun, points: list[dict[str, float]]) -> None:
    """Upsert loss points by step: a step re-run after a resume replaces its earlier value."""
    if not points:
        return
    LossPoint.objects.bulk_create(
        [
            LossPoint(training_run=run, step=int(p["step"]), loss=float(p["loss"]), learning_rate=float(p["lr"]))
            for p in points
        ],
        update_conflicts=True,
        unique_fields=["training_run", "step"],
        update_fields=["loss", "learning_rate"],
    )


def execute(run: TrainingRun, ctx: JobContext) -> dict[str, Any]:
    """The body of a "training" job; resumable (the engine restarts from its last checkpoint)."""
    from training.engine.formatting import FormattingError
    from training.engine.trainer import TrainingError, TrainProgress, train

    try:
        config = build_config(run, base_path=str(ready_local_dir(run.base_model, progress=ctx.log)))
    except ModelUnavailable as exc:
        raise JobError(str(exc)) from exc
    except ValueError as exc:
        raise JobError(f"Training run #{run.pk}: {exc}") from exc
    examples = list(run.dataset.examples.order_by("id").values("context", "question", "answer"))
    if not examples:
        raise JobError(f"Dataset {run.dataset} has no examples.")
    ctx.progress(run.steps_done, run.total_steps, f"loading {run.base_model.name}")
    ctx.log(f"training on {len(examples)} examples of {run.dataset} with {run.base_model.name}")
    stop_reason: list[BaseException] = []

    def on_progress(p: TrainProgress) -> None:
        _store_points(run, [{"step": p.step, "loss": p.loss, "lr": p.learning_rate}])
        TrainingRun.objects.filter(pk=run.pk).update(steps_done=p.step, total_steps=p.total_steps)
        ctx.progress(
            p.step,
            p.total_steps,
            f"step {p.step} of {p.total_steps}, loss {p.loss:.4f}",
            loss=round(p.loss, 5),
            learning_rate=p.learning_rate,
            tokens_per_s=round(p.tokens_per_s, 1),
            eta_s=round(p.eta_s, 1),
            epoch=round(p.epoch, 3),
        )

    def should_stop() -> bool:
        try:
            ctx.check_cancelled()
        except (JobCancelled, LeaseLost) as exc:
            stop_reason.append(exc)
            return True
        return False

    try:
        result = train(config, examples, progress=on_progress, should_stop=should_stop, log=ctx.log)
    except (TrainingError, FormattingError) as exc:
        raise JobError(str(exc)) from exc
    if result.status == "stopped":
        ctx.log(f"stopped at step {result.step}; checkpoint {result.checkpoint_dir}")
        raise stop_reason[0] if stop_reason else JobCancelled()
    # The engine's history is authoritative: it covers steps run before a kill that came after the last
    # checkpoint only once (re-run steps overwrite), so the stored curve is exactly steps 1..N.
    _store_points(run, result.loss_history)
    LossPoint.objects.filter(training_run=run, step__gt=result.step).delete()
    final_loss = result.loss_history[-1]["loss"] if result.loss_history else None
    TrainingRun.objects.filter(pk=run.pk).update(
        steps_done=result.step,
        total_steps=result.total_steps,
        final_loss=final_loss,
        adapter_dir=result.adapter_dir or "",
        resolved_target_modules=result.target_modules,
        device_used=result.device,
        dtype_used=result.dtype,
        n_examples=len(examples),
        truncated_contexts=result.truncated_contexts,
        tokens_per_s=result.tokens_per_s or None,
    )
    ctx.progress(result.step, result.total_steps, f"done: {result.step} steps, final loss {final_loss:.4f}")
    return {
        "steps": result.step,
        "final_loss": final_loss,
        "adapter_dir": result.adapter_dir,
        "resumed_from_step": result.resumed_from_step,
        "device": result.device,
        "dtype": result.dtype,
        "finished_at": timezone.now().isoformat(),
    }


def loss_curve(run: TrainingRun) -> list[tuple[int, float]]:
    return list(run.loss_points.order_by("step").values_list("step", "loss"))


def smoothed(points: list[tuple[int, float]], window: int = 0) -> list[tuple[int, float]]:
    """Moving average for long curves (window ~ 1/20 of the steps); short curves are returned as they are."""
    window = window or max(1, math.ceil(len(points) / 20))
    if window <= 1:
        return points
    out = []
    for i in range(len(points)):
        chunk = points[max(0, i - window + 1) : i + 1]
        out.append((points[i][0], sum(v for _, v in chunk) / len(chunk)))
    return out


# --- the adapter as a streamed zip ---------------------------------------------------------------------


class _Sink:
    """A write-only file object that hands what was written to the response generator."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.position = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def adapter_zip_stream(adapter_dir: str | Path, *, chunk_size: int = 1 << 20) -> Iterator[bytes]:
    """Zip the adapter directory on the fly (no temp file, constant memory), as the response body."""
    import zipfile

    root = Path(adapter_dir)
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:  # type: ignore[arg-type]
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            with archive.open(str(path.relative_to(root)), "w", force_zip64=True) as entry, path.open("rb") as src:
                while block := src.read(chunk_size):
                    entry.write(block)
                    yield sink.take()
            yield sink.take()
    yield sink.take()


def trained_template(training: TrainingRun):
    """The prompt a training run's adapter learnt: the run's own setting, else what its training stored beside
    the adapter (None: neither, so the language's default). Evaluation and a registered reader ask in it."""
    from training.engine.formatting import PromptTemplate
    from training.engine.predict import training_template

    if training.template:
        return PromptTemplate.from_dict(training.template)
    return training_template(training.adapter_dir) if training.adapter_dir else None
