"""Shared fixtures: a small named world (an admin, two judges) and ONE real Celery worker for the session.

The worker is a real `celery worker` process (plus `celery beat` for the sweep) talking to the same test
database as the tests, over Redis when CELERY_BROKER_URL is set and kombu's filesystem transport
otherwise. Tests that use it need committed data: they use `transactional_db` (the `worker` fixture
requests it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, User

from core.permissions import JUDGES_GROUP

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


# --- time budgets that survive a loaded machine ---------------------------------------------------------


def timeout_factor() -> float:
    """How many times longer than on an idle machine a wait may take: QASYNTH_TEST_TIMEOUT_FACTOR (default 1),
    raised to the load average per core when that is higher (load 13 on 2 cores gives 6.5). Read afresh on
    every call, so a wait that starts on a quiet machine still stretches when the machine gets busy."""
    configured = float(os.environ.get("QASYNTH_TEST_TIMEOUT_FACTOR") or 1)
    try:
        per_core = os.getloadavg()[0] / (os.cpu_count() or 1)
    except OSError:  # no load average on this platform
        per_core = 0.0
    return max(1.0, configured, min(per_core, 20.0))


def scaled(seconds: float) -> float:
    """A budget in seconds measured on an idle 2-core machine, stretched for this machine's load."""
    return seconds * timeout_factor()


@pytest.hookimpl(trylast=True)
def pytest_configure(config) -> None:
    # pytest-timeout's per-test limit is a last resort against hangs: stretch it like every other budget.
    if getattr(config, "_env_timeout", None):
        config._env_timeout = scaled(config._env_timeout)


def database_url_for_subprocess() -> str:
    """The URL of the database the tests use right now (the test database, not the configured one)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        name = db["NAME"]
        if name == ":memory:" or str(name).startswith("file:memorydb"):
            raise RuntimeError("A real worker needs a file-backed SQLite test database.")
        return f"sqlite:///{name}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


@dataclass
class ProcessHandle:
    """A worker (or beat) process started by a test, with its log file."""

    process: subprocess.Popen
    log_path: Path
    name: str
    extra: dict = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Kill the whole process group (the prefork children too), as an OOM killer or a crash would."""
        if self.alive():
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass
            self.process.wait(timeout=scaled(20))

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=scaled(15))
            except (subprocess.TimeoutExpired, ProcessLookupError):
                self.kill()


