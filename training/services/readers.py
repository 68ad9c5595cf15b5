"""A training run's adapter as a model other apps may choose, e.g. as the round-trip reader of a generation run.

Imports point down (generation may not import training), so the adapter becomes a core ModelEntry: the base
model's local directory plus the adapter directory (merged when loaded) and the QA prompt it was trained
with, since a reader asked in another prompt no longer answers as it learnt to."""

from __future__ import annotations

from django.db import transaction

from core.models import ModelEntry, ModelKind, ModelRole
from core.services.model_registry import ModelUnavailable, local_dir
from training.engine.formatting import default_template
from training.models import TrainingRun
from training.services.training_runs import trained_template


class ReaderError(ValueError):
    """The run cannot serve as a reader (no adapter yet, or its base model is unavailable)."""


def reader_name(run: TrainingRun) -> str:
    return f"{run.base_model.name} + LoRA of training run #{run.pk}"[:100]


def reader_for(run: TrainingRun) -> ModelEntry | None:
    return ModelEntry.objects.filter(name=reader_name(run)).first()


def register_reader(run: TrainingRun) -> ModelEntry:
    """Create (or refresh) the model entry for `run`'s adapter; idempotent."""
    if not run.has_adapter:
        raise ReaderError(f"Training run {run} has no adapter yet (is it finished?).")
    try:
        base = local_dir(run.base_model)
    except ModelUnavailable as exc:
        raise ReaderError(str(exc)) from exc
    template = trained_template(run) or default_template(run.language)
    with transaction.atomic():
        entry, _ = ModelEntry.objects.update_or_create(
            name=reader_name(run),
            defaults={
                "kind": ModelKind.HF,
                "role": ModelRole.QA_READER,
                "language": run.language,
                "path": str(base),
                "adapter_path": run.adapter_dir,
                "qa_prompt": {"prompt": template.prompt, "answer_prefix": template.answer_prefix},
                "notes": f"LoRA adapter of training run #{run.pk} ({run.name}), trained on {run.dataset}.",
            },
        )
    return entry
