"""Job kinds of the generation app: corpus import (default queue) and QA generation (gpu queue).

Thin: they find the app's row for the job and call the service, turning bad input into JobError messages.
"""

from __future__ import annotations

from core.services.jobs import JobContext, JobError, job_handler
from generation.importers.errors import CorpusImportError, then
from generation.models import GenerationRun, Import
from generation.services import generation_runs, imports


def _megabytes(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


@job_handler("generation.import", description="Imports a corpus file (streamed, staged, visible when complete).")
def run_corpus_import(ctx: JobContext) -> dict:
    imp = Import.objects.select_related("corpus").filter(job=ctx.job).first()
    if imp is None:
        imp = Import.objects.select_related("corpus").filter(pk=ctx.params.get("import_id")).first()
    if imp is None:
        raise JobError(f"Import #{ctx.params.get('import_id')} no longer exists.")

    def progress(figures: dict) -> None:
        ctx.progress(
            figures["bytes_read"],
            figures["bytes_total"],
            f"{_megabytes(figures['bytes_read'])} of {_megabytes(figures['bytes_total'])} read; "
            f"{figures['passages_created']} new passages, {figures['passages_existing']} already present",
            passages_read=figures["passages_read"],
            passages_new=figures["passages_created"],
            passages_existing=figures["passages_existing"],
            pairs_new=figures["pairs_created"],
        )

    ctx.progress(0, imp.file_size, f"reading {imp.file_name}")
    try:
        imp = imports.run_import(imp, progress=progress, check_cancelled=ctx.check_cancelled)
    except CorpusImportError as exc:
        raise JobError(then(exc.user_message, "Nothing from this file was stored.")) from exc
    ctx.progress(imp.file_size, imp.file_size, f"complete: {imp.passages_created} new passages")
    return imports.import_summary(imp)


@job_handler("generation", queue="gpu", description="Generates N question-answer pairs per passage (resumable).")
def run_generation(ctx: JobContext) -> dict:
    run = GenerationRun.objects.filter(job=ctx.job).first()
    if run is None:
        raise JobError(f"No generation run belongs to job #{ctx.job.pk}.")
    return generation_runs.execute_run(run, ctx)
