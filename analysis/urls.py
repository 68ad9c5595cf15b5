"""Staff pages of the analysis app (namespace "analysis"), mounted at /analysis/. Exports are served once,
by the read-only API (analysis/api_urls.py, /api/), which accepts a staff session as well as a token."""

from __future__ import annotations

from django.urls import path

from analysis import views

app_name = "analysis"
urlpatterns = [
    path("sessions/from-runs/", views.session_from_runs, name="session-from-runs"),
    path("sessions/<int:pk>/statistics/", views.session_stats, name="session-stats"),
    path("sessions/<int:pk>/ranking/", views.session_ranking, name="session-ranking"),
    path("sessions/<int:pk>/statistics/items/", views.session_item_table, name="session-item-table"),
    path("experiments/<int:pk>/session/", views.session_from_experiment, name="session-from-experiment"),
    path(
        "experiments/<int:pk>/session/all/", views.session_from_experiment_cells, name="session-from-experiment-cells"
    ),
    path("experiments/<int:pk>/statistics/", views.experiment_stats, name="experiment-stats"),
]
