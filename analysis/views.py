"""Staff pages of the analysis app: a session's statistics and plots, its per-item table, an experiment's
summary, and judging sessions built from evaluation runs or an experiment's cells."""

from __future__ import annotations

import dataclasses

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from analysis.forms import ExperimentCellsForm, ExperimentSessionForm, JudgePolicyForm, RunsSessionForm
from analysis.models import LLMJudgeRun
from analysis.plots import strength_forest_plot, win_rate_heatmap
from analysis.services import (
    experiment_summary,
    from_runs,
    item_table,
    judge_policy,
    judge_report,
    llm_judging,
    ranking,
    statistics,
)
from analysis.services.exports import FORMATS, TABLES
from analysis.services.pseudonyms import display_names
from annotation.models import JudgingSession
from annotation.services import controls, sessions
from core.models import JobStatus
from core.permissions import staff_required
from training.models import Experiment

AGREEMENT_ROWS = [
    ("percent_agreement", "Percent agreement"),
    ("fleiss_kappa", "Fleiss' kappa"),
    ("krippendorff_alpha_nominal", "Krippendorff's alpha (nominal)"),
    ("krippendorff_alpha_ordinal", "Krippendorff's alpha (ordinal)"),
    ("gwet_ac1", "Gwet's AC1"),
]


def rank_differs(first: list[float | None], second: list[float | None]) -> bool:
    """Whether A leads under one criterion and B under the other (a headline with one criterion misleads)."""
    if None in first or None in second:
        return False
    return (first[0] - first[1]) * (second[0] - second[1]) < 0


def page_model(session: JudgingSession, result: dict) -> dict:
    """The stored result shaped for the template (which cannot index by system name)."""
    names = display_names(session, statistics.named_judge_ids(result), usernames=True)
    named = statistics.with_judge_names(result, names)
    systems = [
        {
            "letter": letter,
            "name": name,
            "accuracy": named["accuracy"][name],
            "extras": named["extras"]["systems"][index],
        }
        for index, (letter, name) in enumerate(zip("AB", named["systems"], strict=True))
    ]
    judges = []
    for row, extra in zip(named["judges"], named["extras"]["judges"], strict=True):
        control = row["control_accuracy"]
        flagged = control["rate"] is not None and control["rate"] < session.control_threshold
        judges.append({**row, "labels": extra["labels"], "seconds": extra["seconds"], "flagged": flagged})
    correct = [system["accuracy"]["by_majority"]["correct"]["rate"] for system in systems]
    lenient = [system["accuracy"]["by_majority"]["lenient"]["rate"] for system in systems]
    return {
        "result": named,
        "systems": systems,
        "best_label": session.accuracy_labels[0]["label"],
        "middle_labels": [label["label"] for label in session.accuracy_labels[1:-1]],
        "criteria_disagree": rank_differs(correct, lenient),
        "judges": judges,
        "agreement": [(label, named["agreement"][key]) for key, label in AGREEMENT_ROWS],
        "label_names": [named["label_names"][label] for label in named["labels"]],
        "n_ties": [system["accuracy"]["by_majority"]["n_ties"] for system in systems],
    }


