"""Corpora, passages, human reference QA pairs and frozen QA datasets.

These are the rows every later stage reads: generation writes synthetic pairs from passages, training
reads a frozen QADataset, evaluation reads a corpus split's reference pairs.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.urls import reverse

from core.model_fields import dtype_used_field, precision_field
from generation.parsing import RenderStyle
from generation.prompts import PromptTemplate as EnginePromptTemplate
from generation.validation import RejectionReason


class Split(models.TextChoices):
    TRAIN = "train", "train"
    VALIDATION = "validation", "validation"
    TEST = "test", "test"
    NONE = "", "unsplit"


def content_hash(text: str) -> str:
    """Hash of whitespace-normalised text: re-importing the same passage finds the existing row."""
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


class Corpus(models.Model):
    name = models.CharField(max_length=200, unique=True)
    language = models.CharField(max_length=8, default="en", help_text="ISO code: 'en', 'ja', ...")
    source = models.CharField(max_length=100, blank=True, help_text="e.g. 'wikipedia', 'news', 'jsquad'.")
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "corpora"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


# Rows written by an import stay invisible until the whole file has been read and written: an import
# writes its passages in short chunks (progress shows, judges are not locked out on SQLite) and then
# flips one Import row to "complete". Rows without an import (demo corpus, older data) are visible.
VISIBLE_PASSAGE = Q(import_batch__isnull=True) | Q(import_batch__status="complete")
VISIBLE_REFERENCE = Q(import_batch__isnull=True) | Q(import_batch__status="complete")


class VisiblePassageManager(models.Manager):
    """The default manager: only passages of finished imports (a half-imported file is never seen)."""

    def get_queryset(self):
        return super().get_queryset().filter(VISIBLE_PASSAGE)


class VisibleReferenceManager(models.Manager):
    def get_queryset(self):
        return super().get_queryset().filter(VISIBLE_REFERENCE)


class Import(models.Model):
    """One file imported into a corpus: the staging area its passages belong to until it completes.

    ``status`` is not a copy of the job's: it says whether the staged passages are part of the corpus
    (every corpus query shows only passages of complete imports), which must flip in the same transaction
    that finishes the import, and must stay "failed" when the job row is deleted or retried. The Job row
    says how the work went (attempts, log, progress); this says what the data is.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "waiting"
        RUNNING = "running", "importing"
        COMPLETE = "complete", "complete"
        FAILED = "failed", "failed"

    corpus = models.ForeignKey(
        Corpus, null=True, blank=True, on_delete=models.SET_NULL, related_name="imports",
        help_text="Null only when the import created its corpus and failed: the corpus was removed again.",
    )  # fmt: skip
    corpus_name = models.CharField(
        max_length=200, blank=True, help_text="The corpus's name at upload, shown after a removed corpus."
    )
    created_corpus = models.BooleanField(
        default=False, help_text="The upload created the corpus: a malformed file removes it again."
    )
    job = models.OneToOneField(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="corpus_import"
    )
    file_name = models.CharField(max_length=300, help_text="Name of the file as uploaded or given.")
    file_path = models.CharField(max_length=1000, blank=True, help_text="Where the file is read from.")
    file_size = models.BigIntegerField(default=0)
    file_sha256 = models.CharField(max_length=64, blank=True)
    format = models.CharField(max_length=16)
    options = models.JSONField(default=dict, blank=True, help_text="Columns, split settings, reader options.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempt = models.PositiveIntegerField(default=0, help_text="Bumped on each (re)start; older writers stop.")
    error = models.TextField(blank=True)
    bytes_read = models.BigIntegerField(default=0)
    passages_read = models.PositiveIntegerField(default=0)
    passages_created = models.PositiveIntegerField(default=0)
    passages_existing = models.PositiveIntegerField(default=0, help_text="Already in the corpus (same text).")
    pairs_created = models.PositiveIntegerField(default=0)
    pairs_existing = models.PositiveIntegerField(default=0)
    skipped_unanswerable = models.PositiveIntegerField(default=0)
    title_kept = models.PositiveIntegerField(
        default=0, help_text="JSQuAD: passages that keep their 'title [SEP]' prefix (a gold answer is only there)."
    )
    title_only_questions = models.PositiveIntegerField(
        default=0, help_text="JSQuAD: questions with a gold answer that occurs only in the title."
    )
    split_counts = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.file_name} -> {self.corpus or self.corpus_name} ({self.status})"

    def get_absolute_url(self) -> str:
        return reverse("generation:import-detail", args=[self.pk])

    @property
    def fraction_read(self) -> float | None:
        return min(1.0, self.bytes_read / self.file_size) if self.file_size else None


