"""Stored statistics of a judging session: the last computed summary and what it was computed from.

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
        verbose_name_plural = "session statistics"
        constraints = [models.UniqueConstraint(fields=["session", "variant"], name="sessionstatistics_variant")]

    def __str__(self) -> str:
        return f"statistics of session {self.session_id} ({self.variant})"
