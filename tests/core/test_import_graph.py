"""Every import between the project's packages points down the layering (scripts/import_graph.py)."""

from __future__ import annotations

import subprocess
import sys

from scripts.import_graph import ROOT, Import, violations


def test_the_project_has_no_import_pointing_up_and_no_engine_importing_django():
    result = subprocess.run(
        [sys.executable, "scripts/import_graph.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "0 violation(s)" in result.stdout


def test_the_check_names_an_upward_arrow_a_django_engine_and_a_hidden_import_in_analysis():
    planted = [
        Import(ROOT / "annotation" / "views.py", 3, "training.models", False),
        Import(ROOT / "training" / "engine" / "trainer.py", 4, "django.conf", False),
        Import(ROOT / "training" / "engine" / "trainer.py", 5, "core.models", False),
        Import(ROOT / "analysis" / "views.py", 6, "training.models", True),
        Import(ROOT / "core" / "models.py", 7, "generation.models", True),
    ]
    found = violations(planted)
    assert any("annotation/views.py:3" in p and "pointing up" in p for p in found)
    assert any("trainer.py:4" in p and "Django" in p for p in found)
    assert any("trainer.py:5" in p and "engine imports" in p for p in found)
    assert any("analysis/views.py:6" in p and "inside a function" in p for p in found)
    assert any("core/models.py:7" in p for p in found)
    assert violations([Import(ROOT / "analysis" / "views.py", 1, "training.models", False)]) == []
