"""A judge who pauses between requests keeps their connection: the server ./run starts must not close an
idle keep-alive connection under them (gunicorn's default 2 s did, and 5-11% of submits after a 2 s think
failed with a connection error and no response: issue 12)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from scripts.run_gunicorn import flag, gunicorn_argv
from tests.conftest import REPO, wait_for

PAUSE_S = 3.0  # the pause under test: longer than gunicorn's 2 s default, shorter than ./run's keep-alive


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _request(sock: socket.socket) -> bytes:
    """One keep-alive GET on an open socket; the whole response (headers + Content-Length body)."""
    sock.sendall(b"GET /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"server closed the connection; got {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection mid-body")
        body += chunk
    return head


def _serving(port: int) -> bool:
    """True once a worker answers (gunicorn listens before its workers have loaded Django)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            return _request(sock).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def test_a_judge_pausing_3_s_keeps_their_connection_to_the_server_run_starts():
    data_dir = Path(tempfile.mkdtemp(prefix="qasynth-keepalive-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "WEB_KEEPALIVE")}
    env.update(
        QASYNTH_DATA_DIR=str(data_dir), DEBUG="0", SECURE_SSL_REDIRECT="0", SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0", SECURE_HSTS_SECONDS="0", CELERY_BROKER_URL="filesystem://",
    )  # fmt: skip
    port = _free_port()
    argv = gunicorn_argv(REPO, bind=f"127.0.0.1:{port}", env=env, log=str(data_dir / "web.log"))
    keep_alive = float(flag(argv, "--keep-alive") or 2)  # gunicorn's default is 2 s
    assert keep_alive > PAUSE_S, f"./run's gunicorn keeps idle connections too briefly: {argv}"
    server = subprocess.Popen(argv, cwd=REPO, env=env, start_new_session=True)
    try:
        wait_for(lambda: server.poll() is not None or _serving(port), timeout=180, what="gunicorn to answer")
        assert server.poll() is None, (data_dir / "web.log").read_text()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            first = _request(sock)
            assert first.startswith(b"HTTP/1.1 200"), first[:200]
            assert b"connection: close" not in first.lower()
            time.sleep(PAUSE_S)  # the judge thinks: the pause under test, not a wait for a condition
            second = _request(sock)  # the same socket: a closed one raises ConnectionError here
            assert second.startswith(b"HTTP/1.1 200"), second[:200]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)  # it holds a secret key and the web log: not left in /tmp
