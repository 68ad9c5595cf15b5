"""Create an experiment from a preset and run it to the end in this process (no worker needed).

    python manage.py run_experiment --preset small-en [--max-concurrent 1] [--name NAME]
    python manage.py run_experiment --experiment 12       # continue an existing one
    python manage.py run_experiment --preset ja-gemma --corpus jsquad --max-passages 60 --eval-items 200
    python manage.py run_experiment --preset ja-gemma --round-trip-reader baseline
        # the human baseline is trained first and its adapter reads every generation run's round trip

Prints each stage as it finishes and, at the end, the paper-style table with bootstrap 95% intervals.
"""

from __future__ import annotations

import os
import time

from django.core.management.base import BaseCommand, CommandError

from core import threads
from core.services.model_registry import ModelUnavailable, entry_named
from decoding.precision import PRECISIONS
from generation.models import Corpus
from training.models import EvaluationRun, Experiment
from training.services import experiments, results


class Command(BaseCommand):
    help = "Run an experiment grid (generation -> training -> evaluation) in this process and print its table."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--preset", choices=sorted(experiments.PRESETS), help="Create a new experiment from this.")
        parser.add_argument("--experiment", type=int, help="Id of an existing experiment to launch or continue.")
        parser.add_argument("--name", default="")
        parser.add_argument("--max-concurrent", type=int, default=None)
        parser.add_argument("--corpus", default="", help="Corpus name (default: the preset's demo corpus).")
        parser.add_argument("--max-passages", type=int, default=None, help="Training passages to generate from.")
        parser.add_argument("--eval-items", type=int, default=None, help="Evaluation items per model.")
        parser.add_argument("--max-steps", type=int, default=None, help="LoRA steps per model.")
        parser.add_argument(
            "--eval-split", choices=["validation", "test"], default=None,
            help="default: validation, or test where the corpus has no validation pairs",
        )  # fmt: skip
        parser.add_argument(
            "--round-trip-reader",
            default="",
            metavar="baseline|MODEL",
            help="who reads the round trip (turns the filter on): 'baseline' for the human baseline's adapter, "
            "trained first, or a registered model's name",
        )
        parser.add_argument(
            "--precision", choices=list(PRECISIONS), default=None, help="Generation and evaluation (README)."
        )
        parser.add_argument("--timeout", type=float, default=6 * 3600, help="Give up after this many seconds.")

    def handle(self, *args, **options) -> None:
        if bool(options["preset"]) == bool(options["experiment"]):
            raise CommandError("give either --preset or --experiment")
        if options["preset"]:
            reader = options["round_trip_reader"]
            chosen = {}
            if reader == "baseline":
                chosen["reader_from_baseline"] = True
            elif reader:
                try:
                    chosen["round_trip_reader"] = entry_named(reader)
                except ModelUnavailable as exc:
                    raise CommandError(str(exc)) from None
            if options["corpus"]:
                chosen["corpus"] = Corpus.objects.filter(name=options["corpus"]).first()
                if chosen["corpus"] is None:
                    names = ", ".join(Corpus.objects.values_list("name", flat=True))
                    raise CommandError(f"No corpus named {options['corpus']!r}. Loaded: {names or 'none'}.")
            try:
                experiment = experiments.create_from_preset(
                    options["preset"],
                    name=options["name"],
                    max_concurrent=options["max_concurrent"],
                    max_passages=options["max_passages"],
                    eval_items=options["eval_items"],
                    max_steps=options["max_steps"],
                    eval_split=options["eval_split"],
                    precision=options["precision"],
                    **chosen,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"created experiment #{experiment.pk}: {experiment.name}")
        else:
            experiment = Experiment.objects.filter(pk=options["experiment"]).first()
            if experiment is None:
                raise CommandError(f"experiment #{options['experiment']} does not exist")
        count = threads.apply_in_process()  # the worker's thread policy, counting this shell as one more process
        self.stdout.write(f"running here with {count} torch thread(s) (QASYNTH_TORCH_THREADS overrides)")
        began, cpu = time.perf_counter(), experiments.cpu_seconds()
        try:
            experiment = experiments.run_in_process(
                experiment, log=lambda line: self.stdout.write(line), timeout_s=options["timeout"]
            )
        except (ValueError, TimeoutError) as exc:
            raise CommandError(str(exc)) from exc
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        self.stdout.write(
            f"wall time {time.perf_counter() - began:.1f} s, CPU time {experiments.cpu_seconds() - cpu:.1f} s, "
            f"{os.cpu_count()} CPUs, load average now {load}; status {experiment.status}"
        )
        self.print_table(experiment)

    def print_table(self, experiment: Experiment) -> None:
        rows = results.result_rows(EvaluationRun.objects.filter(experiment_cells__experiment=experiment))
        rows.sort(key=lambda r: r.run.pk)
        header = f"{'training data':<34} {'shots':>5} {'N':>3} " + " ".join(
            f"{label:>22}" for _, label, _ in results.TABLE_METRICS
        )
        self.stdout.write(header + f" {'items':>5}")
        for row in rows:
            cells = []
            for key, _, digits in results.TABLE_METRICS:
                m = row.metrics.get(key)
                cells.append(
                    f"{m['value']:.{digits}f} [{m['ci_low']:.{digits}f}, {m['ci_high']:.{digits}f}]".rjust(22)
                    if m
                    else "—".rjust(22)
                )
            shots = "—" if row.shots is None else str(row.shots)
            n = "—" if row.n is None else str(row.n)
            self.stdout.write(f"{row.source[:34]:<34} {shots:>5} {n:>3} " + " ".join(cells) + f" {row.items or 0:>5}")
        notes = {row.encoder_note for row in rows if row.encoder_note and not row.comparable}
        for note in notes:
            self.stdout.write(f"BERTScore: {note}")
