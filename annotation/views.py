"""Judge-facing pages and JSON API. Thin: services decide; nothing here names a system or an item id."""

from __future__ import annotations

import json
import uuid
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from annotation.models import Assignment, FlagReason, JudgingSession
from annotation.services import assignment as assigning
from annotation.services import demo, judging
from annotation.services.sessions import may_judge, sessions_for_judge
from core.permissions import judge_required, may_use_judging_pages

PROGRESS_CACHE_SECONDS = 10


def _session_for(request: HttpRequest, pk: int) -> JudgingSession:
    session = get_object_or_404(JudgingSession, pk=pk)
    if not may_judge(session, request.user):
        raise Http404("No such session.")  # same answer as a missing one: session ids reveal nothing
    return session


def _item_url(token: str) -> str:
    return reverse("annotation:judge-item", args=[token])


def _next_url(session: JudgingSession) -> str:
    return reverse("annotation:judge-next", args=[session.pk])


@login_required
@never_cache
def judge_home(request: HttpRequest) -> HttpResponse:
    rows = []
    for session in sessions_for_judge(request.user):
        rows.append({"session": session, "progress": assigning.judge_progress(session, request.user)})
    return render(
        request,
        "annotation/judge_home.html",
        {"rows": rows, "demo": demo.demo_status(), "is_staff": request.user.is_staff},
    )


def _lease_and_go(request: HttpRequest, session: JudgingSession) -> HttpResponse:
    try:
        assignment = assigning.next_assignment(session, request.user)
    except assigning.SessionClosed:
        return render(request, "annotation/closed.html", {"session": session}, status=409)
    except assigning.NotAllowed as exc:
        raise Http404("No such session.") from exc
    if assignment is None:
        return redirect("annotation:judge-done", pk=session.pk)
    return redirect(_item_url(assignment.token))


def _hot_judge(view):
    """judge_required for the hot path: the judges-only check comes from membership()'s one query, and
    only a first visit (no membership yet) pays for the separate group query."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    return wrapper


def _hot_lease(request: HttpRequest, pk: int):
    """(token, membership) when the fast path leased (or renewed) an item; (None, membership) when the
    rare cases must go the long way (first visit, nothing in the first blocks, a race with another tab)."""
    member = assigning.membership(pk, request.user)
    if member is None:
        return None, None
    if not assigning.member_may_judge(member, request.user):
        if not (member.judging or request.user.is_staff):
            raise PermissionDenied("Judges only.")
        raise Http404("No such session.")
    return assigning.lease_for_member(member, request.user), member


def _hot_lease_joining(request: HttpRequest, pk: int):
    """_hot_lease(); on a first visit the judge joins the session first (judges only, open sessions only),
    so the first item too comes by the one-statement lease (the long way only when that finds nothing)."""
    token, member = _hot_lease(request, pk)
    if member is not None:
        return token, member
    _judges_only(request)
    session = _session_for(request, pk)
    assigning.require_open(session)  # before joining: a closed session gains no member
    try:
        assigning.participant(session, request.user)
    except assigning.NotAllowed as exc:
        raise Http404("No such session.") from exc
    return _hot_lease(request, pk)


def _judges_only(request: HttpRequest) -> None:
    if not may_use_judging_pages(request.user):
        raise PermissionDenied("Judges only.")


@_hot_judge
@never_cache
def judge_next(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask for the next item (or the one already in hand)."""
    try:
        token, _ = _hot_lease_joining(request, pk)
    except assigning.SessionClosed:
        return render(request, "annotation/closed.html", {"session": _session_for(request, pk)}, status=409)
    if token is not None:
        return redirect(_item_url(token))
    _judges_only(request)
    return _lease_and_go(request, _session_for(request, pk))


@judge_required
@never_cache
def judge_back(request: HttpRequest, pk: int) -> HttpResponse:
    """Go to the judged item before the one the judge is on (?from=<token>)."""
    session = _session_for(request, pk)
    current = Assignment.objects.filter(session=session, judge=request.user, token=request.GET.get("from") or "")
    token = judging.previous_token(session, request.user, current.first())
    if token is None:
        return redirect(request.GET.get("from") and _item_url(request.GET["from"]) or _next_url(session))
    return redirect(_item_url(token))


