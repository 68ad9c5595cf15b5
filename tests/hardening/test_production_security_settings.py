"""The production settings (qasynth_web.settings with nothing but a production-like environment, not the
test settings, which hash with MD5 for speed): Argon2 password hashes, secure and HTTP-only cookies, HSTS,
login rate limiting on, and secrets read from the environment only."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
django.setup()
from django.conf import settings as s
from django.contrib.auth.hashers import make_password
from django.test import Client
page = Client().get("/accounts/login/", secure=True)
csrf = page.cookies["csrftoken"]
print(json.dumps({
    "hashers": s.PASSWORD_HASHERS, "hash": make_password("correct horse battery staple"),
    "session_secure": s.SESSION_COOKIE_SECURE, "session_httponly": s.SESSION_COOKIE_HTTPONLY,
    "csrf_secure": s.CSRF_COOKIE_SECURE, "csrf_cookie_secure_flag": bool(csrf["secure"]),
    "ssl_redirect": s.SECURE_SSL_REDIRECT, "hsts": s.SECURE_HSTS_SECONDS, "frame": s.X_FRAME_OPTIONS,
    "nosniff": s.SECURE_CONTENT_TYPE_NOSNIFF, "axes": s.AXES_ENABLED, "axes_limit": s.AXES_FAILURE_LIMIT,
    "axes_backend_first": s.AUTHENTICATION_BACKENDS[0], "status": page.status_code,
    "frame_header": page.headers.get("X-Frame-Options"), "debug": s.DEBUG,
}))
"""


def production_settings(tmp_path: Path, **env: str) -> dict:
    keep = {"PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV"}
    clean = {k: v for k, v in os.environ.items() if k in keep}
    clean.update(
        {"DJANGO_SETTINGS_MODULE": "qasynth_web.settings", "QASYNTH_DATA_DIR": str(tmp_path), "SECRET_KEY": "s" * 64,
         "ALLOWED_HOSTS": "testserver", **env}
    )  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=clean, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def production(tmp_path_factory) -> dict:
    return production_settings(tmp_path_factory.mktemp("production"))


def test_production_hashes_passwords_with_argon2_and_keeps_pbkdf2_for_old_hashes(production):
    s = production
    assert s["debug"] is False
    assert s["hashers"][0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in s["hashers"]
    assert not any("MD5" in h or "SHA1" in h or "Unsalted" in h for h in s["hashers"])
    assert s["hash"].startswith("argon2$argon2id$")


def test_production_cookies_are_secure_and_http_only_and_pages_are_framed_by_nobody(production):
    s = production
    assert s["session_secure"] and s["session_httponly"] and s["csrf_secure"]
    assert s["csrf_cookie_secure_flag"], "the CSRF cookie on the login page lacks the Secure flag"
    assert s["ssl_redirect"] and s["hsts"] >= 31536000 and s["nosniff"]
    assert s["frame"] == "DENY" and s["frame_header"] == "DENY" and s["status"] == 200


def test_login_rate_limiting_is_on_in_production(production, tmp_path):
    s = production
    assert s["axes"] is True and 1 <= s["axes_limit"] <= 20
    assert s["axes_backend_first"] == "axes.backends.AxesStandaloneBackend"
    assert production_settings(tmp_path, AXES_FAILURE_LIMIT="5")["axes_limit"] == 5


def test_no_secret_is_committed_to_the_repository():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    assert not [name for name in tracked if Path(name).name in (".env", "secret_key") or name.endswith(".pem")]
    assignment = re.compile(r"""(SECRET_KEY|PASSWORD|API_KEY|TOKEN)\s*=\s*["'][^"']{12,}["']""")
    found = []
    for name in tracked:
        if not name.endswith((".py", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".sh")) or name.startswith(
            ("tests/", "bench/")
        ):
            continue
        text = (REPO / name).read_text(errors="replace")
        found += [f"{name}: {match.group(0)[:40]}" for match in assignment.finditer(text)]
    assert not found, found


def test_endpoint_api_keys_are_read_from_the_environment_and_only_the_variable_name_is_stored(db, monkeypatch):
    from core.models import ModelEntry, ModelKind, ModelRole
    from core.services.model_registry import api_key

    entry = ModelEntry.objects.create(
        name="remote", kind=ModelKind.OPENAI, role=ModelRole.GENERATOR, base_url="http://127.0.0.1:9/v1",
        api_model="m", api_key_env="QASYNTH_HARDENING_KEY",
    )  # fmt: skip
    monkeypatch.setenv("QASYNTH_HARDENING_KEY", "sk-from-the-environment")
    assert api_key(entry) == "sk-from-the-environment"
    stored = json.dumps(list(ModelEntry.objects.filter(pk=entry.pk).values()), default=str)
    assert "sk-from-the-environment" not in stored