def subprocess_env(**overrides: str) -> dict[str, str]:
    env = os.environ.copy()
    env["DJANGO_SETTINGS_MODULE"] = "qasynth_web.test_settings"
    env["DATABASE_URL"] = database_url_for_subprocess()
    env["QASYNTH_DATA_DIR"] = str(settings.DATA_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    env.update(overrides)
    return env


def start_worker(
    name: str,
    *,
    queues: str = "default,gpu",
    concurrency: int = 2,
    beat: bool = False,
    prefetch: int = 1,
    module: str = "celery",
    **env_overrides: str,
) -> ProcessHandle:
    """Start a real worker in its own process group and wait until it is consuming.

    `module` is what `python -m` runs with Celery's arguments (tests.support.gated_worker wraps Celery)."""
    log_dir = Path(settings.DATA_DIR) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    cmd = [
        sys.executable, "-m", module, "-A", "qasynth_web", "worker", "-Q", queues, "-c", str(concurrency),
        "-n", f"{name}@%h", f"--prefetch-multiplier={prefetch}", "-l", "info", "--without-gossip", "--without-mingle",
        "--without-heartbeat",
    ]  # fmt: skip
    if beat:
        cmd += ["-B", "-s", str(Path(settings.DATA_DIR) / f"beat-{name}")]
    handle = open(log_path, "w")  # noqa: SIM115 - owned by the process for its lifetime
    process = subprocess.Popen(
        cmd, cwd=REPO, env=subprocess_env(**env_overrides), stdout=handle, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    worker = ProcessHandle(process, log_path, name)

    def ready() -> bool:
        if not worker.alive():
            raise RuntimeError(f"worker {name} exited early:\n{worker.log()[-3000:]}")
        return "ready." in worker.log()

    try:
        wait_for(ready, timeout=60, what=f"worker {name} to be ready")
    except AssertionError as exc:
        worker.stop()
        raise RuntimeError(f"{exc}:\n{worker.log()[-3000:]}") from None
    return worker


def wait_for(predicate: Callable[[], object], timeout: float = 60, interval: float = 0.2, what: str = "condition"):
    """Poll until predicate() is truthy; fail with a message naming what was awaited.

    `timeout` is the budget on an idle machine; the wait lasts `scaled(timeout)`, re-evaluated while waiting,
    so a machine that gets busy meanwhile stretches it."""
    started = time.monotonic()
    factor = 1.0
    while True:
        value = predicate()
        if value:
            return value
        waited = time.monotonic() - started
        factor = max(factor, timeout_factor())
        if waited > timeout * factor:
            raise AssertionError(
                f"timed out after {waited:.0f} s waiting for {what} (budget {timeout} s x load factor {factor:.1f})"
            )
        time.sleep(interval)


class SharedWorker:
    """The session's worker; restarted if it died, as a process supervisor would restart it in production
    (Celery's Redis transport can exit with "Unrecoverable error" when the broker restarts)."""

    def __init__(self) -> None:
        self.handle: ProcessHandle | None = None
        self.restarts = 0

    def ensure(self) -> ProcessHandle:
        if self.handle is None or not self.handle.alive():
            if self.handle is not None:
                self.restarts += 1
            self.handle = start_worker("shared" if not self.restarts else f"shared-{self.restarts}", beat=True)
        return self.handle

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()


@pytest.fixture(scope="session")
def _session_worker(django_db_setup, django_db_blocker) -> Iterator[SharedWorker]:
    shared = SharedWorker()
    yield shared
    shared.stop()


@pytest.fixture
def worker(_session_worker: SharedWorker, transactional_db) -> Iterator[ProcessHandle]:
    """The shared real worker (with beat). Jobs left running by a test are cancelled afterwards."""
    from core.models import Job
    from core.services.jobs import cancel_job

    handle = _session_worker.ensure()
    yield handle
    for job in Job.objects.filter(status__in=["queued", "running"]):
        cancel_job(job)
    wait_for(lambda: not Job.objects.filter(status="running").exists(), timeout=30, what="running jobs to stop")


def keep_jobs_here(monkeypatch, *kinds: str) -> None:
    """Jobs of these kinds go to a queue no worker consumes, so the test runs them itself (core.services.jobs
    .run_job) even while the shared worker, started by an earlier test in this process, is up: it would
    otherwise receive the message and win the lease."""
    import dataclasses

    from core.services import jobs

    for kind in kinds:
        monkeypatch.setitem(jobs._HANDLERS, kind, dataclasses.replace(jobs.handler_for(kind), queue="no-worker-here"))


@pytest.fixture
def wait() -> Callable:
    return wait_for


# --- a small named world ------------------------------------------------------------------------------


def make_user(username: str, *, staff: bool = False, judge: bool = False, password: str = "pw-for-tests-1") -> User:
    # Staff are the lab's admins: they get the admin site's permissions too.
    user = User.objects.create_user(username=username, password=password, is_staff=staff, is_superuser=staff)
    if judge:
        group, _ = Group.objects.get_or_create(name=JUDGES_GROUP)
        user.groups.add(group)
    return user


@pytest.fixture
def alice(db) -> User:
    """Alice is staff: she runs jobs and sessions."""
    return make_user("alice", staff=True)


@pytest.fixture
def bob(db) -> User:
    """Bob is a judge."""
    return make_user("bob", judge=True)


@pytest.fixture
def carol(db) -> User:
    """Carol is another judge."""
    return make_user("carol", judge=True)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# --- a private Redis ------------------------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PrivateRedis:
    """A redis-server this test started on a free port (nothing kept on disk); the only Redis a test may stop,
    restart or flush. The machine's shared Redis (6379) is never touched."""

    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *args], capture_output=True, text=True,
            timeout=scaled(10),
        )  # fmt: skip

    def ping(self) -> bool:
        try:
            return self.cli("ping").stdout.strip() == "PONG"
        except subprocess.TimeoutExpired:
            return False

    def start(self) -> None:
        subprocess.run(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "yes", "--dir", str(self.folder), "--pidfile", str(self.folder / "redis.pid")],
            check=True, capture_output=True, timeout=scaled(10),
        )  # fmt: skip
        wait_for(self.ping, timeout=10, interval=0.05, what=f"the private Redis on port {self.port}")

    def stop(self) -> None:
        self.cli("shutdown", "nosave")
        wait_for(lambda: not self.ping(), timeout=10, interval=0.05, what=f"the private Redis on {self.port} to stop")


@pytest.fixture
def private_redis(tmp_path) -> Iterator[PrivateRedis]:
    import shutil

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed here")
    redis = PrivateRedis(free_port(), tmp_path)
    redis.start()
    yield redis
    if redis.ping():
        redis.stop()


@pytest.fixture
def one_thread():
    """Tiny models run on one torch thread: faster on a shared 2-core machine, and the same results."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def loaded_dtypes(monkeypatch):
    """The parameter dtype of every model the model registry loads during the test, in order."""
    from core.services import model_registry

    seen: list = []
    real = model_registry.load_causal_lm

    def spying(entry, **kwargs):
        model, tokenizer = real(entry, **kwargs)
        seen.append(next(model.parameters()).dtype)
        return model, tokenizer

    monkeypatch.setattr(model_registry, "load_causal_lm", spying)
    return seen
