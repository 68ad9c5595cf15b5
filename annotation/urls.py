"""Judging URLs (namespace "annotation"): the judges' pages and judging API, then staff session management.

Statistics, exports, the read-only API and sessions built from evaluation runs are the analysis app's
(/analysis/ and /api/); their old addresses under /annotation/ redirect there permanently.
"""

from __future__ import annotations

from django.urls import path, re_path
from django.views.generic import RedirectView

from annotation import staff_views, views

app_name = "annotation"


def moved(to: str) -> RedirectView:
    """A permanent redirect from an address of the time before the analysis app, query string kept."""
    return RedirectView.as_view(url=to, permanent=True, query_string=True)


urlpatterns = [
    # judges
    path("", views.judge_home, name="judge-home"),
    path("s/<int:pk>/next/", views.judge_next, name="judge-next"),
    path("s/<int:pk>/back/", views.judge_back, name="judge-back"),
    path("s/<int:pk>/done/", views.judge_done, name="judge-done"),
    path("j/<str:token>/", views.judge_item, name="judge-item"),
    path("api/s/<int:pk>/next/", views.api_next, name="api-next"),
    path("api/j/<str:token>/", views.api_assignment, name="api-assignment"),
    path("api/j/<str:token>/flag/", views.api_flag, name="api-flag"),
    # staff: sessions
    path("sessions/", staff_views.session_list, name="session-list"),
    path("sessions/new/", staff_views.session_new, name="session-new"),
    path("sessions/<int:pk>/", staff_views.session_detail, name="session-detail"),
    path("sessions/<int:pk>/toggle/", staff_views.session_toggle_open, name="session-toggle"),
    path("sessions/<int:pk>/controls/", staff_views.session_add_controls, name="session-controls"),
    # moved to the analysis app
    path("sessions/from-runs/", moved("/analysis/sessions/from-runs/")),
    path("sessions/from-experiment/<int:pk>/", moved("/analysis/experiments/%(pk)s/session/")),
    path("sessions/<int:pk>/statistics/", moved("/analysis/sessions/%(pk)s/statistics/")),
    path("sessions/<int:pk>/statistics/items/", moved("/analysis/sessions/%(pk)s/statistics/items/")),
    re_path(r"^sessions/(?P<pk>\d+)/export/(?P<rest>[^/]+)$", moved("/api/sessions/%(pk)s/export/%(rest)s")),
    path("experiments/<int:pk>/statistics/", moved("/analysis/experiments/%(pk)s/statistics/")),
]
