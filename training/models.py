"""Training runs (LoRA adapters), evaluation runs with one stored prediction per item, and experiments.

Each run row points at its `core.Job` (one-to-one) for progress and status; everything the run produced
(loss curve points, predictions with their per-item scores, aggregate metrics) lives here so a retried job
resumes from the rows instead of redoing work, and other apps (judging, statistics) can join against the
individual predictions.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import models
from django.urls import reverse

from core.model_fields import dtype_used_field, precision_field
from core.models import Job, JobStatus, ModelEntry
from generation.models import Corpus, Passage, QADataset, ReferenceQA, Split


class TrainingRun(models.Model):
    """One LoRA fine-tuning of a registered base model on a frozen QA dataset.

    The settings are copied onto the row (not read from the dataset or a profile at run time) so the run
    can be reproduced and a resumed job trains with exactly the settings it started with.
    """

    name = models.CharField(max_length=200)
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_run")
    base_model = models.ForeignKey(ModelEntry, on_delete=models.PROTECT, related_name="training_runs")
    dataset = models.ForeignKey(QADataset, on_delete=models.PROTECT, related_name="training_runs")
    language = models.CharField(max_length=8, default="en")
    template = models.JSONField(
        default=dict, blank=True, help_text='Prompt template: {"language", "prompt", "answer_prefix"}; blank = default.'
    )

    lora_r = models.PositiveIntegerField(default=8)
    lora_alpha = models.PositiveIntegerField(default=16)
    lora_dropout = models.FloatField(default=0.05)
    target_modules = models.JSONField(
        null=True, blank=True, help_text="List of module names; empty = the default for the architecture."
    )
    epochs = models.PositiveIntegerField(default=3)
    max_steps = models.PositiveIntegerField(null=True, blank=True, help_text="Overrides epochs when set.")
    learning_rate = models.FloatField(default=2e-4)
    batch_size = models.PositiveIntegerField(default=8)
    gradient_accumulation_steps = models.PositiveIntegerField(default=1)
    max_seq_length = models.PositiveIntegerField(default=256)
    seed = models.IntegerField(default=42)
    warmup_ratio = models.FloatField(default=0.03)
    checkpoint_every = models.PositiveIntegerField(default=50, help_text="Save a resumable checkpoint every K steps.")
    device = models.CharField(max_length=16, default="auto", help_text="auto, cpu or cuda.")
    dtype = models.CharField(max_length=16, default="auto", help_text="auto, float32, bfloat16 or float16.")

    # Filled in while and after it runs.
    total_steps = models.PositiveIntegerField(null=True, blank=True)
    steps_done = models.PositiveIntegerField(default=0)
    final_loss = models.FloatField(null=True, blank=True)
    adapter_dir = models.CharField(max_length=1000, blank=True)
    resolved_target_modules = models.JSONField(default=list, blank=True)
    device_used = models.CharField(max_length=32, blank=True)
    dtype_used = models.CharField(max_length=32, blank=True)
    n_examples = models.PositiveIntegerField(null=True, blank=True)
    truncated_contexts = models.PositiveIntegerField(default=0)
    tokens_per_s = models.FloatField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"training run #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("training:run-detail", args=[self.pk])

    @property
    def status(self) -> str:
        return self.job.status if self.job_id else JobStatus.QUEUED

    @property
    def output_dir(self) -> Path:
        """Where checkpoints and the final adapter live (under the data dir, one folder per run).

        The creation time is part of the name: a fresh database starts ids at 1 again, and a new run must
        never resume from the checkpoints of an old run that happened to have the same id."""
        return Path(settings.DATA_DIR) / "training" / f"run-{self.pk}-{self.created_at:%Y%m%d-%H%M%S-%f}"

    @property
    def has_adapter(self) -> bool:
        return bool(self.adapter_dir) and (Path(self.adapter_dir) / "adapter_config.json").is_file()


class LossPoint(models.Model):
    """One optimizer step's loss; unique per (run, step) so a resumed run never stores a step twice."""

    training_run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="loss_points")
    step = models.PositiveIntegerField()
    loss = models.FloatField()
    learning_rate = models.FloatField()

    class Meta:
        ordering = ["training_run", "step"]
        constraints = [models.UniqueConstraint(fields=["training_run", "step"], name="losspoint_run_step")]

    def __str__(self) -> str:
        return f"step {self.step}: {self.loss:.4f}"


