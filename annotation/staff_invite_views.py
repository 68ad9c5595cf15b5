"""Staff pages for recruiting judges: a session's invitation links (make, revoke, re-send), what invited judges
go through (consent, qualification) and the session's limits. The time and pay report is the analysis app's."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from annotation.forms import InvitationForm, RecruitmentForm
from annotation.models import InvitationLink, InvitedJudge, JudgingSession
from annotation.services import invitations, recruiting
from annotation.services.sessions import render_instructions
from core.permissions import staff_required


def _link_rows(request: HttpRequest, session: JudgingSession) -> list[dict]:
    now = timezone.now()
    rows = []
    for link in session.invitations.all():
        url = request.build_absolute_uri(invitations.link_path(link))
        query = invitations.example_query(link)
        state = "revoked" if link.revoked_at else "expired" if link.expires_at and link.expires_at <= now else "active"
        if state == "active" and link.kind == "personal" and link.used_at:
            state = "used"
        rows.append({
            "link": link, "url": url, "crowd_url": f"{url}?{query}" if query else "", "state": state,
            "judges": InvitedJudge.objects.filter(link=link).count(),
        })  # fmt: skip
    return rows


def _page(request: HttpRequest, session: JudgingSession, *, settings_form=None, link_form=None, status=200):
    recruitment = invitations.recruitment_for(session)
    context = {
        "session": session,
        "recruitment": recruitment,
        "settings_form": settings_form or RecruitmentForm(instance=recruitment),
        "link_form": link_form or InvitationForm(),
        "links": _link_rows(request, session),
        "counts": recruiting.session_counts(session),
        "qualification_items": session.qualification_items.count(),
        "consent_html": render_instructions(recruiting.consent_text(session)),
    }
    return render(request, "annotation/staff/recruit.html", context, status=status)


@staff_required
def recruit(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, get_object_or_404(JudgingSession, pk=pk))


@staff_required
@require_POST
def recruit_settings(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    form = RecruitmentForm(request.POST, instance=invitations.recruitment_for(session))
    if form.is_valid():
        try:
            with transaction.atomic():
                form.save()
                recruiting.build_qualification(session, form.cleaned_data["qualification_size"])
        except recruiting.QualificationError as exc:
            form.add_error("qualification_size", str(exc))
        else:
            messages.success(request, "Recruitment settings saved.")
            return redirect("annotation:session-recruit", pk=session.pk)
    return _page(request, session, settings_form=form, status=400)


@staff_required
@require_POST
def invitation_new(request: HttpRequest, pk: int) -> HttpResponse:
    session = get_object_or_404(JudgingSession, pk=pk)
    form = InvitationForm(request.POST)
    if form.is_valid():
        try:
            link = invitations.create_link(
                session, form.cleaned_data["kind"], created_by=request.user, **form.link_kwargs()
            )
        except invitations.InvitationError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"{link.get_kind_display().capitalize()} link made.")
            return redirect("annotation:session-recruit", pk=session.pk)
    return _page(request, session, link_form=form, status=400)


def _link(pk: int, link: int) -> InvitationLink:
    return get_object_or_404(InvitationLink, pk=link, session_id=pk)


@staff_required
@require_POST
def invitation_revoke(request: HttpRequest, pk: int, link: int) -> HttpResponse:
    invitations.revoke(_link(pk, link))
    messages.success(request, "Link revoked: it admits nobody any more.")
    return redirect("annotation:session-recruit", pk=pk)


@staff_required
@require_POST
def invitation_resend(request: HttpRequest, pk: int, link: int) -> HttpResponse:
    try:
        invitations.resend(_link(pk, link))
    except invitations.InvitationError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "New personal link made (the old address no longer works): send it again.")
    return redirect("annotation:session-recruit", pk=pk)
