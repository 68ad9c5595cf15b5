"""Settings for the test suite: the production settings with short job intervals and a private data dir.

The intervals are set through the environment (not overridden here) so the real worker process that the
tests start reads the same values.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from qasynth_lib.secret_key import ensure_secret_key

os.environ.setdefault("QASYNTH_TESTING", "1")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("QASYNTH_HEARTBEAT_SECONDS", "0.5")
os.environ.setdefault("QASYNTH_STALE_AFTER_SECONDS", "3")
os.environ.setdefault("QASYNTH_SWEEP_SECONDS", "1")
os.environ.setdefault("QASYNTH_REQUEUE_AFTER_SECONDS", "4")
os.environ.setdefault("AXES_ENABLED", "0")
if "QASYNTH_DATA_DIR" not in os.environ:
    # A private data dir for this test session (its worker processes inherit it through the environment), removed
    # when the process that made it exits, however the session ended (--collect-only included).
    _created = tempfile.mkdtemp(prefix="qasynth-test-")
    os.environ["QASYNTH_DATA_DIR"] = _created
    _creator = os.getpid()
    atexit.register(lambda: os.getpid() == _creator and shutil.rmtree(_created, ignore_errors=True))
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"... when ./test runs processes side by side
if _xdist_worker and os.environ.get("QASYNTH_TEST_PROCESS_SPLIT") != _xdist_worker:
    # Each test process gets its own data dir (SQLite file, filesystem broker, caches, its Celery worker's
    # folders) under the session's, and its own Redis database, so one process's worker never takes another
    # process's jobs. The environment carries both to the workers it starts, marked as done so that their own
    # import of these settings does not split again.
    os.environ["QASYNTH_TEST_PROCESS_SPLIT"] = _xdist_worker
    _mine = Path(os.environ["QASYNTH_DATA_DIR"]) / _xdist_worker
    _mine.mkdir(parents=True, exist_ok=True)
    os.environ["QASYNTH_DATA_DIR"] = str(_mine)
    _broker = os.environ.get("CELERY_BROKER_URL", "")
    if _broker.startswith(("redis://", "rediss://")):
        _url = urlsplit(_broker)
        _base = int(_url.path.strip("/") or 0)
        _db = _base + 1 + int(_xdist_worker.removeprefix("gw"))
        os.environ["CELERY_BROKER_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))
if not os.environ.get("SECRET_KEY"):  # what ./run does before the first manage.py command
    ensure_secret_key(Path(os.environ["QASYNTH_DATA_DIR"]) / "secret_key")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests only
