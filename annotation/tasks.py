"""Periodic judging chores (Celery beat): thin wrappers around annotation.services."""

from __future__ import annotations

from celery import shared_task

from annotation.services import recruiting


@shared_task(acks_late=True, ignore_result=True)
def release_idle_judges() -> int:
    """Leased items of invited judges who went silent return to the pool."""
    return recruiting.release_idle()
