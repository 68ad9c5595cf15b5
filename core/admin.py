"""Admin for jobs (start, cancel, retry) and the model registry."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect

from core.models import FINISHED_STATUSES, Job, ModelEntry
from core.services import jobs, model_registry


class JobCreateForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=())
    params = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        initial='{"steps": 10, "step_seconds": 1}',
        help_text='JSON object of parameters, e.g. {"steps": 10, "step_seconds": 1} for a countdown.',
    )

    class Meta:
        model = Job
        fields = ["kind", "title", "params"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = sorted((k, k) for k in jobs.registered_kinds())
        self.fields["title"].required = False

    def clean_params(self):
        raw = self.cleaned_data["params"] or "{}"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"Parameters are not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError("Parameters must be a JSON object, e.g. {}.")
        return value


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "title", "status", "progress_done", "progress_total", "created_by", "created_at"]
    list_filter = ["status", "kind", "queue"]
    search_fields = ["title", "kind", "error"]
    actions = ["cancel_selected", "retry_selected"]
    readonly_fields = [
        "kind", "queue", "params", "status", "progress_done", "progress_total", "progress_message", "progress_data",
        "log", "error", "result", "created_by", "created_at", "enqueued_at", "started_at", "finished_at",
        "celery_task_id", "lease_owner", "heartbeat_at", "attempts", "max_attempts", "requeue_count",
        "cancel_requested",
    ]  # fmt: skip

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = JobCreateForm
            kwargs["fields"] = ["kind", "title", "params"]
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def get_fields(self, request, obj=None):
        return ["kind", "title", "params"] if obj is None else ["title", *self.readonly_fields]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        with transaction.atomic():
            job = jobs.create_job(
                form.cleaned_data["kind"], form.cleaned_data["params"], user=request.user,
                title=form.cleaned_data.get("title") or "",
            )  # fmt: skip
        obj.pk = job.pk

    def response_add(self, request: HttpRequest, obj, post_url_continue=None):
        messages.success(request, f"Job #{obj.pk} queued; this page follows it live.")
        return HttpResponseRedirect(Job.objects.get(pk=obj.pk).get_absolute_url())

    @admin.action(description="Cancel selected jobs")
    def cancel_selected(self, request, queryset):
        count = 0
        for job in queryset.exclude(status__in=FINISHED_STATUSES):
            jobs.cancel_job(job)
            count += 1
        self.message_user(request, f"Cancel requested for {count} job(s).")

    @admin.action(description="Retry selected failed/cancelled jobs")
    def retry_selected(self, request, queryset):
        count = 0
        for job in queryset.filter(status__in=["failed", "cancelled"]):
            jobs.retry_job(job)
            count += 1
        self.message_user(request, f"{count} job(s) queued again.")


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "role", "language", "is_default", "path", "converted_path"]
    list_filter = ["kind", "role", "language"]
    actions = ["check_selected", "convert_selected"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        try:
            model_registry.validate(obj)
        except model_registry.ModelUnavailable as exc:
            messages.warning(request, str(exc))

    @admin.action(description="Check that the selected models can be used")
    def check_selected(self, request, queryset):
        for entry in queryset:
            try:
                model_registry.validate(entry)
                self.message_user(request, f"{entry.name}: OK", messages.SUCCESS)
            except model_registry.ModelUnavailable as exc:
                self.message_user(request, str(exc), messages.ERROR)

    @admin.action(description="Convert selected GGUF models to HF directories (job)")
    def convert_selected(self, request, queryset):
        for entry in queryset.filter(kind="gguf"):
            jobs.create_job("convert_model", {"model_id": entry.pk}, user=request.user, title=f"Convert {entry.name}")
        self.message_user(request, "Conversion jobs queued.")
