"""Who may do what: staff run the lab, judges only judge."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet

JUDGES_GROUP = "judges"
INVITED_JUDGES_GROUP = "invited judges"
"""Judges who came through an invitation link: they judge one session only (annotation.middleware keeps them there)."""
JUDGING_GROUPS = (JUDGES_GROUP, INVITED_JUDGES_GROUP)
"""The judges-only rule: members of these groups (and staff) may use the judging pages. The one definition that
judge_required, the submit hot path and the membership query all read."""


def is_judge(user) -> bool:
    return user.is_authenticated and user.groups.filter(name=JUDGES_GROUP).exists()


def recorded_user(user):
    """The user to store as a row's creator: a real account, or None for anonymous/system callers."""
    return user if user is not None and getattr(user, "is_authenticated", False) else None


def staff_required(view):
    """Anonymous users go to the login page; logged-in non-staff get 403 (never a redirect loop)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not request.user.is_staff:
            raise PermissionDenied("Staff only.")
        return view(request, *args, **kwargs)

    return wrapper


def judging_group_rows(user_id: int | None) -> QuerySet:
    """The user's rows in the judging groups (JUDGING_GROUPS): `.exists()` alone, or `Exists()` inside a larger
    query so the hot paths check the rule without a query of their own."""
    from django.contrib.auth.models import User

    return User.groups.through.objects.filter(user_id=user_id, group__name__in=JUDGING_GROUPS)


def may_use_judging_pages(user) -> bool:
    """Judges (accounts in the judges group or judges invited by a link) and staff."""
    return judging_group_rows(user.pk).exists() or user.is_staff


def judge_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not may_use_judging_pages(request.user):
            raise PermissionDenied("Judges only.")
        return view(request, *args, **kwargs)

    return wrapper
