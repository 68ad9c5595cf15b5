"""Staff pages: sessions list, a session from an upload, the session overview, open/close and controls."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.forms import ControlsForm, ExperimentSessionForm, RunsSessionForm, UploadSessionForm
from annotation.models import JudgingSession
from annotation.services import controls, from_runs, overview, sessions, upload
from annotation.services.sessions import render_instructions


def session_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {"session": session, "items": session.items.count(), "judgments": session.judgments.count()}
        for session in JudgingSession.objects.all()[:200]
    ]
    from training.models import Experiment

    experiments = Experiment.objects.filter(cells__evaluation_run__isnull=False).distinct()[:20]
    return render(request, "annotation/staff/session_list.html", {"rows": rows, "experiments": experiments})


def session_new(request: HttpRequest) -> HttpResponse:
    form = UploadSessionForm(request.POST or None, request.FILES or None)
    upload_errors: list[upload.RowError] = []
    if request.method == "POST" and form.is_valid():
        try:
            parsed = upload.read_upload(form.cleaned_data["file"])
            system_a = parsed.system_a or form.cleaned_data["system_a"].strip()
            system_b = parsed.system_b or form.cleaned_data["system_b"].strip()
            if not system_a or not system_b:
                raise sessions.SessionError(
                    "Name both systems: the file has no system_a/system_b columns, so fill in the two fields."
                )
            with transaction.atomic():
                session = sessions.create_session(
                    system_a=system_a,
                    system_b=system_b,
                    items=parsed.items,
                    created_by=request.user,
                    source={"kind": "upload", "file": form.cleaned_data["file"].name},
                    **form.session_kwargs(),
                )
        except upload.UploadError as exc:
            upload_errors = exc.errors
            form.add_error("file", f"{len(exc.errors)} problem(s) in {exc.filename}; nothing was stored.")
        except (sessions.SessionError, controls.ControlError) as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Session created with {session.items.count()} items.")
            return redirect(session.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request, "annotation/staff/session_new.html", {"form": form, "upload_errors": upload_errors}, status=status
    )


def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    context = {
        "session": session,
        "overview": overview.session_overview(session),
        "instructions_html": render_instructions(session.instructions),
        "controls_form": ControlsForm(initial={"rate": session.control_rate or 0.1,
                                              "threshold": session.control_threshold}),
    }  # fmt: skip
    return render(request, "annotation/staff/session_detail.html", context)


@require_POST
def session_toggle_open(request: HttpRequest, pk: int) -> HttpResponse:
    with transaction.atomic():
        session = get_object_or_404(JudgingSession.objects.select_for_update(), pk=pk)
        session.is_open = not session.is_open
        session.save(update_fields=["is_open"])
    messages.success(request, f"Session {'opened' if session.is_open else 'closed'}.")
    return redirect(session.get_absolute_url())


@require_POST
def session_add_controls(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    form = ControlsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(error for errors in form.errors.values() for error in errors))
        return redirect(session.get_absolute_url())
    try:
        with transaction.atomic():
            made = controls.add_controls(session, form.cleaned_data["rate"])
            JudgingSession.objects.filter(pk=session.pk).update(control_threshold=form.cleaned_data["threshold"])
    except controls.ControlError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Added {len(made)} control item(s).")
    return redirect(session.get_absolute_url())


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
    }
    return render(request, "annotation/staff/session_from.html", context, status=status)


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


def session_from_experiment(request: HttpRequest, pk: int) -> HttpResponse:
    from training.models import Experiment

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
    }
    return render(request, "annotation/staff/session_from.html", context, status=status)
