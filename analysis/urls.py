"""Staff pages of the analysis app (namespace "analysis"), mounted at /analysis/. Exports are served once,
by the read-only API (analysis/api_urls.py, /api/), which accepts a staff session as well as a token."""

from __future__ import annotations

from django.urls import path

from analysis import llm_views, views

app_name = "analysis"
urlpatterns = [
    path("sessions/from-runs/", views.session_from_runs, name="session-from-runs"),
    path("sessions/<int:pk>/statistics/", views.session_stats, name="session-stats"),
    path("sessions/<int:pk>/ranking/", views.session_ranking, name="session-ranking"),
    path("sessions/<int:pk>/judges/", views.judge_report_page, name="judge-report"),
    path("sessions/<int:pk>/judges.csv", views.judge_report_csv, name="judge-report-csv"),
    path("sessions/<int:pk>/statistics/items/", views.session_item_table, name="session-item-table"),
    path("experiments/<int:pk>/session/", views.session_from_experiment, name="session-from-experiment"),
    path(
        "experiments/<int:pk>/session/all/", views.session_from_experiment_cells, name="session-from-experiment-cells"
    ),
    path("experiments/<int:pk>/statistics/", views.experiment_stats, name="experiment-stats"),
    path("sessions/<int:pk>/llm-judge/", llm_views.session_llm_runs, name="session-llm-runs"),
    path("sessions/<int:pk>/llm-judge/start/", llm_views.start_llm_run, name="session-llm-start"),
    path("llm-judge/<int:pk>/", llm_views.llm_run, name="llm-run"),
    path("llm-judge/<int:pk>/agreement.json", llm_views.llm_run_agreement, name="llm-run-agreement"),
    path("llm-judge/<int:pk>/send-unsure/", llm_views.send_unsure, name="llm-run-send-unsure"),
    path("llm-judge/<int:pk>/votes.csv", llm_views.llm_run_verdicts, name="llm-run-votes"),
]
