"""What the analysis app stores: computed statistics of judging sessions, and which evaluation-run
predictions a session item's answers came from.

Stored statistics: the last computed summary of a session and what it was computed from.

The row lives in the database (not a per-process cache) because a large session is computed by a worker
process and read by the web processes. It is keyed by session and computation settings; ``fingerprint``
names the judgments it was computed from, so a new or edited judgment makes it stale. The stale result is
kept and shown (marked as such) while a job computes the new one.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from analysis.engine.templates import DEFAULT_TEMPLATES, JudgeTemplate
from core.model_fields import dtype_used_field, precision_field


class SessionStatistics(models.Model):
    session = models.ForeignKey("annotation.JudgingSession", on_delete=models.CASCADE, related_name="statistics")
    variant = models.CharField(max_length=100, help_text="Computation settings, e.g. 'boot=10000;seed=0;conf=0.95'.")
    fingerprint = models.CharField(
        max_length=200, blank=True, help_text="Judgment count, latest update and item count the result was made from."
    )
    result = models.JSONField(null=True, blank=True, help_text="The summary (None until first computed).")
    plots = models.JSONField(default=dict, blank=True, help_text="Server-rendered SVG plots, by name.")
    n_judgments = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(null=True, blank=True, help_text="How long the computation took.")
    computed_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey(
        "core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The latest background computation (large sessions).",
    )  # fmt: skip

    class Meta:
        # The table kept the name it had when statistics lived in the annotation app (no data moved).
        db_table = "annotation_sessionstatistics"
        verbose_name_plural = "session statistics"
        constraints = [models.UniqueConstraint(fields=["session", "variant"], name="sessionstatistics_variant")]

    def __str__(self) -> str:
        return f"statistics of session {self.session_id} ({self.variant})"


class ItemPrediction(models.Model):
    """Links a session item's answer to the evaluation-run Prediction it was copied from.

    The link lives here, not on ``annotation.SessionItem``, because judging must not know about training:
    annotation stores the answer text (all a judge needs), and analysis, which stands above both apps,
    records where it came from so statistics can set human judgments beside the automatic metrics.
    ``side`` is the session's system key ("a" or "b"): a row per item and system.
    """

    item = models.ForeignKey("annotation.SessionItem", on_delete=models.CASCADE, related_name="prediction_links")
    side = models.CharField(max_length=8, help_text='The system the answer belongs to ("a" or "b").')
    prediction = models.ForeignKey("training.Prediction", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["item", "side"], name="itemprediction_item_side")]
        indexes = [models.Index(fields=["prediction"])]

    def __str__(self) -> str:
        return f"item {self.item_id} side {self.side}: prediction {self.prediction_id}"


class JudgePolicy(models.Model):
    """Per session: whether judges below the control threshold are left out of every statistic (default:
    shown and flagged, not excluded) and the hourly rate the judges' pay report estimates with."""

    session = models.OneToOneField("annotation.JudgingSession", on_delete=models.CASCADE, related_name="judge_policy")
    exclude_below_threshold = models.BooleanField(
        default=False, help_text="Leave judges whose control accuracy is below the session's threshold out."
    )
    hourly_rate = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    currency = models.CharField(max_length=8, default="GBP")

    class Meta:
        verbose_name_plural = "judge policies"

    def __str__(self) -> str:
        return f"judge policy of session {self.session_id}"


