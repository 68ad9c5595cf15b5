"""URL map: admin, auth, and one include per app."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import FileResponse, HttpRequest
from django.urls import include, path
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

admin.site.site_header = "qasynth administration"
admin.site.site_title = "qasynth"


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> FileResponse:
    """Browsers ask for /favicon.ico on every page whatever the HTML says; answer it instead of logging 404s."""
    return FileResponse(open(settings.BASE_DIR / "static" / "favicon.ico", "rb"), content_type="image/x-icon")


urlpatterns = [
    path("favicon.ico", favicon, name="favicon"),
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
