"""Settings for the test suite: the production settings with short job intervals and a private data dir.

The intervals are set through the environment (not overridden here) so the real worker process that the
tests start reads the same values.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

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
if not os.environ.get("SECRET_KEY"):  # what ./run does before the first manage.py command
    ensure_secret_key(Path(os.environ["QASYNTH_DATA_DIR"]) / "secret_key")

from .settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests only
