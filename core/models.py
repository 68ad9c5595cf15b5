"""Rows shared by every app: background jobs and the model registry.

One concrete Job table (with a `kind`) rather than an abstract base: the sweep, the admin, the live job
page and the Celery entry point then deal with a single table, and each app's own run row (GenerationRun,
TrainingRun, ...) points at its Job with a one-to-one key. Domain state (what was generated, which
checkpoint exists) stays in the app's tables; the Job only says who runs it and how far it got.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


FINISHED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    kind = models.CharField(max_length=64, db_index=True, help_text="Handler name, e.g. 'generation'.")
    title = models.CharField(max_length=200, blank=True)
    queue = models.CharField(max_length=32, default="default")
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True)

    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    progress_message = models.CharField(max_length=500, blank=True)
    progress_data = models.JSONField(default=dict, blank=True, help_text="Extra live figures (rates, ETA, loss).")
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    result = models.JSONField(default=dict, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    celery_task_id = models.CharField(max_length=64, blank=True)
    lease_owner = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=3)
    requeue_count = models.PositiveIntegerField(default=0, help_text="Times the sweep re-published a message.")
    cancel_requested = models.BooleanField(default=False)
    depends_on = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="dependents")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "heartbeat_at"]), models.Index(fields=["status", "enqueued_at"])]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("job-detail", args=[self.pk])

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def fraction_done(self) -> float | None:
        if not self.progress_total:
            return None
        return min(1.0, self.progress_done / self.progress_total)


class ModelKind(models.TextChoices):
    HF = "hf", "Hugging Face id or local directory"
    GGUF = "gguf", "GGUF file (converted once to a HF directory)"
    OPENAI = "openai", "OpenAI-compatible HTTP endpoint"


class ModelRole(models.TextChoices):
    GENERATOR = "generator", "QA generator"
    QA_BASE = "qa_base", "QA base model (LoRA)"
    BERTSCORE = "bertscore", "BERTScore encoder"
    QA_READER = "qa_reader", "QA reader (round trip)"


class ModelEntry(models.Model):
    """A model the app may load. Nothing here downloads: paths are local, endpoints are user-run servers."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ModelKind.choices)
    role = models.CharField(max_length=16, choices=ModelRole.choices)
    language = models.CharField(max_length=8, blank=True, help_text="'en', 'ja', or blank for any.")
    is_default = models.BooleanField(default=False, help_text="Default for its role and language.")
    path = models.CharField(
        max_length=1000, blank=True, help_text="hf: local directory or hub id (must be cached); gguf: the .gguf file."
    )
    base_url = models.CharField(max_length=500, blank=True, help_text="openai: e.g. http://127.0.0.1:8000/v1")
    api_model = models.CharField(max_length=200, blank=True, help_text="openai: model name sent to the endpoint.")
    api_key_env = models.CharField(
        max_length=100, blank=True, help_text="openai: name of the environment variable holding the API key."
    )
    num_layers = models.PositiveIntegerField(null=True, blank=True, help_text="BERTScore: layer to use.")
    converted_path = models.CharField(max_length=1000, blank=True, help_text="gguf: the HF directory made from it.")
    adapter_path = models.CharField(
        max_length=1000, blank=True, help_text="hf: a LoRA adapter directory, merged into the model when it is loaded."
    )
    qa_prompt = models.JSONField(
        default=dict,
        blank=True,
        help_text='The QA prompt the adapter was trained with: {"prompt": "...{context}...{question}...", '
        '"answer_prefix": " "}. A round-trip reader is asked in this form.',
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["role", "name"]
        verbose_name = "model"

    def __str__(self) -> str:
        return self.name
