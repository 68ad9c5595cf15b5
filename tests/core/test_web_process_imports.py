"""The web process loads no model libraries: torch and transformers are for workers, imported where a job runs."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO, subprocess_env

HEAVY = ("torch", "transformers", "peft")

PROBE = """
import json, sys
import django
django.setup()
import qasynth_web.urls
import analysis.views, analysis.llm_views, annotation.views, generation.views, training.views, core.views
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(%r))))
"""


def test_importing_the_urls_and_views_loads_no_torch_transformers_or_peft():
    result = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)],
        cwd=REPO,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="qasynth_web.settings"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
