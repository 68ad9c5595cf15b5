"""Job kinds of the judging app."""

from __future__ import annotations

from annotation.services import demo
from core.services.jobs import JobContext, JobError, job_handler


@job_handler(demo.JOB_KIND, queue="gpu", description="Answers ~20 demo questions with two systems for judging.")
def prepare_demo_session(ctx: JobContext) -> dict:
    try:
        session = demo.build_demo_session(
            questions=demo.questions_from_params(ctx.params),
            job=ctx.job,
            user=ctx.job.created_by,
            progress=lambda done, total, message: ctx.progress(done, total, message),
            check_cancelled=ctx.check_cancelled,
        )
    except demo.DemoError as exc:
        raise JobError(str(exc)) from exc
    return {"session_id": session.pk, "items": session.items.count()}

