"""What the analysis app stores: computed statistics of judging sessions, and which evaluation-run
predictions a session item's answers came from.

Stored statistics: the last computed summary of a session and what it was computed from.

The row lives in the database (not a per-process cache) because a large session is computed by a worker
process and read by the web processes. It is keyed by session and computation settings; ``fingerprint``
names the judgments it was computed from, so a new or edited judgment makes it stale. The stale result is
kept and shown (marked as such) while a job computes the new one.
"""

from __future__ import annotations

from django.db import models


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
