from __future__ import annotations

from django.apps import AppConfig


class FirstRunConfig(AppConfig):
    """First-run set-up of a fresh install (demo users, offline models, demo corpus and session, first jobs).

    It stands at the top of the project because it wires every app together; no app imports it.
    """

    name = "firstrun"
    verbose_name = "First-run set-up"
