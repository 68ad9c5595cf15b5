"""Staff pages: training runs (loss curve, adapter download), evaluation runs, results table, experiments.

Thin: forms parse input, services do the work, templates render. Every view is staff-only (urls.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from core.models import ModelEntry
from core.views import job_as_dict
from training.forms import BASELINE_READER, EvaluationRunForm, ExperimentForm, TrainingRunForm
from training.models import EvaluationRun, Experiment, TrainingRun
from training.services import evaluation_runs, experiments, readers, results, svg, training_runs

# --- training runs -------------------------------------------------------------------------------------


def run_list(request: HttpRequest) -> HttpResponse:
    qs = TrainingRun.objects.select_related("job", "base_model", "dataset")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "training/run_list.html", {"page": page})


def run_create(request: HttpRequest) -> HttpResponse:
    form = TrainingRunForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            run = training_runs.create_training_run(
                base_model=form.cleaned_data["base_model"],
                dataset=form.cleaned_data["dataset"],
                name=form.cleaned_data["name"],
                user=request.user,
                template=form.template(),
                settings=form.settings(),
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Training run #{run.pk} queued.")
            return redirect(run.get_absolute_url())
    defaults = {}
    entry = form["base_model"].value() and form.fields["base_model"].queryset.filter(pk=form["base_model"].value())
    if entry:
        defaults = training_runs.default_settings(entry.first())
    return render(request, "training/run_form.html", {"form": form, "defaults": defaults})


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("job", "base_model", "dataset"), pk=pk)
    points = training_runs.loss_curve(run)
    chart = svg.loss_curve_svg(points, training_runs.smoothed(points))
    context = {
        "run": run,
        "job": run.job,
        "job_json": job_as_dict(run.job) if run.job else None,
        "loss_svg": mark_safe(chart),  # built from numbers only (training.services.svg)
        "points": points,
        "evaluations": run.evaluation_runs.select_related("job", "corpus"),
        "reader": readers.reader_for(run),
    }
    return render(request, "training/run_detail.html" if run.job else "training/run_detail_nojob.html", context)


@require_POST
def run_register_reader(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun.objects.select_related("base_model", "dataset"), pk=pk)
    try:
        entry = readers.register_reader(run)
    except readers.ReaderError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Registered {entry.name}: choose it as the round-trip reader of a generation run.")
    return redirect(run.get_absolute_url())


def run_loss_svg(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(TrainingRun, pk=pk)
    points = training_runs.loss_curve(run)
    response = HttpResponse(svg.loss_curve_svg(points, training_runs.smoothed(points)), content_type="image/svg+xml")
    response["Cache-Control"] = "no-store"
    return response


def run_adapter_zip(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    run = get_object_or_404(TrainingRun, pk=pk)
    if not run.has_adapter:
        raise Http404("This run has no finished adapter yet.")
    response = StreamingHttpResponse(training_runs.adapter_zip_stream(run.adapter_dir), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="adapter-run-{run.pk}.zip"'
    return response


# --- evaluation runs -----------------------------------------------------------------------------------


def evaluation_create(request: HttpRequest) -> HttpResponse:
    initial = {}
    if request.GET.get("training_run"):
        initial["training_run"] = request.GET["training_run"]
    form = EvaluationRunForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = evaluation_runs.create_evaluation_run(
                corpus=data["corpus"],
                training_run=data["training_run"],
                base_model=data["base_model"],
                split=data["split"],
                name=data["name"],
                user=request.user,
                settings=form.settings(),
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Evaluation run #{run.pk} queued.")
            return redirect(run.get_absolute_url())
    return render(request, "training/evaluation_form.html", {"form": form})


def evaluation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(
        EvaluationRun.objects.select_related("job", "training_run", "base_model", "corpus", "bertscore_model"), pk=pk
    )
    page = Paginator(run.predictions.order_by("item_index"), 100).get_page(request.GET.get("page"))
    row = results.result_rows(EvaluationRun.objects.filter(pk=run.pk))[0]
    context = {"run": run, "job": run.job, "job_json": job_as_dict(run.job) if run.job else None}
    context.update({"page": page, "row": row})
    template = "training/evaluation_detail.html" if run.job else "training/evaluation_detail_nojob.html"
    return render(request, template, context)


def evaluation_predictions_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    import csv
    import io
    import json

    run = get_object_or_404(EvaluationRun, pk=pk)
    fields = ["item_index", "item_key", "question", "gold_answers", "prediction", "raw_output", "latency_ms"]
    fields += ["exact_match", "f1", "bleu_sentence", "bertscore_precision", "bertscore_recall", "bertscore_f1"]

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(fields)
        for p in run.predictions.order_by("item_index").iterator(chunk_size=500):
            values = [getattr(p, f) for f in fields]
            values[fields.index("gold_answers")] = json.dumps(p.gold_answers, ensure_ascii=False)
            writer.writerow(["" if v is None else v for v in values])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        yield buffer.getvalue()

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="evaluation-{run.pk}-predictions.csv"'
    return response


# --- results -------------------------------------------------------------------------------------------


def _sorted_rows(request: HttpRequest) -> tuple[list[results.ResultRow], str, bool]:
    key = request.GET.get("sort", "id")
    descending = request.GET.get("dir", "desc") == "desc"
    qs = EvaluationRun.objects.all()
    if request.GET.get("experiment"):
        qs = qs.filter(experiment_cells__experiment_id=request.GET["experiment"])
    return results.sort_rows(results.result_rows(qs), key, descending), key, descending


def results_table(request: HttpRequest) -> HttpResponse:
    rows, key, descending = _sorted_rows(request)
    comparison = error = None
    a, b = request.GET.get("a"), request.GET.get("b")
    if a and b:
        try:
            run_a = get_object_or_404(EvaluationRun, pk=int(a))
            run_b = get_object_or_404(EvaluationRun, pk=int(b))
            comparison = results.compare(run_a, run_b)
        except (ValueError, results.ComparisonError) as exc:
            error = str(exc)
    columns = [
        ("id", "Run"),
        ("dataset", "Dataset"),
        ("source", "Source"),
        ("shots", "Shots"),
        ("n", "N"),
        ("model", "Model"),
        *[(k, label) for k, label, _ in results.TABLE_METRICS],
        ("items", "Items"),
    ]
    context = {
        "rows": rows,
        "columns": columns,
        "sort": key,
        "descending": descending,
        "comparison": comparison,
        "comparison_error": error,
        "a": a,
        "b": b,
        "experiment": request.GET.get("experiment", ""),
        "any_not_comparable": any(r.metrics and not r.comparable for r in rows),
    }
    return render(request, "training/results.html", context)


def results_csv(request: HttpRequest) -> StreamingHttpResponse:
    rows, _, _ = _sorted_rows(request)
    response = StreamingHttpResponse(results.csv_lines(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="qasynth-results.csv"'
    return response


# --- experiments ---------------------------------------------------------------------------------------


def experiment_list(request: HttpRequest) -> HttpResponse:
    form = ExperimentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        overrides = {
            "corpus": data["corpus"],
            "shots": data["shots"],
            "pairs_per_passage": data["pairs_per_passage"],
            "max_concurrent": data["max_concurrent"],
            "max_steps": data["max_steps"],
            "eval_items": data["eval_items"],
            "include_base_model": data["include_base_model"] or None,
            "reader_from_baseline": data["round_trip_reader"] == BASELINE_READER,
            "max_passages": data["max_passages"],
            "eval_split": data["eval_split"] or None,
            "precision": data["precision"] or None,
        }
        if isinstance(data["round_trip_reader"], ModelEntry):
            overrides["round_trip_reader"] = data["round_trip_reader"]
        if data["corpus"] is not None:
            overrides["context_sources"] = [data["corpus"].name]
        try:
            experiment = experiments.create_from_preset(
                data["preset"], user=request.user, name=data["name"], **overrides
            )
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Experiment created: check the grid, then launch it.")
            return redirect(experiment.get_absolute_url())
    rows = []
    for exp in Experiment.objects.select_related("corpus"):
        rows.append({"experiment": exp, "progress": experiments.finished_job_count(exp)})
    context = {"rows": rows, "form": form, "presets": experiments.PRESETS.values()}
    return render(request, "training/experiment_list.html", context)


def experiment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment.objects.select_related("corpus", "generator", "qa_base"), pk=pk)
    views = experiments.cell_views(experiment)
    done, total = experiments.finished_job_count(experiment)
    runs = EvaluationRun.objects.filter(experiment_cells__experiment=experiment)
    rows = results.result_rows(runs)
    order = {v.cell.evaluation_run_id: v.cell.position for v in views}
    rows.sort(key=lambda r: order.get(r.run.pk, 0))
    context = {
        "experiment": experiment,
        "cells": views,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 0,
        "grid_points": experiments.grid_points(experiment) if experiment.status == Experiment.Status.DRAFT else [],
        "rows": [r for r in rows if r.run.scored_at],
        "preset": experiments.PRESETS.get(experiment.preset),
        "live": experiment.status == Experiment.Status.RUNNING,
        "any_not_comparable": any(r.metrics and not r.comparable for r in rows),
        "training_summary": _settings_text(experiment.training_settings),
        "evaluation_summary": _settings_text(experiment.evaluation_settings),
    }
    return render(request, "training/experiment_detail.html", context)


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{key.replace('_', ' ')} {value}" for key, value in sorted(settings.items())) or "defaults"


@require_POST
def experiment_launch(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment, pk=pk)
    try:
        report = experiments.launch(experiment)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Launched; started: {', '.join(report.started) or 'nothing yet'}.")
    return redirect(experiment.get_absolute_url())


@require_POST
def experiment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = experiments.cancel(get_object_or_404(Experiment, pk=pk))
    messages.success(request, f"Experiment {experiment} cancelled; finished work is kept.")
    return redirect(experiment.get_absolute_url())


@require_POST
def experiment_retry(request: HttpRequest, pk: int) -> HttpResponse:
    report = experiments.retry_failed(get_object_or_404(Experiment, pk=pk))
    messages.success(request, f"Retrying failed cells; started: {', '.join(report.started) or 'nothing new'}.")
    return redirect("training:experiment-detail", pk=pk)
