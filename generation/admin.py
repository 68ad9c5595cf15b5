"""Admin for corpora, imports (upload = the staff upload form), prompt templates, runs, pairs and datasets.

Changes go through the services, as on the staff pages: an upload queues the same import job, a run
created here is the same resumable job, a pair rejected here keeps a revision.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from core.models import FINISHED_STATUSES, ModelEntry, ModelRole
from core.services import jobs
from core.services.model_registry import default_model
from generation.forms import PrecisionField
from generation.models import (
    Corpus,
    GenerationRun,
    Import,
    PairStatus,
    Passage,
    PromptTemplate,
    QADataset,
    QAExample,
    RawOutput,
    ReferenceQA,
    SyntheticPair,
    SyntheticPairRevision,
)
from generation.run_settings import RunSettings
from generation.services import generation_runs
from generation.services.prompt_templates import default_template_for


def _start_default_run(request: HttpRequest, corpus: Corpus, passage_ids: list[int] | None = None) -> None:
    generator = default_model(ModelRole.GENERATOR, corpus.language)
    if generator is None:
        messages.error(request, "No generator model is registered; add one under Models first.")
        return
    # Japanese defaults to one-shot: the offline Japanese generator is a base model (see views.run_new).
    template = default_template_for(corpus.language, 1 if corpus.language.split("-")[0] == "ja" else 0)
    try:
        with transaction.atomic():
            run = generation_runs.create_run(
                corpus, generator, template, passage_ids=passage_ids or (), user=request.user
            )
    except generation_runs.RunSetupError as exc:
        messages.error(request, f"{corpus.name}: {exc}")
        return
    messages.success(
        request,
        format_html(
            'Run <a href="{}">#{}</a> queued for {} ({} passages, {}, template {}).',
            run.get_absolute_url(), run.pk, corpus.name, run.passages_total, generator.name, template.name,
        ),
    )  # fmt: skip


@admin.register(Corpus)
class CorpusAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "source", "created_at", "pages"]
    search_fields = ["name", "source"]
    actions = ["generate_default"]

    @admin.display(description="")
    def pages(self, obj: Corpus) -> str:
        return format_html(
            '<a href="{}">passages</a> · <a href="{}?corpus={}">import a file</a>',
            reverse("generation:corpus-detail", args=[obj.pk]), reverse("admin:generation_import_add"), obj.pk,
        )  # fmt: skip

    @admin.action(description="Generate QA pairs (default model and template)")
    def generate_default(self, request, queryset):
        for corpus in queryset:
            _start_default_run(request, corpus)


@admin.register(Passage)
class PassageAdmin(admin.ModelAdmin):
    list_display = ["id", "corpus", "title", "split", "short_text"]
    list_filter = ["corpus", "split"]
    search_fields = ["title", "text", "external_id"]
    raw_id_fields = ["import_batch"]
    readonly_fields = ["content_hash", "import_batch", "created_at"]
    actions = ["mark_train", "mark_validation", "mark_test", "mark_unsplit", "generate_for_selected"]

    @admin.display(description="text")
    def short_text(self, obj: Passage) -> str:
        return obj.text[:100]

    def _mark(self, request, queryset, split: str) -> None:
        count = queryset.update(split=split)
        self.message_user(request, f"{count} passage(s) marked {split or 'unsplit'}.")

    @admin.action(description="Mark as train")
    def mark_train(self, request, queryset):
        self._mark(request, queryset, "train")

    @admin.action(description="Mark as validation")
    def mark_validation(self, request, queryset):
        self._mark(request, queryset, "validation")

    @admin.action(description="Mark as test")
    def mark_test(self, request, queryset):
        self._mark(request, queryset, "test")

    @admin.action(description="Mark as unsplit")
    def mark_unsplit(self, request, queryset):
        self._mark(request, queryset, "")

    @admin.action(description="Generate QA pairs for the selected passages (default model and template)")
    def generate_for_selected(self, request, queryset):
        by_corpus: dict[int, list[int]] = {}
        for corpus_id, pk in queryset.values_list("corpus_id", "pk"):
            by_corpus.setdefault(corpus_id, []).append(pk)
        for corpus in Corpus.objects.filter(pk__in=by_corpus):
            _start_default_run(request, corpus, by_corpus[corpus.pk])


@admin.register(ReferenceQA)
class ReferenceQAAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "answers", "passage"]
    search_fields = ["question", "external_id"]
    raw_id_fields = ["passage", "import_batch"]


@admin.register(Import)
class ImportAdmin(admin.ModelAdmin):
    """Adding an Import means uploading a file: the same form and checks as the staff upload page."""

    list_display = [
        "id",
        "file_name",
        "corpus",
        "status",
        "passages_created",
        "passages_existing",
        "pairs_created",
        "created_at",
    ]
    list_filter = ["status", "corpus"]
    readonly_fields = [f.name for f in Import._meta.fields]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def add_view(self, request, form_url="", extra_context=None):
        from generation.views import handle_import_upload

        if not self.has_add_permission(request):
            from django.core.exceptions import PermissionDenied

            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Import a corpus file",
            "has_view_permission": True,
        }
        return handle_import_upload(request, "admin/generation/import/upload.html", context)


@admin.register(PromptTemplate)
class PromptTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "shots", "pairs_per_passage", "style", "is_default", "updated_at"]
    list_filter = ["language", "shots", "is_default"]


class GenerationRunAddForm(forms.ModelForm):
    precision = PrecisionField()

    class Meta:
        model = GenerationRun
        fields = [
            "name",
            "corpus",
            "split",
            "limit",
            "generator",
            "template",
            *RunSettings.column_names(),
            "validation",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["generator"].queryset = ModelEntry.objects.all()

    def clean(self):
        data = super().clean()
        problems = self.run_settings().errors()
        if problems:
            raise forms.ValidationError("; ".join(problems))
        if data.get("corpus") is not None:
            _, total = generation_runs.selection_bounds(data["corpus"], data.get("split") or "", (), data.get("limit"))
            if total == 0:
                raise forms.ValidationError(f"Corpus {data['corpus'].name!r} has no passages in this split.")
        return data

    def run_settings(self) -> RunSettings:
        """The settings the form sets (the columns); the synthesis options keep RunSettings' defaults."""
        data = self.cleaned_data
        return RunSettings.from_params({name: data.get(name) for name in RunSettings.column_names()})


