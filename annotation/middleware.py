"""The gate in front of the judging pages for judges who came through an invitation link.

Such a judge reaches only their own session's judge pages (``annotation:judge-*`` and ``annotation:api-*``,
each of which still checks that an assignment is theirs) and the invitation pages; everything else is a
404. Until they have consented, read the instructions and passed the qualification block, every judging
URL sends them to the step they are on; past their per-judge cap of items they are sent to the completion
page. Invited users have no usable password, which is how the gate recognises them without a query for
anyone else.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse

from annotation.models import Assignment, InvitedJudge
from annotation.services import hot_queries, recruiting

CONTINUE = "annotation:invite-continue"
FINISH = "annotation:invite-finish"
ALWAYS = {"logout"}


def invited_judge(request: HttpRequest) -> InvitedJudge | None:
    """The request's invited judge (read once per request), or None for everyone else."""
    if not hasattr(request, "_invited_judge"):
        user = getattr(request, "user", None)
        judge = None
        if user is not None and user.is_authenticated and not user.has_usable_password():
            judge = hot_queries.invited_judge(user)  # with its session, link and the session's Recruitment
        request._invited_judge = judge
    return request._invited_judge


class InvitedJudgeGate:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        judge = invited_judge(request)
        if judge is None:
            return self.get_response(request)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        name = match.url_name or ""
        if match.namespace != "annotation":
            if name in ALWAYS:
                return self.get_response(request)
            if name == "home":
                return redirect(CONTINUE)
            raise Http404("Not available to invited judges.")
        if name.startswith("invite-"):
            return self.get_response(request)
        if not (name.startswith("judge-") or name.startswith("api-")):
            raise Http404("Not available to invited judges.")
        if "pk" in match.kwargs and int(match.kwargs["pk"]) != judge.session_id:
            raise Http404("No such session.")
        if name == "judge-home":
            return redirect(CONTINUE)
        return self._judging(request, judge, name, match.kwargs) or self.get_response(request)

    def _judging(self, request: HttpRequest, judge: InvitedJudge, name: str, kwargs: dict) -> HttpResponse | None:
        api = name.startswith("api-")
        recruitment = getattr(judge.session, "recruitment", None)  # read with the judge
        step = recruiting.next_step(judge, recruitment, has_instructions=bool(judge.session.instructions.strip()))
        if step != recruiting.JUDGING:
            if api:
                return JsonResponse({"error": f"Not judging now ({step}).", "url": reverse(CONTINUE)}, status=403)
            return redirect(CONTINUE)
        recruiting.touch(judge)
        if name == "judge-done":
            return redirect(FINISH)
        if not (recruitment and recruitment.max_items_per_judge):
            return None
        if name in ("judge-next", "api-next") and recruiting.items_cap_reached(judge, recruitment):
            if api:
                return JsonResponse({"done": True, "finished": True, "url": reverse(FINISH)})
            return redirect(FINISH)
        if name in ("judge-item", "api-assignment") and request.method == "GET":
            fresh = Assignment.objects.filter(token=kwargs.get("token") or "", judge_id=judge.user_id,
                                              submitted_at__isnull=True)  # fmt: skip
            if fresh.exists() and recruiting.items_cap_reached(judge, recruitment):
                recruiting.give_back_unjudged(judge)  # leased by the submit that reached the cap
                if api:
                    return JsonResponse({"done": True, "finished": True, "url": reverse(FINISH)}, status=410)
                return redirect(FINISH)
        return None
