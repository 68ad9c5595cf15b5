"""Job kinds of the training app: "training" and "evaluation" (GPU queue) and "experiment.advance".

Thin: each loads its row and calls the service; the services own the work and the bookkeeping.
"""

from __future__ import annotations

from core.services.jobs import JobContext, JobError, job_handler
from training.models import EvaluationRun, Experiment, TrainingRun
from training.services import evaluation_runs, experiments, training_runs


@job_handler("training", queue="gpu", description="LoRA fine-tuning of a base model on a frozen QA dataset.")
def run_training(ctx: JobContext) -> dict:
    run = TrainingRun.objects.select_related("base_model", "dataset").filter(job=ctx.job).first()
    if run is None:
        raise JobError(f"Job #{ctx.job.pk} has no training run.")
    return training_runs.execute(run, ctx)


@job_handler("evaluation", queue="gpu", description="Answers a split's reference questions and scores them.")
def run_evaluation(ctx: JobContext) -> dict:
    run = (
        EvaluationRun.objects.select_related("training_run", "base_model", "corpus", "bertscore_model")
        .filter(job=ctx.job)
        .first()
    )
    if run is None:
        raise JobError(f"Job #{ctx.job.pk} has no evaluation run.")
    return evaluation_runs.execute(run, ctx)


@job_handler("experiment.advance", description="Starts the experiment's next jobs once a stage has finished.")
def advance_experiment(ctx: JobContext) -> dict:
    experiment = Experiment.objects.filter(pk=ctx.params.get("experiment_id")).first()
    if experiment is None:
        raise JobError(f"Experiment #{ctx.params.get('experiment_id')} no longer exists.")
    return experiments.advance(experiment).as_dict()