class EvaluationRun(models.Model):
    """Answers of one adapter (or the bare base model) to the reference questions of a corpus split."""

    name = models.CharField(max_length=200)
    job = models.OneToOneField(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="evaluation_run")
    training_run = models.ForeignKey(
        TrainingRun,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="evaluation_runs",
        help_text="The adapter to evaluate; empty = the bare base model (baseline).",
    )
    base_model = models.ForeignKey(ModelEntry, on_delete=models.PROTECT, related_name="evaluation_runs")
    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="evaluation_runs")
    split = models.CharField(max_length=16, choices=Split.choices, blank=True, default=Split.VALIDATION)
    max_items = models.PositiveIntegerField(null=True, blank=True, help_text="First N reference pairs; empty = all.")
    language = models.CharField(max_length=8, default="en")
    template = models.JSONField(default=dict, blank=True, help_text="Blank = the training run's template.")
    batch_size = models.PositiveIntegerField(default=8)
    max_new_tokens = models.PositiveIntegerField(default=48)
    bertscore_model = models.ForeignKey(
        ModelEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bertscore_evaluations",
        help_text="Encoder (role bertscore); empty = the default for the language.",
    )
    bertscore_num_layers = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = the model entry's.")
    bleu_tokenize = models.CharField(max_length=16, blank=True, help_text="13a, ja-mecab, char; empty = by language.")
    bootstrap_resamples = models.PositiveIntegerField(default=1000)
    precision = precision_field()
    dtype_used = dtype_used_field()

    # Filled in when scored.
    n_items = models.PositiveIntegerField(null=True, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="name -> {value, ci_low, ci_high, scale}.")
    metrics_info = models.JSONField(default=dict, blank=True, help_text="Tokenizer, encoder, bootstrap settings.")
    scored_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"evaluation run #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("training:evaluation-detail", args=[self.pk])

    @property
    def status(self) -> str:
        return self.job.status if self.job_id else JobStatus.QUEUED

    @property
    def model_label(self) -> str:
        return str(self.training_run) if self.training_run_id else f"{self.base_model} (no adapter)"


