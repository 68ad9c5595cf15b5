"""`./run` as a user starts it: it prints the URL only once the web server answers, restarts a worker that is
killed (SIGKILL, as the out-of-memory killer does) while the web server keeps answering and a new worker
finishes the job, and Ctrl-C stops everything quietly."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, scaled, wait_for

pytestmark = [pytest.mark.slow]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=5)
        return True
    except OSError:
        return False


def user_environment() -> dict[str, str]:
    """This environment without what points at the test database and broker: ./run uses its own defaults (the
    short job intervals of the tests stay, so a killed worker's job is found stale in seconds)."""
    private = ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL", "QASYNTH_SQLITE_TEST_NAME")
    return {key: value for key, value in os.environ.items() if key not in private}


class Run:
    """./run in its own session (so Ctrl-C can be sent to its process group), on its own data dir and port."""

    def __init__(self, data_dir: Path, port: int):
        self.data_dir, self.port = data_dir, port
        self.url = f"http://127.0.0.1:{port}/"
        env = user_environment()
        env.update(PORT=str(port), HOST="127.0.0.1", QASYNTH_DATA_DIR=str(data_dir), QASYNTH_RUN_NO_JOBS="1",
                   WEB_WORKERS="1", WORKER_CONCURRENCY="1", PYTHONUNBUFFERED="1")  # fmt: skip
        self.out_path = data_dir / "run-console.txt"
        self.leftovers: list[int] = []
        self.out = open(self.out_path, "w")  # noqa: SIM115 - closed in stop()
        # Ctrl-C's SIGINT at its default in ./run, as in a terminal: a test run started in the background of a
        # non-interactive shell inherits SIGINT ignored, and bash can neither trap nor reset a signal ignored on entry.
        self.process = subprocess.Popen([str(REPO / "run")], cwd=REPO, env=env, stdout=self.out,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip

    def console(self) -> str:
        return self.out_path.read_text(errors="replace")

    def diagnosis(self, job_id: int) -> str:
        """What a failed wait needs to be understood from CI's output alone: the console, the worker's log and
        the job's own log."""
        worker_log = self.data_dir / "logs" / "worker.log"
        with sqlite3.connect(self.data_dir / "qasynth.sqlite3", timeout=30) as db:
            row = db.execute("SELECT status, attempts, log, error FROM core_job WHERE id = ?", (job_id,)).fetchone()
        tail = worker_log.read_text(errors="replace")[-6000:] if worker_log.exists() else "(no worker.log)"
        return f"job {job_id}: {row}\n--- console ---\n{self.console()}\n--- worker.log (tail) ---\n{tail}"

    def job(self, job_id: int) -> tuple[str, int, str]:
        with sqlite3.connect(self.data_dir / "qasynth.sqlite3", timeout=30) as db:
            row = db.execute("SELECT status, attempts, lease_owner FROM core_job WHERE id = ?", (job_id,)).fetchone()
        return row or ("", 0, "")

    def create_countdown(self, steps: int, step_seconds: float) -> int:
        code = (
            "from django.db import transaction; from core.services.jobs import create_job\n"
            f"with transaction.atomic(): job = create_job('countdown', {{'steps': {steps}, "
            f"'step_seconds': {step_seconds}}})\nprint(job.pk)"
        )
        env = user_environment()
        env["QASYNTH_DATA_DIR"] = str(self.data_dir)
        done = subprocess.run([str(REPO / ".venv/bin/python"), "manage.py", "shell", "-c", code], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=scaled(120), check=True)  # fmt: skip
        return int(done.stdout.strip().splitlines()[-1])

    def stop(self) -> int | None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # what Ctrl-C in its terminal sends
            try:
                self.process.wait(timeout=scaled(60))
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=scaled(30))
        self.out.close()
        # The web server, beat and worker run in sessions of their own: whatever outlived ./run is found by its
        # command line (each names this test's data dir), remembered for the test to fail on, and killed.
        found = subprocess.run(["pgrep", "-f", str(self.data_dir)], capture_output=True, text=True).stdout.split()
        self.leftovers = [int(pid) for pid in found]
        if self.leftovers:
            subprocess.run(["pkill", "-KILL", "-f", str(self.data_dir)], check=False)
        return self.process.returncode


def test_run_restarts_a_killed_worker_while_the_web_keeps_answering_and_stops_quietly(tmp_path):
    run = Run(tmp_path, free_port())
    try:
        wait_for(lambda: "qasynth is running at" in run.console() or run.process.poll() is not None, timeout=240,
                 interval=0.5, what="./run to print its URL")  # fmt: skip
        assert answers(run.url), "the URL was printed before the web server answered"
        console = run.console()
        assert f"qasynth is running at {run.url}" in console and "admin" in console.split("running at")[1]

        job_id = run.create_countdown(steps=40, step_seconds=0.3)
        wait_for(lambda: run.job(job_id)[0] == "running", timeout=120, what="the worker to start the job")
        first_owner = run.job(job_id)[2]
        worker_pid = int((tmp_path / "worker.pid").read_text())
        subprocess.run(["pkill", "-KILL", "-P", str(worker_pid)], check=False)
        os.kill(worker_pid, signal.SIGKILL)

        web_answers: list[bool] = []

        def finished() -> bool:
            web_answers.append(answers(run.url))
            return run.job(job_id)[0] == "succeeded"

        try:
            wait_for(finished, timeout=180, interval=0.5, what="a new worker to finish the job")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{run.diagnosis(job_id)}") from None
        status, attempts, owner = run.job(job_id)
        assert owner != first_owner and attempts == 2
        assert all(web_answers), f"the web server stopped answering ({web_answers.count(False)} misses)"
        assert run.process.poll() is None, run.console()
        assert "restarting it" in run.console()
    finally:
        code = run.stop()
    console = run.console()
    assert code == 0, console
    for noise in ("Killed", "supervise_worker", "while true", "No hostname was supplied", "AXES"):
        assert noise not in console, console
    assert "A process exited" not in console
    assert not answers(run.url), "the web server still answers after Ctrl-C"
    assert run.leftovers == [], "processes outlived ./run"
    assert not (tmp_path / "worker.pid").exists()
