"""The processes a measurement stands on: the fake DB's command line, and the wait until
a started process answers from its own socket and runs every worker asked."""

from __future__ import annotations

import sys
from pathlib import Path

from pyserverbench import ROOT
from pyserverbench.harness.checks import answers
from pyserverbench.harness.cleanroom import environment
from pyserverbench.harness.probe import read_workers, running
from pyserverbench.harness.procs import PortTaken, Process, listening_pids

START_DEADLINE_S = 60.0


def fakedb_argv(host: str, port: int, sleep_ms: float) -> list[str]:
    """The fake DB's command line, on this Python."""
    return [sys.executable, "-m", "fakedb", "--host", host, "--port", str(port),
            "--sleep", str(sleep_ms)]


def tree_pids(proc: Process) -> set[int]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    return {p.pid for p in proc.tree()}


def serving(proc: Process, port: int, url: str) -> bool:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """True when url answers and the listener on port is `proc` or one of its children;
    PortTaken if another process answers there."""
    if not answers(url):
        return False
    if not listening_pids(port) & tree_pids(proc):
        raise PortTaken(f"port {port} is answered by a process that is not our {proc.name}")
    return True


def workers_running(proc: Process, probe_dir: Path) -> list[int]:
    """The worker processes in proc's tree that loaded the app (by the probe's files)."""
    return running(read_workers(probe_dir), tree_pids(proc))


def wait_ready(proc: Process, port: int, url: str, workers: int = 0,
               probe_dir: Path | None = None, deadline_s: float | None = None) -> None:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Wait, with a deadline, until the started `proc` answers `url` from its own socket
    on `port` and, for a server (`workers` > 0), until that many worker processes have
    loaded the app. ProcessError if it exits or the deadline passes first."""
    deadline_s = deadline_s or START_DEADLINE_S
    proc.wait_until(lambda: serving(proc, port, url), deadline_s, "answering")
    if workers:
        assert probe_dir is not None, "a server's workers are counted by its probe"
        proc.wait_until(lambda: len(workers_running(proc, probe_dir)) >= workers, deadline_s,
                        f"running {workers} worker processes")


def fakedb_environment(room: Path) -> dict[str, str]:
    """The fake DB's clean-room environment."""
    return environment(room, ROOT)


def server_environment(room: Path, db_url: str | None, probe_dir: Path,
                       **db_env: str) -> dict[str, str]:
    """A server's clean-room environment: where the apps find the fake DB (`db_url`),
    or the database `db_env` names instead, and where each worker's probe writes what
    served."""
    found = {"PYSERVERBENCH_DB_URL": db_url} if db_url is not None else {}
    return environment(room, ROOT, **found, **db_env, PYSERVERBENCH_PROBE_DIR=str(probe_dir))
