from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Jobs and models"

    def ready(self) -> None:
        # Each app declares its job kinds in a `job_handlers` module; importing them registers them.
        autodiscover_modules("job_handlers")