@staff_required
def session_stats(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    if session.n_systems > 2:  # A-vs-B figures over K systems' judgments would be meaningless: the ranking instead
        context = {"session": session, "llm_runs": llm_headlines(session)}
        return render(request, "analysis/stats_session_many.html", context)
    context: dict = {"session": session, "formats": list(FORMATS), "tables": TABLES, "error": "",
                     "exclusion_on": judge_policy.policy_for(session).exclude_below_threshold}  # fmt: skip
    variant = statistics.Variant.default()
    if request.GET.get("flagged") == "exclude":  # leave out items a judge flagged (default: kept, count shown)
        variant = dataclasses.replace(variant, exclude_flagged=True)
    try:
        state = statistics.statistics_for(session, variant, user=request.user)
    except statistics.StatisticsError as exc:
        state = None
        context["error"] = str(exc)
    context["state"] = state
    if state is not None and state.result is not None:
        context.update(page_model(session, state.result))
        context["plots"] = state.plots
    context["llm_runs"] = llm_headlines(session)
    return render(request, "analysis/stats_session.html", context)


def llm_headlines(session: JudgingSession) -> list[dict]:
    """LLM judges of the session, beside (never inside) the human figures: point estimates here (no bootstrap,
    so the page stays fast); the run page has the intervals, the placement among judges and the biases."""
    rows = []
    for run in LLMJudgeRun.objects.filter(session=session).select_related("job", "judge_model")[:5]:
        agreement = None
        if run.job.status == JobStatus.SUCCEEDED:
            try:
                agreement = llm_judging.with_judge_names(session, llm_judging.agreement(run, n_boot=0))
            except statistics.StatisticsError:
                agreement = None
        rows.append({"run": run, "agreement": agreement})
    return rows


@staff_required
def session_ranking(request: HttpRequest, pk: int) -> HttpResponse:
    """K-system page (any K >= 2): ranking table, win-rate heatmap, forest plot, pairwise table, metric agreement."""
    session = get_object_or_404(JudgingSession, pk=pk)
    state = ranking.ranking_state(session, user=request.user)
    result = state.result
    context: dict = {"session": session, "state": state, "result": result, "formats": list(FORMATS)}
    if result is not None:
        rows = ranking.ranking_table(result, ranking.metric_means(session))
        context.update(
            rows=rows,
            pairs=ranking.pairwise_table(result),
            heatmap=win_rate_heatmap(result),
            forest=strength_forest_plot(rows),
            agreement=sorted((result["ranking"].get("metric_agreement") or {}).items()),
        )
    return render(request, "analysis/stats_ranking.html", context)


@staff_required
def session_item_table(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    only = request.GET.get("disagreements") in ("1", "true", "yes")
    table = item_table.item_table(session, disagreements_only=only, page_number=request.GET.get("page", 1))
    return render(request, "analysis/stats_items.html", {"session": session, "table": table})


@staff_required
def experiment_stats(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment, pk=pk)
    summary = experiment_summary.experiment_summary(experiment, user=request.user)
    context = {
        "summary": summary,
        "experiment": experiment,
        "human_ranking": experiment_summary.experiment_ranking(experiment),
    }
    return render(request, "analysis/stats_experiment.html", context)


# --- sessions built from evaluation runs ------------------------------------------------------------


@staff_required
def session_from_runs(request: HttpRequest) -> HttpResponse:
    form = RunsSessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kwargs = form.session_kwargs()
        try:
            session = from_runs.create_session_from_runs(
                form.cleaned_data["run_a"],
                form.cleaned_data["run_b"],
                created_by=request.user,
                max_items=form.cleaned_data["max_items"],
                **kwargs,
            )
        except (sessions.SessionError, controls.ControlError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Session created with {session.items.count()} items.")
            return redirect(session.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    n_runs = form.fields["run_a"].queryset.count()
    context = {
        "form": form,
        "title": "New judging session from two evaluation runs",
        "missing": missing_steps(form, n_runs=n_runs),
        "show_form": n_runs >= 2,
        "experiments": Experiment.objects.filter(cells__evaluation_run__isnull=False).distinct()[:20],
    }
    return render(request, "analysis/session_from.html", context, status=status)


def missing_steps(form, *, n_runs: int | None = None) -> list[str]:
    """What must exist before this form can make a session, in words (an empty dropdown explains nothing)."""
    steps = []
    if n_runs is not None and n_runs < 2:
        have = "none yet" if n_runs == 0 else "only one so far"
        steps.append(
            f"Two evaluation runs with predictions on the same items ({have}): train or pick two QA models, then "
            "evaluate each on the same corpus split (Training → New evaluation run), or launch an experiment, "
            "which does both."
        )
    if form.n_judges == 0:
        steps.append("At least one judge: add user accounts to the “judges” group in the admin (Users → Groups).")
    return steps


@staff_required
def session_from_experiment(request: HttpRequest, pk: int) -> HttpResponse:
    experiment = get_object_or_404(Experiment, pk=pk)
    cells = from_runs.experiment_cells_with_runs(experiment)
    pair = from_runs.default_pair(cells)
    initial = {"open_to_all_judges": True}
    if pair:
        initial.update(cell_a=pair[0].pk, cell_b=pair[1].pk)
    form = ExperimentSessionForm(request.POST or None, initial=initial, experiment=experiment, cells=cells)
    if request.method == "POST" and form.is_valid():
        kwargs = form.session_kwargs()
        try:
            session = from_runs.create_session_from_experiment(
                experiment,
                form.cleaned_data["cell_a"],
                form.cleaned_data["cell_b"],
                created_by=request.user,
                max_items=form.cleaned_data["max_items"],
                **kwargs,
            )
        except (sessions.SessionError, controls.ControlError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Session created with {session.items.count()} items.")
            return redirect(session.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "title": f"Blind judging for experiment “{experiment.name}”",
        "note": "" if pair else "This experiment has fewer than two evaluated cells yet.",
        "missing": missing_steps(form),
        "show_form": True,
        "experiment_pk": experiment.pk,
    }
    return render(request, "analysis/session_from.html", context, status=status)


@staff_required
def session_from_experiment_cells(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Judge all cells": one K-system session over every evaluated cell (or a ticked subset) of an experiment."""
    experiment = get_object_or_404(Experiment, pk=pk)
    cells = from_runs.experiment_cells_with_runs(experiment)
    form = ExperimentCellsForm(
        request.POST or None, initial={"open_to_all_judges": True}, experiment=experiment, cells=cells
    )
    if request.method == "POST" and form.is_valid():
        kwargs = form.session_kwargs()
        try:
            session = from_runs.create_session_from_cells(
                experiment,
                form.cleaned_data["cells"],
                created_by=request.user,
                max_items=form.cleaned_data["max_items"],
                **kwargs,
            )
        except (sessions.SessionError, controls.ControlError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Session created: {session.n_systems} systems, {session.items.count()} items.")
            return redirect(session.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "title": f"Judge all cells of experiment “{experiment.name}”",
        "note": "" if len(cells) >= 2 else "This experiment has fewer than two evaluated cells yet.",
        "missing": missing_steps(form),
        "show_form": len(cells) >= 2,
        "many_systems": True,
    }
    return render(request, "analysis/session_from.html", context, status=status)


# --- judges: time, pay and exclusion ----------------------------------------------------------------


@staff_required
def judge_report_page(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    policy = judge_policy.policy_for(session)
    form = JudgePolicyForm(request.POST or None, initial={
        "exclude_below_threshold": policy.exclude_below_threshold, "hourly_rate": policy.hourly_rate,
        "currency": policy.currency,
    })  # fmt: skip
    if request.method == "POST" and form.is_valid():
        for name, value in form.cleaned_data.items():
            setattr(policy, name, value)
        policy.save()
        messages.success(request, "Saved: statistics and the report use these settings from now on.")
        return redirect("analysis:judge-report", pk=session.pk)
    report = judge_report.judge_report(session, usernames=True)
    context = {"session": session, "report": report, "form": form}
    return render(request, "analysis/judge_report.html", context, status=400 if form.errors else 200)


@staff_required
def judge_report_csv(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    usernames = request.GET.get("judges") == "usernames"
    report = judge_report.judge_report(session, usernames=usernames)
    response = HttpResponse(judge_report.to_csv(report, usernames=usernames), content_type="text/csv; charset=utf-8")
    suffix = "-usernames" if usernames else ""
    response["Content-Disposition"] = f'attachment; filename="session-{session.pk}-judges{suffix}.csv"'
    return response
