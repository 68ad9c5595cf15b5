"""Judging URLs (namespace "annotation"): the judges' pages and judging API, then staff session management.

Statistics, exports, the read-only API and sessions built from evaluation runs are the analysis app's
(/analysis/ and /api/); their old addresses under /annotation/ redirect there permanently.
"""

from __future__ import annotations

from django.urls import path, re_path
from django.views.generic import RedirectView

from annotation import staff_invite_views, staff_views, views, views_invite

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
    # judges invited through a link (the invitation itself is the one page anonymous visitors reach)
    path("i/<str:token>/", views_invite.invite_open, name="invite-open"),
    path("welcome/", views_invite.invite_continue, name="invite-continue"),
    path("welcome/consent/", views_invite.invite_consent, name="invite-consent"),
    path("welcome/instructions/", views_invite.invite_instructions, name="invite-instructions"),
    path("welcome/qualification/", views_invite.invite_qualify, name="invite-qualify"),
    path("welcome/finished/", views_invite.invite_finish, name="invite-finish"),
    path("welcome/screened-out/", views_invite.invite_screened_out, name="invite-screened-out"),
    # staff: recruiting judges
    path("sessions/<int:pk>/recruit/", staff_invite_views.recruit, name="session-recruit"),
    path("sessions/<int:pk>/recruit/settings/", staff_invite_views.recruit_settings, name="recruit-settings"),
    path("sessions/<int:pk>/recruit/links/", staff_invite_views.invitation_new, name="invitation-new"),
    path("sessions/<int:pk>/recruit/links/<int:link>/revoke/", staff_invite_views.invitation_revoke,
         name="invitation-revoke"),
    path("sessions/<int:pk>/recruit/links/<int:link>/resend/", staff_invite_views.invitation_resend,
         name="invitation-resend"),
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
