"""Judging URLs. Not namespaced: core's home view sends judges to reverse("judge-home")."""

from __future__ import annotations

from django.urls import path

from annotation import staff_views, views
from core.permissions import staff_required

urlpatterns = [
    path("", views.judge_home, name="judge-home"),
    path("s/<int:pk>/next/", views.judge_next, name="annotation-judge-next"),
    path("s/<int:pk>/back/", views.judge_back, name="annotation-judge-back"),
    path("s/<int:pk>/done/", views.judge_done, name="annotation-judge-done"),
    path("j/<str:token>/", views.judge_item, name="annotation-judge-item"),
    path("api/s/<int:pk>/next/", views.api_next, name="annotation-api-next"),
    path("api/j/<str:token>/", views.api_assignment, name="annotation-api-assignment"),
    # staff
    path("sessions/", staff_required(staff_views.session_list), name="annotation-session-list"),
    path("sessions/new/", staff_required(staff_views.session_new), name="annotation-session-new"),
    path("sessions/<int:pk>/", staff_required(staff_views.session_detail), name="annotation-session-detail"),
    path("sessions/<int:pk>/toggle/", staff_required(staff_views.session_toggle_open), name="annotation-toggle"),
    path("sessions/<int:pk>/controls/", staff_required(staff_views.session_add_controls), name="annotation-controls"),
]
