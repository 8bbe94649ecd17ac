"""Fixtures that start real processes on 127.0.0.1, each bounded by a deadline."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyserverbench.checks import answers
from pyserverbench.procs import Process, free_port

ROOT = Path(__file__).resolve().parent.parent
_session_db: Process | None = None


def start_fakedb(log_dir: Path, sleep_ms: float = 0) -> tuple[Process, str]:
    """Start a real fake DB on a free port; return it and its URL once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = Process("fake DB", [sys.executable, "-m", "fakedb", "--port", str(port),
                               "--sleep", str(sleep_ms)], log_dir / f"fakedb-{port}.log", cwd=ROOT)
    proc.start()
    try:
        proc.wait_until(lambda: answers(url), 20, "answering")
    except BaseException:
        proc.stop()
        raise
    return proc, url


def pytest_configure(config: pytest.Config) -> None:
    # The apps read the DB address when imported, so one fake DB serves the whole session.
    global _session_db
    log_dir = Path(config.rootpath) / ".pytest_cache"
    log_dir.mkdir(exist_ok=True)
    _session_db, url = start_fakedb(log_dir, sleep_ms=1)
    os.environ["PYSERVERBENCH_DB_URL"] = url


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in ("apps.sync_app", "apps.stupid_async_app"):  # their shared clients
        module = sys.modules.get(name)
        if module is not None:
            module.client.close()
    if _session_db is not None:
        _session_db.stop()


@pytest.fixture
def db_url() -> str:
    return os.environ["PYSERVERBENCH_DB_URL"]


@pytest.fixture
def fakedb_factory(tmp_path: Path) -> Iterator[Callable[[float], str]]:
    """Start fake DBs with a given latency; all are stopped after the test."""
    started: list[Process] = []

    def start(sleep_ms: float) -> str:
        proc, url = start_fakedb(tmp_path, sleep_ms)
        started.append(proc)
        return url

    yield start
    for proc in started:
        proc.stop()