class JudgingTemplate(models.Model):
    """An editable LLM judging prompt (staff, in the admin); ``as_engine()`` gives the engine template.

    The shipped English and Japanese defaults live in code (``analysis.engine.templates``) and are offered
    beside these; a run copies whichever it uses (``LLMJudgeRun.template_snapshot``), so editing a template
    never changes a run already created."""

    name = models.CharField(max_length=100, unique=True)
    language = models.CharField(max_length=8, default="en", help_text="'en' or 'ja' (which sessions it suits).")
    instruction = models.TextField(
        help_text="The user message. Must contain {question}, {answer_1}, {answer_2} and {labels}; "
        "{passage}, {gold} and {label_keys} are optional. Ask for the JSON verdict object."
    )
    system = models.TextField(blank=True, help_text="Optional system message.")
    gold_line = models.CharField(
        max_length=200, default="Reference answer: {gold_answers}", help_text="Replaces {gold} when gold exists."
    )
    plain_cue = models.CharField(max_length=50, default="JSON:", help_text="Ends a plain (non-chat) prompt.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "name"]

    def __str__(self) -> str:
        return self.name

    def as_engine(self) -> JudgeTemplate:
        return JudgeTemplate(
            name=self.name,
            language=self.language,
            instruction=self.instruction,
            system=self.system,
            gold_line=self.gold_line,
            plain_cue=self.plain_cue,
        )

    def clean(self) -> None:
        if self.name in DEFAULT_TEMPLATES:
            raise ValidationError({"name": f"{self.name!r} is the name of a shipped default; choose another."})
        problems = self.as_engine().errors()
        if problems:
            message = "; ".join(problems)
            raise ValidationError(message[0].upper() + message[1:] + ".")


def first_pair() -> list[list[int]]:
    """The pair a two-system session has (systems 0 and 1); the default of ``LLMJudgeRun.system_pairs``."""
    return [[0, 1]]


class LLMJudgeRun(models.Model):
    """An LLM judging a session's items with the same labels and preference a person gives.

    Everything that decides a verdict is stored with the run (template text, labels, sampling settings,
    response prefix), so a run can be read and reproduced after the session or the defaults change.
    Its verdicts live in ``LLMVote``/``LLMVerdict``, never in ``annotation.Judgment``: no LLM user
    exists, so no human figure, export, k or judge page can pick one up.
    """

    job = models.OneToOneField("core.Job", on_delete=models.CASCADE, related_name="llm_judge_run")
    session = models.ForeignKey("annotation.JudgingSession", on_delete=models.PROTECT, related_name="llm_judge_runs")
    judge_model = models.ForeignKey("core.ModelEntry", on_delete=models.PROTECT, related_name="llm_judge_runs")
    template_snapshot = models.JSONField(help_text="The judging template (engine JudgeTemplate.to_dict()).")
    labels_snapshot = models.JSONField(help_text="The session's label set when the run was created.")
    max_item_id = models.BigIntegerField(help_text="Frozen selection: non-control items with id <= this.")
    items_total = models.PositiveIntegerField()
    system_pairs = models.JSONField(
        default=first_pair,
        help_text="Pairs of system positions [a, b] (a < b) judged on every item: [[0, 1]] for two systems; "
        "every pair (or only the first) for more.",
    )
    votes = models.PositiveSmallIntegerField(default=1, help_text="Outputs per (item, order); majority decides.")
    prompt_mode = models.CharField(max_length=8, default="chat", help_text="'chat' or 'plain'.")
    verdict_mode = models.CharField(
        max_length=8,
        default="generate",
        help_text="'generate': free text, parsed; 'choice': most likely option per field (local models).",
    )
    response_prefix = models.CharField(
        max_length=100, blank=True, help_text="Prefilled start of the reply (local text prompts)."
    )
    temperature = models.FloatField(default=0.0, help_text="0 = greedy (then one vote only).")
    top_p = models.FloatField(default=1.0)
    max_new_tokens = models.PositiveIntegerField(default=64)
    seed = models.IntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=16, help_text="Prompts per batch (local) / per write.")
    concurrency = models.PositiveIntegerField(default=4, help_text="Concurrent requests (endpoint models).")
    precision = precision_field(default="fast")
    dtype_used = dtype_used_field()
    summary = models.JSONField(default=dict, blank=True, help_text="run_summary() after the last chunk.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"LLM judge run {self.pk} of session {self.session_id} by {self.judge_model}"

    def selection(self):  # noqa: ANN201 - a SessionItem queryset
        return self.session.items.filter(is_control=False, pk__lte=self.max_item_id).order_by("pk")

    @property
    def pairs(self) -> list[tuple[int, int]]:
        return [(int(a), int(b)) for a, b in self.system_pairs]


class VoteOrder(models.TextChoices):
    AB = "ab", "A shown first"
    BA = "ba", "B shown first"


class LLMVote(models.Model):
    """One model output for one (item, order, vote): the unit a killed worker resumes from."""

    run = models.ForeignKey(LLMJudgeRun, on_delete=models.CASCADE, related_name="vote_rows")
    item = models.ForeignKey("annotation.SessionItem", on_delete=models.CASCADE, related_name="+")
    system_a = models.PositiveSmallIntegerField(default=0, help_text="Position of the pair's first system (A).")
    system_b = models.PositiveSmallIntegerField(default=1, help_text="Position of the pair's second system (B).")
    order = models.CharField(max_length=2, choices=VoteOrder.choices)
    vote = models.PositiveSmallIntegerField()
    raw = models.TextField(blank=True, help_text="The whole output (with the response prefix), always kept.")
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    label_1 = models.CharField(max_length=32, blank=True, help_text="Label of the answer shown first.")
    label_2 = models.CharField(max_length=32, blank=True, help_text="Label of the answer shown second.")
    preference = models.CharField(max_length=4, blank=True, help_text="'1', '2', 'tie' (positions) or blank.")
    parse_method = models.CharField(max_length=32, blank=True)
    parse_problems = models.JSONField(default=list, blank=True)
    complete = models.BooleanField(default=False, help_text="All three fields parsed (else unparseable).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "item", "system_a", "system_b", "order", "vote"], name="llmvote_pair_once"
            ),
        ]

    def __str__(self) -> str:
        pair = f"systems {self.system_a}-{self.system_b}"
        return f"run {self.run_id} item {self.item_id} {pair} {self.order} vote {self.vote}"


class LLMVerdict(models.Model):
    """The final verdict of one item and pair of systems in one run (system terms: label_a is about the answer of
    system_a), rebuilt from its votes after the last chunk."""

    run = models.ForeignKey(LLMJudgeRun, on_delete=models.CASCADE, related_name="verdicts")
    item = models.ForeignKey("annotation.SessionItem", on_delete=models.CASCADE, related_name="+")
    system_a = models.PositiveSmallIntegerField(default=0)
    system_b = models.PositiveSmallIntegerField(default=1)
    label_a = models.CharField(max_length=32, blank=True, help_text="Blank: no label (inconsistent/incomplete).")
    label_b = models.CharField(max_length=32, blank=True)
    preference = models.CharField(max_length=4, blank=True, help_text="'a', 'b', 'tie'; blank = incomplete.")
    status = models.CharField(max_length=16, help_text="consistent, inconsistent (a tie) or incomplete.")
    labels_consistent = models.JSONField(default=list)
    confidence = models.FloatField(null=True, blank=True)
    order_preferences = models.JSONField(default=list, help_text="[A-first, B-first] preferences in system terms.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["run", "item", "system_a", "system_b"], name="llmverdict_pair_once")
        ]

    def __str__(self) -> str:
        return f"run {self.run_id} item {self.item_id} systems {self.system_a}-{self.system_b}: {self.status}"

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.item_id, self.system_a, self.system_b)
