"""Staff pages for statistics: a session's figures and plots, its per-item table, an experiment's summary."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from annotation.models import JudgingSession
from annotation.services import experiment_summary, item_table, statistics
from annotation.services.exports import FORMATS, TABLES
from annotation.services.pseudonyms import display_names

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
    names = display_names(session, [row["judge"] for row in result["judges"]], usernames=True)
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


def session_stats(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    context: dict = {"session": session, "formats": list(FORMATS), "tables": TABLES, "error": ""}
    try:
        state = statistics.statistics_for(session, user=request.user)
    except statistics.StatisticsError as exc:
        state = None
        context["error"] = str(exc)
    context["state"] = state
    if state is not None and state.result is not None:
        context.update(page_model(session, state.result))
        context["plots"] = state.plots
    return render(request, "annotation/stats_session.html", context)


def session_item_table(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    only = request.GET.get("disagreements") in ("1", "true", "yes")
    table = item_table.item_table(session, disagreements_only=only, page_number=request.GET.get("page", 1))
    return render(request, "annotation/stats_items.html", {"session": session, "table": table})


def experiment_stats(request: HttpRequest, pk: int) -> HttpResponse:
    from training.models import Experiment

    if not request.user.is_staff:
        raise PermissionDenied("Staff only.")
    experiment = get_object_or_404(Experiment, pk=pk)
    summary = experiment_summary.experiment_summary(experiment, user=request.user)
    return render(request, "annotation/stats_experiment.html", {"summary": summary, "experiment": experiment})
