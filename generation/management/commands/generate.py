"""Start a QA-generation run on a corpus: queue it for the worker, or run it here with --now.

    manage.py generate --corpus jsquad --split train --model "Gemma-3-270M (generator)" --template ja-one-shot \
        --n 3 --limit 100 --batch-size 8 --now
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from core import threads
from core.models import ModelEntry, ModelRole
from core.services.jobs import run_job
from core.services.model_registry import ModelUnavailable, default_model, entry_named
from decoding.precision import PRECISIONS
from generation.models import Corpus, GenerationRun, PromptTemplate
from generation.services.generation_runs import RunSettings, RunSetupError, create_run
from generation.services.prompt_templates import default_template_for


class Command(BaseCommand):
    help = "Generate N question-answer pairs per passage with an instruct model (resumable job)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--corpus", required=True)
        parser.add_argument("--model", help="ModelEntry name (default: the default generator for the language).")
        parser.add_argument("--template", help="PromptTemplate name (default: the language's zero-shot one).")
        parser.add_argument("--shots", type=int, default=0, choices=[0, 1], help="Default template: 0- or 1-shot.")
        parser.add_argument(
            "--pairs-per-passage", "--n", type=int, default=3, dest="pairs_per_passage", help="Pairs per passage (N)."
        )
        parser.add_argument("--split", default="", choices=["", "train", "validation", "test"])
        parser.add_argument("--limit", type=int, default=None)
        parser.add_argument("--prompt-mode", default="auto", choices=["auto", "chat", "plain"])
        parser.add_argument("--temperature", type=float, default=0.0, help="0 = greedy.")
        parser.add_argument("--top-p", type=float, default=1.0)
        parser.add_argument("--max-new-tokens", type=int, default=256)
        parser.add_argument("--repetition-penalty", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--concurrency", type=int, default=4, help="Endpoint models: requests in flight.")
        parser.add_argument(
            "--precision", default="auto", choices=list(PRECISIONS), help="Local models' compute dtype (README)."
        )
        parser.add_argument("--rotate-exemplars", action="store_true", help="Deviation from the paper: see README.")
        parser.add_argument("--answer-aware", action="store_true", help="Deviation from the paper: see README.")
        parser.add_argument("--samples", type=int, default=1, help="k samples per passage (deviation when > 1).")
        parser.add_argument("--round-trip", action="store_true", help="Deviation from the paper: see README.")
        parser.add_argument("--round-trip-threshold", type=float, default=0.5)
        parser.add_argument(
            "--round-trip-reader",
            metavar="MODEL",
            help="ModelEntry name of the local model that answers the round trip (default: the generator), "
            "e.g. a training run's adapter registered with 'Use as round-trip reader'.",
        )
        parser.add_argument("--copy-guard", action="store_true", help="Deviation from the paper: see README.")
        parser.add_argument("--name", default="")
        parser.add_argument("--now", action="store_true", help="Run in this process instead of queueing it.")
        parser.add_argument(
            "--resume", type=int, metavar="RUN_ID", help="Resume run RUN_ID here (other flags ignored)."
        )

    def handle(self, *args, **opts) -> None:
        if opts["resume"]:
            run = GenerationRun.objects.filter(pk=opts["resume"]).select_related("job").first()
            if run is None:
                raise CommandError(f"No generation run #{opts['resume']}.")
            from core.services.jobs import retry_job

            retry_job(run.job)
            return self._run_here(run)
        corpus = Corpus.objects.filter(name=opts["corpus"]).first()
        if corpus is None:
            raise CommandError(f"No corpus named {opts['corpus']!r}; import one with import_passages.")
        if opts["model"]:
            generator = _model_named(opts["model"])
        else:
            generator = default_model(ModelRole.GENERATOR, corpus.language)
            if generator is None:
                raise CommandError("No generator model is registered; run `manage.py bootstrap` or add one.")
        if opts["template"]:
            template = PromptTemplate.objects.filter(name=opts["template"]).first()
            if template is None:
                names = ", ".join(PromptTemplate.objects.values_list("name", flat=True))
                raise CommandError(f"No prompt template named {opts['template']!r}. Available: {names or 'none'}.")
        else:
            template = default_template_for(corpus.language, opts["shots"])
        reader = _model_named(opts["round_trip_reader"]) if opts["round_trip_reader"] else None
        settings = RunSettings.from_params({name: opts[name] for name in RunSettings.field_names()})
        try:
            with transaction.atomic():
                run = create_run(
                    corpus, generator, template, settings=settings, split=opts["split"], limit=opts["limit"],
                    name=opts["name"], enqueue=not opts["now"], round_trip_reader=reader,
                )  # fmt: skip
        except RunSetupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"Generation run #{run.pk} (job #{run.job_id}): {run.passages_total} passages, {generator.name}, "
            f"template {template.name}."
        )
        if opts["now"]:
            self._run_here(run)
        else:
            self.stdout.write("Queued for the worker (queue 'gpu'); follow it on the run page.")

    def _run_here(self, run: GenerationRun) -> None:
        count = threads.apply_in_process()  # the worker's thread policy, counting this shell as one more process
        self.stdout.write(f"Running here with {count} torch thread(s) (QASYNTH_TORCH_THREADS overrides).")
        status = run_job(run.job_id)
        run.job.refresh_from_db()
        if status is None:
            raise CommandError(f"Job #{run.job_id} is not queued (status {run.job.status}); another worker has it.")
        self.stdout.write(f"Run #{run.pk}: {run.job.status}. {run.job.progress_message}")
        if run.job.error:
            raise CommandError(run.job.error)


def _model_named(name: str) -> ModelEntry:
    try:
        return entry_named(name)
    except ModelUnavailable as exc:
        raise CommandError(str(exc)) from None