@judge_required
@never_cache
def judge_done(request: HttpRequest, pk: int) -> HttpResponse:
    session = _session_for(request, pk)
    progress = assigning.judge_progress(session, request.user)
    if session.is_open and (progress.pending or progress.available):
        return redirect(_next_url(session))
    return render(request, "annotation/done.html", {"session": session, "progress": progress})


def _page_context(
    assignment: Assignment,
    request: HttpRequest,
    *,
    values=None,
    error: str = "",
    flag_error: str = "",
    flag_values: dict | None = None,
) -> dict:
    session = assignment.session
    judgment = getattr(assignment, "judgment", None)  # selected with the assignment
    shown = values or judging.to_display_terms(assignment, judgment)
    flagged = judging.own_flag(assignment) if assignment.submitted_at else None
    judged = getattr(assignment, "judged", None)  # counted by page_assignment()'s read
    known = None if judged is None else (judged, int(assignment.holding))
    progress = assigning.judge_progress(session, request.user, max_age=PROGRESS_CACHE_SECONDS, known=known)
    revisiting = assignment.submitted_at is not None
    return {
        "session": session,
        "item": judging.display(assignment),
        "token": assignment.token,
        "values": shown,
        "editing": judgment is not None,
        "revisiting": revisiting,
        # The counter names the item on screen: while revising, its own place in the judge's history.
        "position": judging.history_position(session, request.user, assignment) if revisiting else progress.position,
        "error": error,
        "flag": flagged,
        "flag_error": flag_error,
        "flag_values": flag_values or ({"reason": flagged.reason, "note": flagged.note} if flagged else {}),
        "flag_reasons": FlagReason.choices,
        "submission_id": uuid.uuid4().hex,
        "progress": progress,
        "labels": [
            {
                "key": label["key"],
                "label": label["label"],
                "left_key": str(i + 1),
                "right_key": str(i + 4),
                "right_alt": "qwe"[i],
            }
            for i, label in enumerate(session.accuracy_labels)
        ],  # fmt: skip
        "back_url": reverse("annotation:judge-back", args=[session.pk]) + f"?from={assignment.token}",
        "lang": "ja" if _has_japanese(assignment.item.question + assignment.item.context) else "en",
    }


def _has_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


def _submission_from(data) -> judging.Submission:
    return judging.Submission(
        left_label=str(data.get("left_label") or ""),
        right_label=str(data.get("right_label") or ""),
        preference=str(data.get("preference") or ""),
        comment=str(data.get("comment") or ""),
        submission_id=str(data.get("submission_id") or ""),
    )


def _late(request: HttpRequest, session: JudgingSession | None) -> HttpResponse:
    """A submit for a slot that went to another judge: say so and lead on to the judge's next item."""
    context = {"message": judging.LATE_MESSAGE, "next_url": _next_url(session) if session is not None else None}
    return render(request, "annotation/gone.html", context, status=410)


def _posted_session(request: HttpRequest) -> JudgingSession | None:
    """The session a refused form came from (its hidden field), if this judge takes part in it."""
    pk = request.POST.get("session", "")
    session = JudgingSession.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
    return session if session is not None and may_judge(session, request.user) else None


@_hot_judge
@never_cache
@require_http_methods(["GET", "POST"])
def judge_item(request: HttpRequest, token: str) -> HttpResponse:
    """The judging page and its form. The hot path is the JSON API's: the page is one read (the assignment with
    the judges-only rule and the judge's counts), a submit is judging.submit()'s read and one write, then the
    next item by membership() and the one-statement lease."""
    if request.method == "POST" and request.POST.get("action") != "flag":
        return _submit_and_go(request, token)
    try:
        assignment = judging.page_assignment(token, request.user)
    except judging.NotAJudge as exc:
        raise PermissionDenied("Judges only.") from exc
    except judging.AssignmentGone as exc:
        if request.method == "POST":
            return _late(request, _posted_session(request))
        return render(request, "annotation/gone.html", {"message": str(exc)}, status=410)
    if request.method == "GET":
        return render(request, "annotation/judge_item.html", _page_context(assignment, request), using="jinja2")
    return _flag_and_go(request, assignment)


