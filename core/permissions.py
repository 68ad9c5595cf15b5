"""Who may do what: staff run the lab, judges only judge."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied

JUDGES_GROUP = "judges"
INVITED_JUDGES_GROUP = "invited judges"
"""Judges who came through an invitation link: they judge one session only (annotation.middleware keeps them there)."""


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


def may_use_judging_pages(user) -> bool:
    """Judges (accounts in the judges group or judges invited by a link) and staff."""
    judging = user.groups.filter(name__in=(JUDGES_GROUP, INVITED_JUDGES_GROUP)).exists()
    return judging or user.is_staff


def judge_required(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not may_use_judging_pages(request.user):
            raise PermissionDenied("Judges only.")
        return view(request, *args, **kwargs)

    return wrapper
