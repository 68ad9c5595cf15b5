"""Judging URLs (namespace "annotation"). The judge's home is also named "judge-home" at the root URL map,
because core's home view sends judges to reverse("judge-home")."""

from __future__ import annotations

from django.urls import path

from annotation import staff_views, views, views_stats
from annotation.api import SessionExport
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
    path("api/j/<str:token>/flag/", views.api_flag, name="api-flag"),
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
    # statistics and exports (views_stats; the export view is the API's: staff session or token)
    path("sessions/<int:pk>/statistics/", staff_required(views_stats.session_stats), name="session-stats"),
    path(
        "sessions/<int:pk>/statistics/items/", staff_required(views_stats.session_item_table), name="session-item-table"
    ),
    path("sessions/<int:pk>/export/<str:table>.<str:fmt>", SessionExport.as_view(), name="session-export"),
    path("experiments/<int:pk>/statistics/", staff_required(views_stats.experiment_stats), name="experiment-stats"),
]
