"""Job kinds of the analysis app: statistics and rankings of large sessions, and LLM judging runs (gpu queue)."""

from __future__ import annotations

from analysis.models import LLMJudgeRun
from analysis.services import llm_judging, ranking, statistics
from core.services.jobs import JobContext, JobError, job_handler


@job_handler(statistics.JOB_KIND, queue="default", description="Statistics of a large judging session.")
def compute_session_statistics(ctx: JobContext) -> dict:
    return statistics.run_job(ctx)


@job_handler(ranking.JOB_KIND, queue="default", description="Ranking of a K-system judging session with many systems.")
def compute_session_ranking(ctx: JobContext) -> dict:
    return ranking.run_job(ctx)


@job_handler(llm_judging.JOB_KIND, queue="gpu", description="An LLM judges session items in both orders.")
def run_llm_judge(ctx: JobContext) -> dict:
    run = LLMJudgeRun.objects.filter(job=ctx.job).first()
    if run is None:
        raise JobError(f"No LLM judging run belongs to job #{ctx.job.pk}.")
    return llm_judging.execute_run(run, ctx)
