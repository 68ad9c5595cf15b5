"""The gunicorn command line that `./run` starts, for benches and tests that must serve what ./run serves.

Reads the `gunicorn` line from a tree's `run` script (continuation lines joined), expands `${VAR:-default}`
from the given environment, and swaps only the bind address and the log files; every other flag (workers,
threads, keep-alive, ...) is ./run's own. Pure standard library: no Django.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

_EXPANSION = re.compile(r"\$\{(\w+):-([^}]*)\}|\$(\w+)")


def run_gunicorn_line(repo: Path) -> str:
    """The gunicorn command of `repo/run`, continuation lines joined, without `setsid` and the trailing `&`."""
    text = (Path(repo) / "run").read_text().replace("\\\n", " ")
    for line in text.splitlines():
        # ./run starts it under `setsid` (a session of its own); the command itself follows.
        stripped = re.sub(r"^setsid\s+", "", line.strip())
        if re.match(r"^(\S*/)?gunicorn\s", stripped):
            command = stripped.rstrip("&").strip()
            # Shell redirections of the server's own output (./run sends it to web.log) are not gunicorn's.
            return re.sub(r"\s+\d?>>?\s*(&\d|\S+)", "", command).strip()
    raise ValueError(f"{repo}/run has no gunicorn command line")


def gunicorn_argv(repo: Path, *, bind: str, env: dict[str, str], log: str = "-") -> list[str]:
    """argv for gunicorn as ./run starts it, listening on `bind`, logging to `log` (both access and error)."""
    line = run_gunicorn_line(repo)

    def expand(match: re.Match) -> str:
        if match.group(1):
            return env.get(match.group(1)) or match.group(2)
        return env.get(match.group(3), "")

    words = shlex.split(_EXPANSION.sub(expand, line))
    argv: list[str] = []
    replace = {"-b": bind, "--bind": bind, "--access-logfile": log, "--error-logfile": log}
    skip = False
    for i, word in enumerate(words):
        if skip:
            skip = False
            continue
        if word in replace:
            argv += [word, replace[word]]
            skip = True
            continue
        argv.append(str(Path(repo) / word) if i == 0 and not word.startswith("/") else word)
    if "-b" not in argv and "--bind" not in argv:
        argv += ["-b", bind]
    return argv


def flag(argv: list[str], name: str) -> str | None:
    """The value of a flag in an argv (None when absent)."""
    return argv[argv.index(name) + 1] if name in argv else None