def _submit_and_go(request: HttpRequest, token: str) -> HttpResponse:
    """Store the page's judgment (the service's one read checks ownership and the judges-only rule), then on to
    the next item, or forward through the judge's history after an edit. Only the error paths read more."""
    submission = _submission_from(request.POST)
    try:
        result = judging.submit(token, request.user, submission)
    except judging.NotAJudge as exc:
        raise PermissionDenied("Judges only.") from exc
    except judging.AssignmentGone:
        return _late(request, _posted_session(request))
    except assigning.SessionClosed:
        return render(request, "annotation/closed.html", {"session": _own_session(request, token)}, status=409)
    except judging.JudgingError as exc:
        try:
            assignment = judging.page_assignment(token, request.user)
        except judging.AssignmentGone:
            return _late(request, _posted_session(request))
        values = {
            "left_label": submission.left_label,
            "right_label": submission.right_label,
            "preference": submission.preference,
            "comment": submission.comment,
        }
        context = _page_context(assignment, request, values=values, error=str(exc))
        return render(request, "annotation/judge_item.html", context, status=400, using="jinja2")
    assignment = result.judgment.assignment  # read by submit, with its session
    session = assignment.session
    # A first judgment is of the newest item in hand, so only an edit can have judged items after it.
    following = None if result.created else judging.following_token(session, request.user, assignment)
    if following is not None:  # the judge went back: walk forward through their history
        return redirect(_item_url(following))
    return _hot_lease_and_go(request, session)


def _own_session(request: HttpRequest, token: str) -> JudgingSession | None:
    """The session of the judge's own assignment (error paths only)."""
    return JudgingSession.objects.filter(assignments__token=token, assignments__judge=request.user).first()


def _hot_lease_and_go(request: HttpRequest, session: JudgingSession) -> HttpResponse:
    """After a submit: the next item by the hot path (membership + one statement), else the long way."""
    try:
        token, _ = _hot_lease(request, session.pk)
    except assigning.SessionClosed:
        return render(request, "annotation/closed.html", {"session": session}, status=409)
    if token is not None:
        return redirect(_item_url(token))
    return _lease_and_go(request, session)


def _flag_and_go(request: HttpRequest, assignment: Assignment) -> HttpResponse:
    """Flag and skip: store the flag, then on to the next item (or forward through the judge's history)."""
    session = assignment.session
    reason, note = str(request.POST.get("flag_reason") or ""), str(request.POST.get("flag_note") or "")
    try:
        judging.flag(assignment.token, request.user, reason, note)
    except judging.JudgingError as exc:
        context = _page_context(assignment, request, flag_error=str(exc), flag_values={"reason": reason, "note": note})
        return render(request, "annotation/judge_item.html", context, status=400, using="jinja2")
    except judging.AssignmentGone:
        return _late(request, session)
    except assigning.SessionClosed:
        return render(request, "annotation/closed.html", {"session": session}, status=409)
    following = judging.following_token(session, request.user, assignment) if assignment.submitted_at else None
    if following is not None:
        return redirect(_item_url(following))
    return _lease_and_go(request, session)


# --- JSON API for judges (same rules as the pages: own assignments only, no system names) ---------------


def _api_progress(session: JudgingSession, user) -> dict:
    progress = assigning.judge_progress(session, user, max_age=PROGRESS_CACHE_SECONDS)
    return {"done": progress.done, "position": progress.position, "total": progress.total}


