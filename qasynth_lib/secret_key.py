"""The per-installation Django secret key file: created once by ./run (or a deploy script), only read by settings.

Settings never write: importing them must not create files (a read-only deploy, a typo in QASYNTH_DATA_DIR or a
second process racing the first would otherwise each make their own key). Run
``python -m qasynth_lib.secret_key PATH`` to create the file when the environment gives no SECRET_KEY.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path


def ensure_secret_key(path: Path) -> bool:
    """Create `path` with a fresh random key (mode 600) unless it exists; True when it was created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(64))
    return True


def read_secret_key(path: Path) -> str:
    """The key stored at `path`; a clear error naming the file and the two ways to provide one otherwise."""
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if not key:
        raise RuntimeError(
            f"no secret key: set the SECRET_KEY environment variable, or create {path} with "
            f"`python -m qasynth_lib.secret_key {path}` (./run does this)"
        )
    return key


def ensure_for_this_process(repo: Path) -> None:
    """For scripts that set Django up themselves (benches): the key file of the data dir they will use, as
    ./run would create it, unless the environment gives a SECRET_KEY."""
    if not os.environ.get("SECRET_KEY"):
        data_dir = Path(os.environ.get("QASYNTH_DATA_DIR") or repo / "var").resolve()
        ensure_secret_key(data_dir / "secret_key")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m qasynth_lib.secret_key PATH")
    ensure_secret_key(Path(sys.argv[1]))
