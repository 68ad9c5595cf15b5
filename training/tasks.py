"""Celery entry points of the training app. Thin: the experiment service does the work."""

from __future__ import annotations

from celery import shared_task

from training.services import experiments


@shared_task(name="training.tasks.advance_experiments", ignore_result=True)
def advance_experiments() -> list[dict]:
    """Periodic (beat): notices failed, retried and finished stage jobs and fills freed slots."""
    return [report.as_dict() for report in experiments.advance_all()]
