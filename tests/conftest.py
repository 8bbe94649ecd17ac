"""Fixtures that start real processes on 127.0.0.1, each bounded by a deadline."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers import start_fakedb

from pyserverbench.harness.procs import Process, free_port


def pytest_configure(config: pytest.Config) -> None:
    # The apps read the DB address when imported, so it is fixed before any test module is
    # imported; the fake DB itself starts only when a test asks for it (session_db). Kept
    # if already set: a tool that runs pytest twice in one process (mutmut) keeps the apps.
    os.environ.setdefault("PYSERVERBENCH_DB_URL", f"http://127.0.0.1:{free_port()}/")


def pytest_unconfigure(config: pytest.Config) -> None:
    for name in ("apps.sync_app", "apps.stupid_async_app"):  # their shared clients
        module = sys.modules.get(name)
        if module is not None:
            module.client.close()


@pytest.fixture(scope="session")
def session_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fake DB the apps were imported with (1 ms latency), started once per session."""
    url = os.environ["PYSERVERBENCH_DB_URL"]
    proc, _ = start_fakedb(tmp_path_factory.mktemp("session-db"), sleep_ms=1,
                           port=urlsplit(url).port)
    yield url
    proc.stop()


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
