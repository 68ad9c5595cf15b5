"""URL map: admin, auth, and one include per app."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "qasynth administration"
admin.site.site_title = "qasynth"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("generation/", include("generation.urls")),
    path("training/", include("training.urls")),
    path("annotation/", include("annotation.urls")),  # judges' pages, staff session management
    path("analysis/", include("analysis.urls")),  # statistics, sessions from evaluation runs
    path("api/", include("analysis.api_urls")),  # read-only API and exports (token or staff session)
    path("", include("core.urls")),
]
