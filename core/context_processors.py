"""Navigation links for staff, contributed by whichever apps define the named URLs."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

STAFF_LINKS = [
    ("Corpora", "generation:corpus-list"),
    ("Generation", "generation:run-list"),
    ("Datasets", "generation:dataset-list"),
    ("Training", "training:run-list"),
    ("Results", "training:results"),
    ("Experiments", "training:experiment-list"),
    ("Judging", "annotation:session-list"),
]


def navigation(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    links = []
    for label, name in STAFF_LINKS:
        try:
            links.append({"label": label, "url": reverse(name)})
        except NoReverseMatch:
            continue
    return {"staff_nav_links": links}
