from __future__ import annotations

from django.apps import AppConfig


class AnalysisConfig(AppConfig):
    """Statistics, plots, exports and the read-only API: what analysts do with judgments and metrics."""

    name = "analysis"
    verbose_name = "Analysis"
