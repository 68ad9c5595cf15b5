"""Turning a lost database connection into a clear "try again" answer instead of a bare 500.

A PostgreSQL restart, a failover or a killed backend surfaces in a view as OperationalError or
InterfaceError. The view's transaction is gone with the connection (nothing of it is stored), Django
drops the broken connection when the request ends, and the next request reconnects, so the honest
answer is 503 with Retry-After. Every write a user can repeat here is idempotent (judging submits carry a
submission id), so "send it again" is safe advice.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
MESSAGE = (
    "The database connection was lost while handling this request, so it was not completed. "
    "Please try again in a few seconds: sending the same form again is safe."
)


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "/api/" in request.path or request.content_type == "application/json" or "application/json" in accept


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, exception)
        # A connection the server dropped is useless: close it now, so this thread's next query opens a new one
        # (whatever the request cycle's own clean-up does; a persistent connection would otherwise stay dead).
        for alias in connections:
            if not connections[alias].is_usable():
                connections[alias].close()
        if wants_json(request):
            response: HttpResponse = JsonResponse({"error": MESSAGE}, status=503)
        else:
            # Rendered without the request: context processors would query the database that just failed.
            response = HttpResponse(loader.render_to_string("503.html", {"message": MESSAGE}), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
