from __future__ import annotations

from django.urls import path

from core import views
from core.permissions import staff_required

urlpatterns = [
    path("", views.home, name="home"),
    path("jobs/", staff_required(views.job_list), name="job-list"),
    path("jobs/<int:pk>/", staff_required(views.job_detail), name="job-detail"),
    path("jobs/<int:pk>/status.json", staff_required(views.job_status), name="job-status"),
    path("jobs/<int:pk>/cancel/", staff_required(views.job_cancel), name="job-cancel"),
    path("jobs/<int:pk>/retry/", staff_required(views.job_retry), name="job-retry"),
]
