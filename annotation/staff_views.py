"""Staff pages of judging: sessions list, a session from an upload, the session overview, open/close and
controls. Sessions built from evaluation runs are the analysis app's (it knows training; judging does not)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from annotation.forms import ControlsForm, UploadSessionForm
from annotation.models import JudgingSession
from annotation.services import controls, overview, sessions, upload
from annotation.services.sessions import render_instructions
from core.permissions import staff_required


@staff_required
def session_list(request: HttpRequest) -> HttpResponse:
    rows = [
        {"session": session, "items": session.items.count(), "judgments": session.judgments.count()}
        for session in JudgingSession.objects.all()[:200]
    ]
    return render(request, "annotation/staff/session_list.html", {"rows": rows})


@staff_required
def session_new(request: HttpRequest) -> HttpResponse:
    form = UploadSessionForm(request.POST or None, request.FILES or None)
    upload_errors: list[upload.RowError] = []
    if request.method == "POST" and form.is_valid():
        try:
            parsed = upload.read_upload(form.cleaned_data["file"])
            if parsed.systems:  # answer_<system> columns or item/system/answer rows name the K systems
                system_a, system_b, *more_systems = parsed.systems
            else:
                system_a = parsed.system_a or form.cleaned_data["system_a"].strip()
                system_b = parsed.system_b or form.cleaned_data["system_b"].strip()
                more_systems = []
            if not system_a or not system_b:
                raise sessions.SessionError(
                    "Name both systems: the file has no system_a/system_b columns, so fill in the two fields."
                )
            with transaction.atomic():
                session = sessions.create_session(
                    system_a=system_a,
                    system_b=system_b,
                    more_systems=more_systems,
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


@staff_required
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


@staff_required
@require_POST
def session_toggle_open(request: HttpRequest, pk: int) -> HttpResponse:
    with transaction.atomic():
        session = get_object_or_404(JudgingSession.objects.select_for_update(), pk=pk)
        session.is_open = not session.is_open
        session.save(update_fields=["is_open"])
    messages.success(request, f"Session {'opened' if session.is_open else 'closed'}.")
    return redirect(session.get_absolute_url())


@staff_required
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