class Passage(models.Model):
    corpus = models.ForeignKey(Corpus, on_delete=models.CASCADE, related_name="passages")
    text = models.TextField()
    title = models.CharField(max_length=500, blank=True)
    external_id = models.CharField(max_length=200, blank=True)
    split = models.CharField(max_length=16, choices=Split.choices, blank=True, default="")
    content_hash = models.CharField(max_length=64, db_index=True)
    import_batch = models.ForeignKey(
        Import, null=True, blank=True, on_delete=models.CASCADE, related_name="passages",
        help_text="The import that wrote this passage; hidden until that import is complete.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    all_objects = models.Manager()  # staged rows too: imports and clean-up use it
    objects = VisiblePassageManager()

    class Meta:
        ordering = ["id"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        indexes = [models.Index(fields=["corpus", "split"]), models.Index(fields=["corpus", "content_hash"])]

    def __str__(self) -> str:
        return (self.title or self.text[:60]) + ("" if self.title else "…")

    def save(self, *args, **kwargs):
        if not self.content_hash:
            self.content_hash = content_hash(self.text)
        super().save(*args, **kwargs)


class ReferenceQA(models.Model):
    """A human-written question with its answers (SQuAD-style: several accepted answers)."""

    passage = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="reference_pairs")
    question = models.TextField()
    answers = models.JSONField(default=list, help_text="List of accepted answer strings; the first is primary.")
    answer_starts = models.JSONField(
        default=list, blank=True,
        help_text="Per answer, its character offset in the passage text (SQuAD answer_start); null: not a span.",
    )  # fmt: skip
    external_id = models.CharField(max_length=200, blank=True)
    import_batch = models.ForeignKey(
        Import, null=True, blank=True, on_delete=models.CASCADE, related_name="reference_pairs"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    all_objects = models.Manager()  # staged rows too: imports and clean-up use it
    objects = VisibleReferenceManager()

    class Meta:
        ordering = ["id"]
        base_manager_name = "all_objects"
        default_manager_name = "objects"
        verbose_name = "reference QA pair"

    def __str__(self) -> str:
        return self.question[:80]

    def save(self, *args, **kwargs):
        # Rows written without offsets (admin, demo data, code) get each answer's first occurrence.
        if len(self.answer_starts or []) != len(self.answers or []):
            self.answer_starts = first_occurrences(self.passage.text, self.answers or [])
        super().save(*args, **kwargs)

    @property
    def answer(self) -> str:
        return self.answers[0] if self.answers else ""


def first_occurrences(text: str, answers: list[str]) -> list[int | None]:
    """Each answer's first character offset in `text`, None where it is not a span of it."""
    return [(start if (start := text.find(str(a))) >= 0 else None) for a in answers]


class QADataset(models.Model):
    """A frozen, versioned selection of QA examples that training reads. Never edited after freezing.

    A dataset is written in chunks with frozen=False and frozen at the end; readers use frozen ones only."""

    class Source(models.TextChoices):
        SYNTHETIC = "synthetic", "synthetic (generated)"
        HUMAN = "human", "human reference pairs"

    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    language = models.CharField(max_length=8, default="en")
    source = models.CharField(max_length=16, choices=Source.choices)
    description = models.TextField(blank=True)
    provenance = models.JSONField(default=dict, blank=True, help_text="Runs, corpus, split and filters used.")
    frozen = models.BooleanField(default=False)
    runs = models.ManyToManyField(
        "GenerationRun", blank=True, related_name="datasets", help_text="Synthetic datasets: the runs used."
    )
    corpus = models.ForeignKey(
        Corpus, null=True, blank=True, on_delete=models.SET_NULL, related_name="datasets",
        help_text="Human datasets: the corpus whose reference pairs were used.",
    )  # fmt: skip
    split = models.CharField(max_length=16, choices=Split.choices, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="qadataset_name_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def get_absolute_url(self) -> str:
        return reverse("generation:dataset-detail", args=[self.pk])


class QAExample(models.Model):
    """One (context, question, answer) training example, copied into the dataset so it stays frozen."""

    dataset = models.ForeignKey(QADataset, on_delete=models.CASCADE, related_name="examples")
    passage = models.ForeignKey(Passage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    context = models.TextField()
    question = models.TextField()
    answer = models.TextField()
    answer_start = models.IntegerField(
        null=True, blank=True,
        help_text="The answer's character offset in the context (a reference pair's stored answer_start, so a text "
        "that occurs twice keeps the span the annotator marked); null: the answer is not a span of the context.",
    )  # fmt: skip
    source_ref = models.CharField(max_length=100, blank=True, help_text="e.g. 'synthetic:123' or 'reference:45'.")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.question[:80]


# --------------------------------------------------------------------------------------------- prompts


class PromptTemplate(models.Model):
    """An editable prompt for QA generation; `as_engine()` gives the pure template the renderer uses.

    Runs copy the template when they are created (GenerationRun.template_snapshot), so editing a template
    never changes what a resumed run sends to the model."""

    STYLE_CHOICES = [(style.value, style.value) for style in RenderStyle]

    name = models.CharField(max_length=100, unique=True)
    language = models.CharField(max_length=8, default="en")
    shots = models.PositiveSmallIntegerField(default=0, choices=[(0, "zero-shot"), (1, "one-shot")])
    pairs_per_passage = models.PositiveSmallIntegerField(default=3, help_text="Pairs asked for per passage ({n}).")
    instruction = models.TextField(
        help_text="The chat user message. Must contain {passage}; {n} and {title} are optional."
    )
    system = models.TextField(blank=True, help_text="Optional system message (chat models).")
    example_passage = models.TextField(blank=True, help_text="One-shot only: the example passage.")
    example_pairs = models.JSONField(
        default=list, blank=True, help_text='One-shot only: [["question", "answer"], ...].'
    )
    plain_header = models.TextField(blank=True, help_text="First line(s) of the completion prompt for base models.")
    passage_label = models.CharField(max_length=50, default="Passage:")
    style = models.CharField(max_length=20, choices=STYLE_CHOICES, default=RenderStyle.QA.value)
    is_default = models.BooleanField(default=False, help_text="Shipped default for its language and shots.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "shots", "name"]

    def __str__(self) -> str:
        return self.name

    def as_engine(self, pairs_per_passage: int | None = None) -> EnginePromptTemplate:
        return EnginePromptTemplate(
            name=self.name,
            language=self.language,
            shots=int(self.shots),
            pairs_per_passage=int(pairs_per_passage or self.pairs_per_passage),
            instruction=self.instruction,
            example_passage=self.example_passage,
            example_pairs=tuple((str(q), str(a)) for q, a in (self.example_pairs or [])),
            system=self.system,
            plain_header=self.plain_header,
            passage_label=self.passage_label,
            style=RenderStyle(self.style),
        )

    def clean(self) -> None:
        pairs = self.example_pairs or []
        if not isinstance(pairs, list) or not all(
            isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs
        ):
            raise ValidationError({"example_pairs": 'Write the example pairs as [["question", "answer"], ...].'})
        problems = self.as_engine().errors()
        if problems:
            message = "; ".join(problems)
            raise ValidationError(message[0].upper() + message[1:] + ".")


# ------------------------------------------------------------------------------------------ generation


class GenerationRun(models.Model):
    """One pass of a generator model over a selection of passages; its Job says how far it got.

    The selection is frozen at creation as "passages of the corpus (and split / id list) with
    id <= max_passage_id", so passages imported later never join a run that is resumed."""

    job = models.OneToOneField("core.Job", on_delete=models.CASCADE, related_name="generation_run")
    name = models.CharField(max_length=200, blank=True)
    corpus = models.ForeignKey(Corpus, on_delete=models.PROTECT, related_name="generation_runs")
    split = models.CharField(max_length=16, choices=Split.choices, blank=True, default="", help_text="Blank: all.")
    passage_ids = models.JSONField(default=list, blank=True, help_text="Optional explicit selection of passages.")
    limit = models.PositiveIntegerField(null=True, blank=True, help_text="At most this many passages (by id).")
    max_passage_id = models.BigIntegerField(default=0)
    passages_total = models.PositiveIntegerField(default=0)
    generator = models.ForeignKey("core.ModelEntry", on_delete=models.PROTECT, related_name="generation_runs")
    round_trip_reader = models.ForeignKey(
        "core.ModelEntry",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="round_trip_runs",
        help_text="The local model that answers the round-trip check; blank = the generator itself.",
    )
    template = models.ForeignKey(PromptTemplate, null=True, on_delete=models.SET_NULL, related_name="runs")
    template_snapshot = models.JSONField(default=dict, help_text="The template as it was when the run was created.")
    pairs_per_passage = models.PositiveSmallIntegerField(default=3)
    prompt_mode = models.CharField(
        max_length=8, default="auto", choices=[("auto", "auto"), ("chat", "chat"), ("plain", "plain (base model)")]
    )
    temperature = models.FloatField(default=0.0, help_text="0 = greedy.")
    top_p = models.FloatField(default=1.0)
    max_new_tokens = models.PositiveIntegerField(default=256)
    repetition_penalty = models.FloatField(default=1.0)
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=8, help_text="Prompts per batch (local) / per write.")
    concurrency = models.PositiveIntegerField(default=4, help_text="Concurrent requests (endpoint models).")
    precision = precision_field()
    dtype_used = dtype_used_field()
    validation = models.JSONField(default=dict, blank=True, help_text="ValidationConfig overrides.")
    synthesis = models.JSONField(
        default=dict, blank=True,
        help_text="Options beyond the paper's method (generation.synthesis.SynthesisOptions); empty = the paper's.",
    )  # fmt: skip
    exemplar_pool = models.JSONField(
        default=list, blank=True,
        help_text="Exemplar rotation: the pool frozen at creation (template example + train-split human pairs).",
    )  # fmt: skip
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name or f"Generation run #{self.pk}"

    def get_absolute_url(self) -> str:
        return reverse("generation:run-detail", args=[self.pk])

    def selection(self):
        """The run's passages, in the order they are generated."""
        qs = Passage.objects.filter(corpus_id=self.corpus_id, pk__lte=self.max_passage_id)
        if self.split:
            qs = qs.filter(split=self.split)
        if self.passage_ids:
            qs = qs.filter(pk__in=self.passage_ids)
        return qs.order_by("pk")


class RawOutput(models.Model):
    """Exactly what the model was asked and what it wrote for one passage of one run (kept for audit)."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="raw_outputs")
    passage = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="raw_outputs")
    prompt = models.TextField(help_text="The rendered prompt (chat template applied) or the messages as JSON.")
    response_prefix = models.CharField(max_length=100, blank=True)
    text = models.TextField(blank=True)
    finish_reason = models.CharField(max_length=16, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    parse_format = models.CharField(max_length=16, blank=True)
    parse_note = models.CharField(max_length=300, blank=True)
    exemplar = models.JSONField(
        default=dict, blank=True, help_text="The one-shot example shown: {source, passage, pairs}; empty for zero-shot."
    )
    samples = models.JSONField(
        default=list, blank=True,
        help_text="Every completion when there was more than one (k samples, or one per answer when answer-aware).",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["run", "passage"], name="rawoutput_run_passage")]

    def __str__(self) -> str:
        return f"run {self.run_id} passage {self.passage_id}"


class PairStatus(models.TextChoices):
    ACCEPTED = "accepted", "accepted"
    REJECTED = "rejected", "rejected by validation"
    MANUALLY_REJECTED = "manually_rejected", "rejected by hand"


MANUAL_REASON = "manual"


class SyntheticPair(models.Model):
    """A pair parsed from a raw output, with the validation verdict (or a staff member's)."""

    run = models.ForeignKey(GenerationRun, on_delete=models.CASCADE, related_name="pairs")
    raw_output = models.ForeignKey(RawOutput, on_delete=models.CASCADE, related_name="pairs")
    passage = models.ForeignKey(Passage, on_delete=models.CASCADE, related_name="synthetic_pairs")
    index = models.PositiveSmallIntegerField(help_text="Position of the pair in the model output.")
    question = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=PairStatus.choices, db_index=True)
    rejection_reason = models.CharField(
        max_length=32, blank=True, db_index=True, help_text="Main reason (validation rule, or 'manual')."
    )
    reasons = models.JSONField(default=list, blank=True, help_text="Every validation rule the pair failed.")
    sample = models.PositiveSmallIntegerField(default=0, help_text="Which completion of the output it came from.")
    round_trip_answer = models.TextField(blank=True, help_text="Round-trip check: the QA model's answer.")
    round_trip_score = models.FloatField(null=True, blank=True, help_text="max(EM, token F1) with the pair's answer.")
    round_trip_supported = models.BooleanField(null=True, blank=True)
    edited = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["raw_output", "index"], name="syntheticpair_output_index")]
        indexes = [models.Index(fields=["run", "status"])]
        verbose_name = "synthetic QA pair"

    def __str__(self) -> str:
        return self.question[:80]

    @property
    def reason_label(self) -> str:
        return reason_label(self.rejection_reason)


def reason_label(code: str) -> str:
    if code == MANUAL_REASON:
        return "rejected by hand"
    try:
        return RejectionReason(code).label
    except ValueError:
        return code


class SyntheticPairRevision(models.Model):
    """The state of a pair before a staff member changed it (a pair has none until someone edits it)."""

    pair = models.ForeignKey(SyntheticPair, on_delete=models.CASCADE, related_name="revisions")
    question = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=PairStatus.choices)
    rejection_reason = models.CharField(max_length=32, blank=True)
    note = models.TextField(blank=True, help_text="Why the change was made.")
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"revision of pair {self.pair_id} by {self.changed_by or 'unknown'}"
