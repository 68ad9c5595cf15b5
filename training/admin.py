"""Admin for training, evaluation and experiments. Adding a run here queues its job, as the forms do."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from core.services import jobs
from generation.forms import PrecisionField
from training.models import EvaluationRun, Experiment, ExperimentCell, LossPoint, Prediction, TrainingRun
from training.services import experiments, training_runs

RESULT_FIELDS_TRAINING = [
    "job",
    "total_steps",
    "steps_done",
    "final_loss",
    "adapter_dir",
    "resolved_target_modules",
    "device_used",
    "dtype_used",
    "n_examples",
    "truncated_contexts",
    "tokens_per_s",
    "created_at",
]


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "base_model", "dataset", "status", "steps_done", "total_steps", "final_loss"]
    list_select_related = ["job", "base_model", "dataset"]
    search_fields = ["name"]
    readonly_fields = RESULT_FIELDS_TRAINING
    raw_id_fields = ["dataset"]
    actions = ["queue_again"]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if not change and not obj.template:
                obj.template = training_runs.template_for(obj.dataset.language)
                obj.language = obj.dataset.language
            if not change and obj.target_modules is None:
                obj.target_modules = training_runs.default_settings(obj.base_model)["target_modules"]
            obj.created_by = obj.created_by or request.user
            super().save_model(request, obj, form, change)
            if obj.job_id is None:
                obj.job = jobs.create_job(
                    "training", {"training_run_id": obj.pk}, user=request.user, title=f"Train {obj}"
                )
                obj.save(update_fields=["job"])

    @admin.action(description="Retry the job of the selected runs (resumes from the last checkpoint)")
    def queue_again(self, request, queryset):
        count = 0
        for run in queryset.select_related("job"):
            if run.job and run.job.status in ("failed", "cancelled"):
                jobs.retry_job(run.job)
                count += 1
        messages.info(request, f"{count} job(s) queued again.")


@admin.register(LossPoint)
class LossPointAdmin(admin.ModelAdmin):
    list_display = ["training_run", "step", "loss", "learning_rate"]
    list_filter = ["training_run"]


class PredictionInline(admin.TabularInline):
    model = Prediction
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["item_index", "question", "prediction", "gold_answers", "exact_match", "f1", "bertscore_f1"]
    readonly_fields = fields
    show_change_link = True


class EvaluationRunAdminForm(forms.ModelForm):
    """The admin builds the form's model fields; a blank precision takes the model's default."""

    precision = PrecisionField()

    def clean_precision(self) -> str:
        return self.cleaned_data.get("precision") or EvaluationRun._meta.get_field("precision").get_default()


@admin.register(EvaluationRun)
class EvaluationRunAdmin(admin.ModelAdmin):
    form = EvaluationRunAdminForm
    list_display = ["id", "name", "training_run", "base_model", "corpus", "split", "status", "n_items", "scored_at"]
    list_select_related = ["job", "training_run", "base_model", "corpus"]
    readonly_fields = ["job", "dtype_used", "n_items", "metrics", "metrics_info", "scored_at", "created_at"]
    raw_id_fields = ["training_run"]

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if obj.training_run_id:
                obj.base_model = obj.training_run.base_model
            obj.language = obj.corpus.language
            obj.created_by = obj.created_by or request.user
            super().save_model(request, obj, form, change)
            if obj.job_id is None:
                obj.job = jobs.create_job(
                    "evaluation", {"evaluation_run_id": obj.pk}, user=request.user, title=f"Evaluate {obj}"
                )
                obj.save(update_fields=["job"])


@admin.register(Prediction)
class PredictionAdmin(admin.ModelAdmin):
    list_display = ["evaluation_run", "item_index", "question", "prediction", "exact_match", "f1", "bertscore_f1"]
    list_filter = ["evaluation_run"]
    search_fields = ["question", "prediction"]
    raw_id_fields = ["evaluation_run", "reference", "passage"]


class CellInline(admin.TabularInline):
    model = ExperimentCell
    extra = 0
    max_num = 0
    can_delete = False
    fields = ["position", "kind", "context_source", "shots", "pairs_per_passage", "stage", "current_job", "error"]
    readonly_fields = fields


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "preset", "language", "status", "max_concurrent", "created_at"]
    readonly_fields = ["status", "launched_at", "finished_at", "created_at"]
    inlines = [CellInline]
    actions = ["launch"]

    @admin.action(description="Launch the selected draft experiments")
    def launch(self, request, queryset):
        for experiment in queryset:
            try:
                report = experiments.launch(experiment)
            except ValueError as exc:
                messages.error(request, str(exc))
            else:
                messages.info(request, f"{experiment}: started {len(report.started)} job(s).")
