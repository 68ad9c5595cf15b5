"""Settings come from the environment: database, broker, secrets, hosts, and a clean deploy check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'name': str(s.DATABASES['default']['NAME']),"
    " 'opts': s.DATABASES['default'].get('OPTIONS', {}), 'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG,"
    " 'prepare': s.DB_PREPARE_THRESHOLD,"
    " 'hosts': s.ALLOWED_HOSTS, 'data': str(s.DATA_DIR), 'secret': s.SECRET_KEY}))"
)

pytestmark = pytest.mark.sqlite_smoke


def probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "DEBUG"}
    }
    clean.update({"DJANGO_SETTINGS_MODULE": "qasynth_web.settings", "QASYNTH_DATA_DIR": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-c", PROBE], cwd=REPO, env=clean, capture_output=True, text=True)


def make_key_file(data_dir: Path) -> None:
    """What ./run does before its first manage.py command."""
    command = [sys.executable, "-m", "qasynth_lib.secret_key", str(data_dir / "secret_key")]
    subprocess.run(command, cwd=REPO, check=True)


def settings_with(tmp_path: Path, **env: str) -> dict:
    if "SECRET_KEY" not in env:
        make_key_file(tmp_path)
    out = probe(tmp_path, **env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_database_url_it_uses_sqlite_in_wal_mode_under_the_data_dir(tmp_path):
    s = settings_with(tmp_path)
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"] == str(tmp_path / "qasynth.sqlite3")
    assert s["opts"]["transaction_mode"] == "IMMEDIATE" and "journal_mode=WAL" in s["opts"]["init_command"]
    assert s["broker"] == "filesystem://"
    assert s["debug"] is False


def test_database_url_and_broker_url_select_postgresql_and_redis(tmp_path):
    s = settings_with(
        tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/somedb", CELERY_BROKER_URL="redis://127.0.0.1:6379/3"
    )
    assert s["engine"] == "django.db.backends.postgresql" and s["name"] == "somedb"
    assert s["broker"] == "redis://127.0.0.1:6379/3"


def test_postgresql_prepares_the_hot_statements_unless_told_off_for_a_pooler(tmp_path):
    url = "postgres://postgres@127.0.0.1:5432/somedb"
    assert settings_with(tmp_path, DATABASE_URL=url)["prepare"] == 2
    assert settings_with(tmp_path, DATABASE_URL=url, DB_PREPARE_THRESHOLD="5")["prepare"] == 5
    assert settings_with(tmp_path, DATABASE_URL=url, DB_PREPARE_THRESHOLD="off")["prepare"] is None
    # never on the whole connection (psycopg would keep the text of the ORM's statements): the hot cursor's own
    assert "prepare_threshold" not in settings_with(tmp_path, DATABASE_URL=url)["opts"]
    make_key_file(tmp_path)
    bad = probe(tmp_path, DATABASE_URL=url, DB_PREPARE_THRESHOLD="twice")
    assert bad.returncode != 0 and "DB_PREPARE_THRESHOLD must be a whole number of runs or 'off'" in bad.stderr


def test_secret_key_and_hosts_come_from_the_environment(tmp_path):
    s = settings_with(tmp_path, SECRET_KEY="k" * 60, ALLOWED_HOSTS="qa.example.org,other.example.org")
    assert s["secret"] == "k" * 60
    assert s["hosts"] == ["qa.example.org", "other.example.org"]


def test_without_a_secret_key_settings_refuse_to_load_and_write_nothing(tmp_path):
    out = probe(tmp_path)
    assert out.returncode != 0
    assert f"no secret key: set the SECRET_KEY environment variable, or create {tmp_path / 'secret_key'}" in out.stderr
    assert not (tmp_path / "secret_key").exists()


def test_the_key_file_made_once_per_installation_is_what_settings_read(tmp_path):
    make_key_file(tmp_path)
    stored = (tmp_path / "secret_key").read_text()
    make_key_file(tmp_path)  # ./run again: the key stays
    assert (tmp_path / "secret_key").read_text() == stored and len(stored) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert settings_with(tmp_path)["secret"] == stored


def test_sqlite_really_runs_in_wal_mode(tmp_path):
    make_key_file(tmp_path)
    clean = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    clean.update({"DJANGO_SETTINGS_MODULE": "qasynth_web.settings", "QASYNTH_DATA_DIR": str(tmp_path)})
    code = (
        "import django; django.setup(); from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=clean, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "wal"


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    # Only what a production host would have: no test-only switches (the browser tests set
    # DJANGO_ALLOW_ASYNC_UNSAFE for Playwright's event loop).
    unwanted = {"DEBUG", "SECURE_SSL_REDIRECT", "DJANGO_ALLOW_ASYNC_UNSAFE", "QASYNTH_TESTING"}
    env = {k: v for k, v in os.environ.items() if k not in unwanted and not k.startswith("QASYNTH_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "qasynth_web.settings",
            "QASYNTH_DATA_DIR": str(tmp_path),
            "DEBUG": "0",
            "SECRET_KEY": "x8#Lp2@qZ9!vR4$tY7^wB1&nM5*cF3(hJ6)kD0-sG8+aE2=uQ4_oI7~rT1|yW9",
            "ALLOWED_HOSTS": "qa.example.org",
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