@admin.register(GenerationRun)
class GenerationRunAdmin(admin.ModelAdmin):
    list_display = ["id", "__str__", "corpus", "generator", "job_status", "passages_total", "created_at"]
    list_filter = ["corpus", "generator"]
    actions = ["resume_selected", "cancel_selected"]

    @admin.display(description="status")
    def job_status(self, obj: GenerationRun) -> str:
        return obj.job.get_status_display()

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = GenerationRunAddForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in GenerationRun._meta.fields] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return
        data = form.cleaned_data
        settings = form.run_settings()
        with transaction.atomic():
            run = generation_runs.create_run(
                data["corpus"], data["generator"], data["template"], settings=settings, split=data.get("split") or "",
                limit=data.get("limit"), validation=data.get("validation") or {}, name=data.get("name") or "",
                user=request.user,
            )  # fmt: skip
        obj.pk = run.pk

    def add_view(self, request, form_url="", extra_context=None):
        try:
            return super().add_view(request, form_url, extra_context)
        except generation_runs.RunSetupError as exc:
            messages.error(request, str(exc))
            return HttpResponseRedirect(request.get_full_path())

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("generation:run-detail", args=[obj.pk]))

    @admin.action(description="Resume selected runs (continue from the first passage without output)")
    def resume_selected(self, request, queryset):
        count = 0
        for run in queryset.select_related("job"):
            if run.job.status in ("failed", "cancelled"):
                jobs.retry_job(run.job)
                count += 1
        self.message_user(request, f"{count} run(s) queued again.")

    @admin.action(description="Cancel selected runs")
    def cancel_selected(self, request, queryset):
        count = 0
        for run in queryset.select_related("job"):
            if run.job.status not in FINISHED_STATUSES:
                jobs.cancel_job(run.job)
                count += 1
        self.message_user(request, f"Cancel requested for {count} run(s).")


@admin.register(RawOutput)
class RawOutputAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "passage", "parse_format", "finish_reason", "completion_tokens"]
    list_filter = ["run", "parse_format", "finish_reason"]
    readonly_fields = [f.name for f in RawOutput._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class RevisionInline(admin.TabularInline):
    model = SyntheticPairRevision
    extra = 0
    can_delete = False
    readonly_fields = ["question", "answer", "status", "rejection_reason", "note", "changed_by", "created_at"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SyntheticPair)
class SyntheticPairAdmin(admin.ModelAdmin):
    list_display = ["id", "question", "answer", "status", "rejection_reason", "edited", "run"]
    list_filter = ["status", "rejection_reason", "run"]
    search_fields = ["question", "answer"]
    readonly_fields = [f.name for f in SyntheticPair._meta.fields]
    inlines = [RevisionInline]
    actions = ["reject_selected", "accept_selected"]

    def has_add_permission(self, request) -> bool:
        return False

    @admin.action(description="Reject selected pairs by hand (kept as revisions)")
    def reject_selected(self, request, queryset):
        for pair in queryset.exclude(status=PairStatus.MANUALLY_REJECTED):
            generation_runs.reject_pair(pair, user=request.user, note="rejected from the admin")
        self.message_user(request, "Pairs rejected.")

    @admin.action(description="Accept selected pairs by hand (kept as revisions)")
    def accept_selected(self, request, queryset):
        for pair in queryset.exclude(status=PairStatus.ACCEPTED):
            generation_runs.edit_pair(
                pair, user=request.user, status=PairStatus.ACCEPTED, note="accepted from the admin"
            )
        self.message_user(request, "Pairs accepted.")


class QAExampleInline(admin.TabularInline):
    model = QAExample
    extra = 0
    can_delete = False
    fields = ["question", "answer", "source_ref"]
    readonly_fields = fields
    show_change_link = False
    max_num = 0


@admin.register(QADataset)
class QADatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "version", "source", "language", "frozen", "created_at", "exports"]
    list_filter = ["source", "language", "frozen"]
    readonly_fields = [f.name for f in QADataset._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False  # built from runs or reference pairs on the Datasets page

    @admin.display(description="export")
    def exports(self, obj: QADataset) -> str:
        if not obj.frozen:
            return "—"
        return format_html(
            '<a href="{}">JSONL</a> · <a href="{}">SQuAD</a>',
            reverse("generation:dataset-export", args=[obj.pk, "jsonl"]),
            reverse("generation:dataset-export", args=[obj.pk, "squad"]),
        )
