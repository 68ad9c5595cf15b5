"""Admin for jobs (start, cancel, retry) and the model registry."""

from __future__ import annotations

import json
import re
from urllib.parse import urlparse

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpRequest, HttpResponseRedirect

from core.models import FINISHED_STATUSES, Job, ModelEntry, ModelKind, ModelRole
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


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ModelEntryForm(forms.ModelForm):
    """Registering a model by hand: each kind needs its own fields, and a field another kind uses is refused
    rather than silently ignored, so an entry saved here can be loaded (or reports why not) later."""

    class Meta:
        model = ModelEntry
        fields = [
            "name", "kind", "role", "language", "is_default", "path", "base_url", "api_model", "api_key_env",
            "num_layers", "converted_path", "notes",
        ]  # fmt: skip

    def clean_name(self) -> str:
        name = (self.cleaned_data.get("name") or "").strip()
        if not name:
            raise forms.ValidationError("Give the model a name.")
        return name

    def clean_language(self) -> str:
        language = (self.cleaned_data.get("language") or "").strip().lower()
        if language and not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{2,8})?", language):
            raise forms.ValidationError("A language code such as 'en' or 'ja' (blank: any language).")
        return language

    def clean(self):
        data = super().clean()
        kind, role = data.get("kind"), data.get("role")
        path = (data.get("path") or "").strip()
        base_url = (data.get("base_url") or "").strip()
        data["path"], data["base_url"] = path, base_url
        if kind == ModelKind.OPENAI:
            parsed = urlparse(base_url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                self.add_error("base_url", "An endpoint needs an http(s) base URL, e.g. http://127.0.0.1:8000/v1.")
            if not (data.get("api_model") or "").strip():
                self.add_error("api_model", "An endpoint needs the model name it serves (sent as 'model').")
            if path:
                self.add_error("path", "An endpoint has no local path; leave it blank or choose another kind.")
        elif kind in (ModelKind.HF, ModelKind.GGUF):
            if not path:
                self.add_error("path", "A local model needs its directory, hub id (already cached) or .gguf file.")
            elif kind == ModelKind.GGUF and not path.lower().endswith(".gguf"):
                self.add_error("path", "A GGUF model's path is the .gguf file itself.")
            for field in ("base_url", "api_model", "api_key_env"):
                if (data.get(field) or "").strip():
                    self.add_error(field, "Only an OpenAI-compatible endpoint uses this; leave it blank.")
        if kind != ModelKind.GGUF and (data.get("converted_path") or "").strip():
            self.add_error("converted_path", "Only a GGUF model has a converted directory.")
        api_key_env = (data.get("api_key_env") or "").strip()
        if api_key_env and not ENV_NAME.fullmatch(api_key_env):
            self.add_error("api_key_env", "The NAME of an environment variable (e.g. OPENAI_API_KEY), not the key.")
        if data.get("num_layers") is not None and role != ModelRole.BERTSCORE:
            self.add_error("num_layers", "Only a BERTScore encoder uses a layer number; leave it blank.")
        return data


@admin.register(ModelEntry)
class ModelEntryAdmin(admin.ModelAdmin):
    """The model registry: staff register local models and endpoints here (nothing is downloaded)."""

    form = ModelEntryForm
    list_display = ["name", "kind", "role", "language_or_any", "is_default", "location", "converted_path", "created_at"]
    list_filter = ["kind", "role", "language", "is_default"]
    search_fields = ["name", "path", "base_url", "api_model", "notes"]
    readonly_fields = ["created_at"]
    actions = ["check_selected", "convert_selected"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "role", "language", "is_default", "notes"]}),
        ("Local model (Hugging Face directory or hub id, GGUF file)", {"fields": ["path", "converted_path"]}),
        ("OpenAI-compatible endpoint", {"fields": ["base_url", "api_model", "api_key_env"]}),
        ("BERTScore", {"fields": ["num_layers"]}),
        (None, {"fields": ["created_at"]}),
    ]

    @admin.display(description="language", ordering="language")
    def language_or_any(self, obj: ModelEntry) -> str:
        return obj.language or "any"

    @admin.display(description="path or endpoint")
    def location(self, obj: ModelEntry) -> str:
        return f"{obj.base_url} ({obj.api_model})" if obj.kind == ModelKind.OPENAI else obj.path

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if obj.is_default:
                # One default per role and language: the one just saved takes over.
                replaced = list(
                    ModelEntry.objects.filter(role=obj.role, language=obj.language, is_default=True)
                    .exclude(pk=obj.pk)
                    .values_list("name", flat=True)
                )
                ModelEntry.objects.filter(role=obj.role, language=obj.language, name__in=replaced).update(
                    is_default=False
                )
                if replaced:
                    messages.info(request, f"{obj.name} is now the default instead of {', '.join(replaced)}.")
        try:
            model_registry.validate(obj)
        except model_registry.ModelUnavailable as exc:
            # Saved anyway: the file may be copied later, or the key set only on the worker machine.
            messages.warning(request, f"Saved, but it cannot be used yet: {exc}")

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
