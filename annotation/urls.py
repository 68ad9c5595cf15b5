"""Judging URLs (namespace "annotation"). The judge's home is also named "judge-home" at the root URL map,
because core's home view sends judges to reverse("judge-home")."""

from __future__ import annotations

from django.urls import path

from annotation import staff_views, views
from core.permissions import staff_required

app_name = "annotation"
urlpatterns = [
    path("", views.judge_home, name="judge-home"),
    path("s/<int:pk>/next/", views.judge_next, name="judge-next"),
    path("s/<int:pk>/back/", views.judge_back, name="judge-back"),
    path("s/<int:pk>/done/", views.judge_done, name="judge-done"),
    path("j/<str:token>/", views.judge_item, name="judge-item"),
    path("api/s/<int:pk>/next/", views.api_next, name="api-next"),
    path("api/j/<str:token>/", views.api_assignment, name="api-assignment"),
    # staff
    path("sessions/", staff_required(staff_views.session_list), name="session-list"),
    path("sessions/new/", staff_required(staff_views.session_new), name="session-new"),
    path("sessions/from-runs/", staff_required(staff_views.session_from_runs), name="session-from-runs"),
    path(
        "sessions/from-experiment/<int:pk>/",
        staff_required(staff_views.session_from_experiment),
        name="session-from-experiment",
    ),
    path("sessions/<int:pk>/", staff_required(staff_views.session_detail), name="session-detail"),
    path("sessions/<int:pk>/toggle/", staff_required(staff_views.session_toggle_open), name="session-toggle"),
    path("sessions/<int:pk>/controls/", staff_required(staff_views.session_add_controls), name="session-controls"),
]
