"""Celery entry points. Thin: the job service does the work and the bookkeeping."""

from __future__ import annotations

from celery import shared_task

from core.services import jobs


@shared_task(name="core.tasks.execute_job", acks_late=True, ignore_result=True)
def execute_job(job_id: int) -> str | None:
    return jobs.run_job(job_id)


@shared_task(name="core.tasks.sweep_jobs", ignore_result=True)
def sweep_jobs() -> dict:
    report = jobs.sweep()
    return report.__dict__
