"""Job kinds of the analysis app."""

from __future__ import annotations

from analysis.services import statistics
from core.services.jobs import JobContext, job_handler


@job_handler(statistics.JOB_KIND, queue="default", description="Statistics of a large judging session.")
def compute_session_statistics(ctx: JobContext) -> dict:
    return statistics.run_job(ctx)