@_hot_judge
@never_cache
@require_POST
def api_next(request: HttpRequest, pk: int) -> JsonResponse:
    try:
        token, member = _hot_lease_joining(request, pk)
    except assigning.SessionClosed as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    if token is not None:  # the hot path: user, membership, lease, this read
        assignment = Assignment.objects.select_related("session", "item").get(token=token)
        progress = assigning.judge_progress(
            assignment.session, request.user, max_age=PROGRESS_CACHE_SECONDS, known=(member.done, 1)
        )
        return JsonResponse(
            {
                "done": False,
                "token": token,
                "url": _item_url(token),
                "item": judging.display(assignment),
                "progress": {"done": progress.done, "position": progress.position, "total": progress.total},
            }
        )
    _judges_only(request)
    session = _session_for(request, pk)
    try:
        assignment = assigning.next_assignment(session, request.user)
    except assigning.SessionClosed as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    if assignment is None:
        return JsonResponse({"done": True, "progress": _api_progress(session, request.user)})
    return JsonResponse(
        {
            "done": False,
            "token": assignment.token,
            "url": _item_url(assignment.token),
            "item": judging.display(assignment),
            "progress": _api_progress(session, request.user),
        }
    )


@_hot_judge
@never_cache
@require_http_methods(["GET", "POST"])
def api_assignment(request: HttpRequest, token: str) -> JsonResponse:
    if request.method == "POST":
        return _api_submit(request, token)
    _judges_only(request)
    try:
        assignment = judging.own_assignment(token, request.user)
    except judging.AssignmentGone as exc:
        return JsonResponse({"error": str(exc)}, status=410)
    if request.method == "GET":
        judgment = getattr(assignment, "judgment", None)
        return JsonResponse(
            {
                "item": judging.display(assignment),
                "judgment": judging.to_display_terms(assignment, judgment) if judgment else None,
                "progress": _api_progress(assignment.session, request.user),
            }
        )
    raise AssertionError("unreachable: GET and POST only")


def _api_submit(request: HttpRequest, token: str) -> JsonResponse:
    """The hot path of a submit: the service's one locking read checks ownership and the judges-only rule."""
    problem = ""
    try:
        payload = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload, problem = None, "The body is not valid JSON (UTF-8)."
    if not isinstance(payload, dict):
        # Only now (an error path) is ownership read separately: someone else's item is gone whatever was sent.
        if not Assignment.objects.filter(token=token, judge_id=request.user.pk).exists():
            return JsonResponse({"error": judging.GONE_MESSAGE}, status=410)
        return JsonResponse({"error": problem or "The body must be a JSON object."}, status=400)
    try:
        result = judging.submit(token, request.user, _submission_from(payload))
    except judging.NotAJudge as exc:
        raise PermissionDenied("Judges only.") from exc
    except judging.JudgingError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except judging.AssignmentGone:
        # The slot went to someone else: point at the judge's next item in the session it belonged to.
        session_id = Assignment.objects.filter(token=token).values_list("session_id", flat=True).first()
        body = {"error": judging.LATE_MESSAGE}
        if session_id is not None:
            body["next"] = reverse("annotation:api-next", args=[session_id])
        return JsonResponse(body, status=410)
    except assigning.SessionClosed as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    assignment = result.judgment.assignment
    return JsonResponse(
        {
            "stored": True,
            "created": result.created,
            "changed": result.changed,
            "judgment": judging.to_display_terms(assignment, result.judgment),
        }
    )


@judge_required
@never_cache
@require_POST
def api_flag(request: HttpRequest, token: str) -> JsonResponse:
    """Flag and skip through the API: {"reason": "unanswerable" | "identical" | "other", "note": "..."}."""
    problem = ""
    try:
        payload = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        payload, problem = None, "The body is not valid JSON (UTF-8)."
    if not isinstance(payload, dict):
        # Only now (an error path) is ownership read separately: someone else's item is gone whatever was sent.
        if not Assignment.objects.filter(token=token, judge_id=request.user.pk).exists():
            return JsonResponse({"error": judging.GONE_MESSAGE}, status=410)
        return JsonResponse({"error": problem or "The body must be a JSON object."}, status=400)
    try:
        result = judging.flag(token, request.user, str(payload.get("reason") or ""), str(payload.get("note") or ""))
    except judging.JudgingError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    except judging.AssignmentGone as exc:
        return JsonResponse({"error": str(exc)}, status=410)
    except assigning.SessionClosed as exc:
        return JsonResponse({"error": str(exc)}, status=409)
    return JsonResponse({"flagged": True, "created": result.created, "reason": result.flag.reason})
