"""Pages of judges who arrive through an invitation link: opening the link (the one page anonymous visitors
reach besides the login), consent, instructions, the qualification block, and the completion or
"screened out" page. Thin: annotation.services.invitations and .recruiting decide."""

from __future__ import annotations

import time

from django.contrib.auth import login, logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from annotation.middleware import invited_judge
from annotation.models import InvitedJudge
from annotation.services import invitations, recruiting
from annotation.services.sessions import render_instructions

BACKEND = "core.auth_backend.ModelBackend"
STEP_URLS = {
    recruiting.CONSENT: "annotation:invite-consent",
    recruiting.INSTRUCTIONS: "annotation:invite-instructions",
    recruiting.QUALIFICATION: "annotation:invite-qualify",
    recruiting.SCREENED_OUT: "annotation:invite-screened-out",
    recruiting.FINISHED: "annotation:invite-finish",
}


def _refused(request: HttpRequest, message: str, status: int, reason: str) -> HttpResponse:
    response = render(request, "annotation/invite/refused.html", {"message": message, "reason": reason}, status=status)
    # Django would log the full path, token included; the service logged the refusal with a prefix only.
    response._has_been_logged = True
    return response


@never_cache
def invite_open(request: HttpRequest, token: str) -> HttpResponse:
    address = request.META.get("REMOTE_ADDR", "")
    if invitations.throttled(address, time.time()):
        invitations.record_failure(address, token, "throttled", time.time())
        return _refused(request, "Too many attempts from your network. Please wait a few minutes.", 429, "throttled")
    try:
        link = invitations.find_link(token)
        opened = invitations.open_link(link, request.user, request.GET)
    except invitations.Refused as exc:
        if exc.reason in ("invalid", "revoked", "used", "expired"):
            invitations.record_failure(address, token, exc.reason, time.time())
        return _refused(request, str(exc), exc.status, exc.reason)
    if not request.user.is_authenticated or request.user.pk != opened.judge.user_id:
        login(request, opened.judge.user, backend=BACKEND)
    return redirect("annotation:invite-continue")


def _judge(request: HttpRequest) -> InvitedJudge:
    judge = invited_judge(request)
    if judge is None:
        raise Http404("Only judges invited through a link have this page.")
    return judge


def _step_or_redirect(judge: InvitedJudge, wanted: str) -> HttpResponse | None:
    step = recruiting.step_for(judge)
    return None if step == wanted else redirect("annotation:invite-continue")


@never_cache
def invite_continue(request: HttpRequest) -> HttpResponse:
    judge = _judge(request)
    step = recruiting.step_for(judge)
    if step == recruiting.WITHDRAWN:
        logout(request)
        return _refused(request, "This invitation has been withdrawn by the study team.", 410, "revoked")
    if step == recruiting.JUDGING:
        return redirect("annotation:judge-next", pk=judge.session_id)
    return redirect(STEP_URLS[step])


@never_cache
@require_http_methods(["GET", "POST"])
def invite_consent(request: HttpRequest) -> HttpResponse:
    judge = _judge(request)
    if elsewhere := _step_or_redirect(judge, recruiting.CONSENT):
        return elsewhere
    error = ""
    if request.method == "POST":
        if request.POST.get("agree") == "yes":
            recruiting.accept_consent(judge)
            return redirect("annotation:invite-continue")
        error = "Tick the box to say you agree, or close this page if you do not want to take part."
    context = {
        "session": judge.session,
        "consent_html": render_instructions(recruiting.consent_text(judge.session)),
        "error": error,
    }
    return render(request, "annotation/invite/consent.html", context, status=400 if error else 200)


@never_cache
@require_http_methods(["GET", "POST"])
def invite_instructions(request: HttpRequest) -> HttpResponse:
    judge = _judge(request)
    if elsewhere := _step_or_redirect(judge, recruiting.INSTRUCTIONS):
        return elsewhere
    if request.method == "POST":
        recruiting.instructions_read(judge)
        return redirect("annotation:invite-continue")
    context = {"session": judge.session, "instructions_html": render_instructions(judge.session.instructions)}
    return render(request, "annotation/invite/instructions.html", context)


@never_cache
@require_http_methods(["GET", "POST"])
def invite_qualify(request: HttpRequest) -> HttpResponse:
    judge = _judge(request)
    if elsewhere := _step_or_redirect(judge, recruiting.QUALIFICATION):
        return elsewhere
    error = ""
    if request.method == "POST":
        try:
            answer_id = int(request.POST.get("answer", "0"))
            verdict = recruiting.answer_qualification(
                judge, answer_id, request.POST.get("left_label", ""), request.POST.get("right_label", "")
            )
        except (ValueError, recruiting.QualificationError) as exc:
            error = str(exc) if isinstance(exc, recruiting.QualificationError) else "Invalid form."
        else:
            if verdict is not None:
                return redirect("annotation:invite-continue")
            return redirect("annotation:invite-qualify")
    page = recruiting.current_qualification(judge)
    if page is None:  # every item answered but not scored (cannot happen unless the block changed): score now
        return redirect("annotation:invite-continue")
    labels = [{"key": label["key"], "label": label["label"]} for label in judge.session.accuracy_labels]
    context = {"session": judge.session, "page": page, "labels": labels, "error": error}
    return render(request, "annotation/invite/qualify.html", context, status=400 if error else 200)


@never_cache
def invite_finish(request: HttpRequest) -> HttpResponse:
    judge = _judge(request)
    step = recruiting.step_for(judge)
    if step == recruiting.JUDGING:
        recruitment = invitations.recruitment_for(judge.session)
        if not recruiting.may_finish(judge, recruitment):
            return redirect("annotation:judge-next", pk=judge.session_id)
        recruiting.finish(judge)
    elif step != recruiting.FINISHED:
        return redirect("annotation:invite-continue")
    link = judge.link
    if link.completion_url:
        return redirect(link.completion_url)
    context = {"session": judge.session, "code": link.completion_code, "done": recruiting.judged_count(judge)}
    return render(request, "annotation/invite/finished.html", context)


@never_cache
def invite_screened_out(request: HttpRequest) -> HttpResponse:
    judge = _judge(request)
    if elsewhere := _step_or_redirect(judge, recruiting.SCREENED_OUT):
        return elsewhere
    recruiting.give_back_unjudged(judge)
    link = judge.link
    if link.screened_out_url:
        return redirect(link.screened_out_url)
    return render(request, "annotation/invite/screened_out.html", {"code": link.screened_out_code})
