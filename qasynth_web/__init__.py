"""qasynth: synthetic QA data, LoRA training and blind human judging, as one Django + Celery app."""

from .celery import app as celery_app

__all__ = ("celery_app",)
