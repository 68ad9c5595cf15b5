"""Read-only API URLs (namespace "api"), mounted at /api/ by qasynth_web/urls.py."""

from __future__ import annotations

from django.urls import path

from analysis import api

app_name = "api"
urlpatterns = [
    path("sessions/", api.SessionList.as_view(), name="session-list"),
    path("sessions/<int:pk>/", api.SessionDetail.as_view(), name="session-detail"),
    path("sessions/<int:pk>/judgments/", api.SessionJudgments.as_view(), name="session-judgments"),
    path("sessions/<int:pk>/items/", api.SessionItems.as_view(), name="session-items"),
    path("sessions/<int:pk>/statistics/", api.SessionStatisticsView.as_view(), name="session-statistics"),
    path("sessions/<int:pk>/llm-judges/", api.SessionLLMJudgesView.as_view(), name="session-llm-judges"),
    path("sessions/<int:pk>/export/<str:table>.<str:fmt>", api.SessionExport.as_view(), name="session-export"),
    path("experiments/<int:pk>/summary/", api.ExperimentSummaryView.as_view(), name="experiment-summary"),
]
