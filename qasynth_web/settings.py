"""Settings for qasynth, read from the environment so one code base serves a laptop, CI and production.

Every knob that differs between deployments is an environment variable; nothing secret is committed.
Without DATABASE_URL the app runs on SQLite under QASYNTH_DATA_DIR, without CELERY_BROKER_URL on
kombu's filesystem transport: a newcomer needs no server to try it.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from qasynth_lib.secret_key import read_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = BASE_DIR / ".env"
if _env_file.exists():
    environ.Env.read_env(str(_env_file))

# Nothing is ever fetched from a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEBUG = env.bool("DEBUG", default=False)
DATA_DIR = Path(env.str("QASYNTH_DATA_DIR", default=str(BASE_DIR / "var"))).resolve()


# From the environment, else the per-installation file that ./run creates (settings only read it).
SECRET_KEY = env.str("SECRET_KEY", default="") or read_secret_key(DATA_DIR / "secret_key")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "core",
    "generation",
    "training",
    "annotation",
    "analysis",
    "firstrun",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "annotation.middleware.InvitedJudgeGate",  # judges invited by link reach only their session's judging pages
    "core.middleware.DatabaseUnavailableMiddleware",  # a lost DB connection -> 503 "try again", not a 500
]

ROOT_URLCONF = "qasynth_web.urls"
WSGI_APPLICATION = "qasynth_web.wsgi.application"
ASGI_APPLICATION = "qasynth_web.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
    {  # the judging page only (core/jinja2.py says why); views ask for it with using="jinja2"
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "NAME": "jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "core.jinja2.environment",
            "context_processors": [
                "core.jinja2.csrf",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
# IMMEDIATE takes the write lock at BEGIN, so two writers queue on the busy timeout instead of one failing
# with "database is locked" when it upgrades a read lock; WAL lets judges read while a job writes. Applied
# to a sqlite:// DATABASE_URL too (the test suite's worker processes get one).
SQLITE_OPTIONS = {
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
}
# Persistent connections by default (issue 12: opening one per request cost ~8% of a judging request);
# the health check drops a connection the server closed before a request uses it. DB_CONN_MAX_AGE=0
# restores one connection per request.
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", default=60)
# PostgreSQL: the judging hot path's hand-written statements (core.sql_rows.hot_cursor) are prepared on a
# connection after this many runs, which halved the database's CPU per judged item (planning was most of
# it). Only those statements: the hot cursor turns preparing on while it runs, and connections keep psycopg's
# prepare_threshold at None otherwise. A connection-wide threshold made psycopg count every ORM statement, whose
# client-bound text holds its values, and keep the last 100 of them: a 20 MB import kept 21 MB of INSERT text
# per connection. "off" for a pooler that cannot keep prepared statements (PgBouncer in transaction mode
# before 1.21).
_prepare = env.str("DB_PREPARE_THRESHOLD", default="2").strip().lower()
if _prepare in ("off", "none", ""):
    DB_PREPARE_THRESHOLD: int | None = None
elif _prepare.isdigit():
    DB_PREPARE_THRESHOLD = int(_prepare)
else:
    raise ImproperlyConfigured(f"DB_PREPARE_THRESHOLD must be a whole number of runs or 'off', not {_prepare!r}")
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db("DATABASE_URL")}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "qasynth.sqlite3"),
            "OPTIONS": dict(SQLITE_OPTIONS),
            "TEST": {"NAME": env.str("QASYNTH_SQLITE_TEST_NAME", default=str(DATA_DIR / "test-qasynth.sqlite3"))},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = DB_CONN_MAX_AGE
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "core.auth_backend.ModelBackend",  # Django's, with the per-request user read written out
    "django.contrib.auth.backends.ModelBackend",  # reads sessions signed in before the line above existed
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions: read from a cache shared by all web processes (files under the data dir, or Redis when
# SESSION_CACHE_URL is set), written through to the database. A judge's request then loads its session
# without a query; logout deletes it from both, so no process keeps a logged-out session alive.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "sessions": env.cache_url("SESSION_CACHE_URL", default=f"filecache://{DATA_DIR / 'cache' / 'sessions'}"),
}
CACHES["sessions"].setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", 20_000)
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "sessions"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_VERBOSE = False

# --- Security (production values come from DEBUG being off) -----------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", False) else None
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"

# Upload limits: a configurable ceiling on anything a user sends us.
QASYNTH_MAX_UPLOAD_BYTES = env.int("QASYNTH_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- i18n / static ------------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- Celery ---------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = DATA_DIR / "broker" / "queue"
    _processed_dir = DATA_DIR / "broker" / "processed"
    _control_dir = DATA_DIR / "broker" / "control"
    for _folder in (_queue_dir, _processed_dir, _control_dir):
        _folder.mkdir(parents=True, exist_ok=True)
    # kombu's filesystem transport with atomic publish and claim (it loses messages under load otherwise).
    CELERY_BROKER_TRANSPORT = "qasynth_web.filesystem_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(_processed_dir),
        "store_processed": False,
        "control_folder": str(_control_dir),
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TIMEZONE = TIME_ZONE

# The database is the source of truth for jobs (see core/services/jobs.py). These intervals decide how
# fast a dead worker is noticed; tests shrink them.
QASYNTH_HEARTBEAT_SECONDS = env.float("QASYNTH_HEARTBEAT_SECONDS", default=10.0)
QASYNTH_STALE_AFTER_SECONDS = env.float("QASYNTH_STALE_AFTER_SECONDS", default=60.0)
QASYNTH_SWEEP_SECONDS = env.float("QASYNTH_SWEEP_SECONDS", default=15.0)
QASYNTH_REQUEUE_AFTER_SECONDS = env.float("QASYNTH_REQUEUE_AFTER_SECONDS", default=120.0)
QASYNTH_JOB_MAX_ATTEMPTS = env.int("QASYNTH_JOB_MAX_ATTEMPTS", default=3)
# Session statistics: sessions with more judgments are computed by a job (analysis.statistics); replicates of
# the bootstrap intervals on the statistics page and API.
QASYNTH_STATS_INLINE_MAX_JUDGMENTS = env.int("QASYNTH_STATS_INLINE_MAX_JUDGMENTS", default=20_000)
# Invitation links (annotation.services.invitations): openings per address and minute, and refused tokens per
# address per window before the address must wait. Counted in the cache: set CACHE_URL (e.g. redis://...) so
# every web process shares the counts.
QASYNTH_INVITE_OPENS_PER_MINUTE = env.int("QASYNTH_INVITE_OPENS_PER_MINUTE", default=120)
QASYNTH_INVITE_FAILURE_LIMIT = env.int("QASYNTH_INVITE_FAILURE_LIMIT", default=20)
QASYNTH_INVITE_FAILURE_WINDOW_SECONDS = env.int("QASYNTH_INVITE_FAILURE_WINDOW_SECONDS", default=900)
if env.str("CACHE_URL", default=""):
    CACHES = {"default": env.cache("CACHE_URL")}
QASYNTH_STATS_REPLICATES = env.int("QASYNTH_STATS_REPLICATES", default=10_000)

# Periodic messages expire after three intervals: while the worker is busy (or the machine loaded) a backlog of
# sweeps would otherwise grow by two messages per interval, every one of them run in turn, and job messages wait
# behind all of them (each tick does the same work). The worker drops an expired message on receipt, unrun.
_PERIODIC = {"expires": 3 * QASYNTH_SWEEP_SECONDS}
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {"task": "core.tasks.sweep_jobs", "schedule": QASYNTH_SWEEP_SECONDS, "options": _PERIODIC},
    # Experiment orchestrator: starts grid stages whose inputs are ready, within the concurrency limit.
    "advance-experiments": {
        "task": "training.tasks.advance_experiments",
        "schedule": QASYNTH_SWEEP_SECONDS,
        "options": _PERIODIC,
    },
    # Invited judges silent past their session's idle timeout give their leased items back.
    "release-idle-judges": {"task": "annotation.tasks.release_idle_judges", "schedule": 60.0, "options": _PERIODIC},
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# --- DRF ------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 500,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
