"""The clean room a run's processes start in: an environment we choose, not the caller's,
and an empty working directory.

Nothing of the caller's environment passes: not GUNICORN_CMD_ARGS, WEB_CONCURRENCY or
UVICORN_* (they change the server's settings), not proxy variables (httpx would send
the apps' database calls elsewhere), not SSL_CERT_FILE, PYTHON* or LD_* (they change
what the interpreter loads and costs), not K6_* (they override k6's options). An empty
working directory means no stray `gunicorn.conf.py` or `.env` is picked up.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SYSTEM_PATH = ("/usr/local/bin", "/usr/bin", "/bin")


def environment(room: Path, python_path: Path | None, **extra: str) -> dict[str, str]:
    """The whole environment of a process we start: a PATH that finds this Python's
    environment first, HOME in the room, a UTF-8 locale, `python_path` on PYTHONPATH
    (the checkout, for the apps and the fake DB) if given, and `extra`."""
    env = {
        "PATH": os.pathsep.join((str(Path(sys.executable).parent), *SYSTEM_PATH)),
        "HOME": str(room),
        "LANG": "C.UTF-8",
    }
    if python_path is not None:
        env["PYTHONPATH"] = str(python_path)
    env.update(extra)
    return env


def make_room(parent: Path) -> Path:
    """A new empty directory to start processes in."""
    room = parent / "room"
    room.mkdir()
    return room