class Prediction(models.Model):
    """One evaluation item: what was asked, the gold answers, what the model said, and its scores.

    Unique per (run, item_index): a resumed evaluation skips stored items instead of duplicating them.
    Judging sessions and the statistics pages join on these rows, so the fields are stable.
    """

    evaluation_run = models.ForeignKey(EvaluationRun, on_delete=models.CASCADE, related_name="predictions")
    item_index = models.PositiveIntegerField(help_text="Position in the evaluation split (0-based, stable).")
    item_key = models.CharField(max_length=100, blank=True, help_text="e.g. 'reference:45'.")
    reference = models.ForeignKey(ReferenceQA, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    passage = models.ForeignKey(Passage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    context = models.TextField()
    question = models.TextField()
    gold_answers = models.JSONField(default=list)
    prediction = models.TextField(blank=True)
    raw_output = models.TextField(blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    context_truncated = models.BooleanField(default=False)

    # Per-item scores (null until the run is scored).
    exact_match = models.FloatField(null=True, blank=True, help_text="0 or 1, max over the gold answers.")
    f1 = models.FloatField(null=True, blank=True, help_text="Token F1 in [0, 1], max over the gold answers.")
    bleu_sentence = models.FloatField(null=True, blank=True, help_text="Sentence BLEU (0-100, effective order).")
    bleu_stats = models.JSONField(null=True, blank=True, help_text="sacrebleu sufficient statistics of the item.")
    bertscore_precision = models.FloatField(null=True, blank=True)
    bertscore_recall = models.FloatField(null=True, blank=True)
    bertscore_f1 = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["evaluation_run", "item_index"]
        constraints = [
            models.UniqueConstraint(fields=["evaluation_run", "item_index"], name="prediction_run_item"),
        ]

    def __str__(self) -> str:
        return f"#{self.item_index}: {self.prediction[:60]}"


class Experiment(models.Model):
    """The paper's grid as one object: context sources x shots x N, plus the human-data baseline.

    Launching creates one ExperimentCell per grid point. Cells get their jobs only when the orchestrator
    starts them (at most `max_concurrent` stage jobs in flight), so the concurrency limit needs no hold flag
    on jobs: a cell that has not started simply has no job yet.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Needs attention"
        CANCELLED = "cancelled", "Cancelled"

    name = models.CharField(max_length=200)
    preset = models.CharField(max_length=32, blank=True, help_text="Preset it was made from, if any.")
    language = models.CharField(max_length=8, default="en")
    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="experiments")
    train_split = models.CharField(max_length=16, choices=Split.choices, blank=True, default=Split.TRAIN)
    eval_split = models.CharField(max_length=16, choices=Split.choices, blank=True, default=Split.VALIDATION)
    generator = models.ForeignKey(
        ModelEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Role generator."
    )
    qa_base = models.ForeignKey(ModelEntry, on_delete=models.PROTECT, related_name="+", help_text="Role qa_base.")
    bertscore_model = models.ForeignKey(ModelEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    context_sources = models.JSONField(default=list, help_text="Context source names (grid axis 1).")
    shots = models.JSONField(default=list, help_text="e.g. [0, 1] (grid axis 2).")
    pairs_per_passage = models.JSONField(default=list, help_text="N, e.g. [1, 3] (grid axis 3).")
    include_human_baseline = models.BooleanField(default=True)
    include_base_model = models.BooleanField(default=False, help_text="Also evaluate the bare base model.")
    max_passages = models.PositiveIntegerField(null=True, blank=True, help_text="Training passages used; empty = all.")
    generation_settings = models.JSONField(default=dict, blank=True)
    round_trip_reader = models.ForeignKey(
        ModelEntry,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="A registered model that reads the round trip of every generation run (blank = the generator).",
    )
    reader_from_baseline = models.BooleanField(
        default=False,
        db_default=False,
        help_text="The human baseline's adapter reads the round trip: it is trained first, the synthetic cells wait.",
    )
    training_settings = models.JSONField(default=dict, blank=True, help_text="TrainingRun field overrides.")
    evaluation_settings = models.JSONField(default=dict, blank=True, help_text="EvaluationRun field overrides.")
    max_concurrent = models.PositiveIntegerField(default=1, help_text="Stage jobs in flight at once.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("training:experiment-detail", args=[self.pk])


class ExperimentCell(models.Model):
    """One grid point: its generation job (synthetic cells), dataset, training run and evaluation run."""

    class Kind(models.TextChoices):
        SYNTHETIC = "synthetic", "synthetic pairs"
        HUMAN = "human", "human reference pairs"
        BASE = "base", "base model, no training"

    class Stage(models.TextChoices):
        PENDING = "pending", "Waiting for a slot"
        GENERATING = "generating", "Generating"
        TRAINING = "training", "Training"
        EVALUATING = "evaluating", "Evaluating"
        DONE = "done", "Done"

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="cells")
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    context_source = models.CharField(max_length=64, blank=True)
    shots = models.PositiveSmallIntegerField(null=True, blank=True)
    pairs_per_passage = models.PositiveSmallIntegerField(null=True, blank=True)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.PENDING)
    current_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    generation_job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dataset = models.ForeignKey(QADataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    training_run = models.ForeignKey(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    evaluation_run = models.ForeignKey(
        EvaluationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="experiment_cells"
    )
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["experiment", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "position"], name="experimentcell_position"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        if self.kind == self.Kind.SYNTHETIC:
            return f"{self.context_source}, {self.shots}-shot, N={self.pairs_per_passage}"
        return self.get_kind_display()
