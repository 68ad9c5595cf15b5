"""Redirect targets that come from the request (a `next` field or parameter) are checked here, once.

A hand-written "starts with / but not //" test lets `/\\evil.example` through, which browsers read as
`//evil.example` (another host). Django's own check handles that, backslashes, schemes like `javascript:`
and control characters, so every view that follows a request-supplied target asks this module.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request: HttpRequest, fallback: str, *, field: str = "next") -> str:
    """The request's `next` (POST first, then GET) if it stays on this site, else `fallback`."""
    target = request.POST.get(field) or request.GET.get(field) or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback
