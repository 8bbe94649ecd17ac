"""Fixtures that start real processes on 127.0.0.1, each bounded by a deadline."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pyserverbench.checks import answers
from pyserverbench.procs import Process, free_port

ROOT = Path(__file__).resolve().parent.parent


def start_fakedb(log_dir: Path, sleep_ms: float = 0, port: int | None = None
                 ) -> tuple[Process, str]:
    """Start a real fake DB (on a free port unless given); return it and its URL once it answers."""
    port = port or free_port()
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


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler], port: int = 0) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (on a free port unless given) in a thread of this
    process; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
