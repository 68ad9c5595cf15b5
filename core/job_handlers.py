"""Job kinds owned by core: a countdown (to try the job system from the admin) and model conversion."""

from __future__ import annotations

import time

from core.models import ModelEntry
from core.services import model_registry
from core.services.jobs import JobContext, JobError, job_handler


@job_handler("countdown", description="Counts N steps, sleeping between them; to try the worker from the admin.")
def countdown(ctx: JobContext) -> dict:
    steps = int(ctx.params.get("steps", 5))
    seconds = float(ctx.params.get("step_seconds", 1.0))
    fail_at = ctx.params.get("fail_at_step")
    done = int(ctx.job.progress_done or 0)  # resume where a killed worker stopped
    ctx.progress(done, steps, f"step {done} of {steps}")
    for step in range(done + 1, steps + 1):
        ctx.check_cancelled()
        time.sleep(seconds)
        if fail_at is not None and step == int(fail_at):
            raise JobError(f"countdown was told to fail at step {step}")
        ctx.progress(step, steps, f"step {step} of {steps}")
    return {"steps": steps}


@job_handler("convert_model", queue="gpu", description="Converts a registered GGUF model to a HF directory once.")
def convert_model(ctx: JobContext) -> dict:
    entry = ModelEntry.objects.filter(pk=ctx.params.get("model_id")).first()
    if entry is None:
        raise JobError(f"Model #{ctx.params.get('model_id')} is not in the registry.")
    ctx.progress(0, 1, f"converting {entry.name}")
    try:
        out = model_registry.convert_entry(entry, progress=lambda message: ctx.progress(message=message))
    except model_registry.ModelUnavailable as exc:
        raise JobError(str(exc)) from exc
    ctx.progress(1, 1, f"{entry.name} ready at {out}")
    return {"directory": str(out)}
