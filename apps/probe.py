"""What served a request, told by the worker process itself.

When `PYSERVERBENCH_PROBE_DIR` is set, every worker process that loads an app
creates `<pid>.count` there (an 8-byte request counter in shared memory) and, on its
first request, writes `<pid>.json`: the event loop, the HTTP parser found on the call
stack, and the GIL state. The harness reads these files from outside. Without the
variable the probe does nothing. Standard library only.
"""

from __future__ import annotations

import asyncio
import json
import mmap
import os
import struct
import sys
import threading
from collections.abc import Callable
from pathlib import Path

PROBE_DIR_VARIABLE = "PYSERVERBENCH_PROBE_DIR"
COUNTER = struct.Struct("<Q")
# After the request counter: connections taken from a DB pool, and the nanoseconds
# spent waiting for them (`--db postgres`; zero otherwise).
WAITS = struct.Struct("<QQ")

# Call-stack module prefixes that tell which HTTP parser handed us the request.
PARSERS = (
    ("uvicorn.protocols.http.httptools_impl", "httptools"),
    ("uvicorn.protocols.http.h11_impl", "h11"),
    ("gunicorn.", "gunicorn"),
    ("granian.", "hyper"),  # granian parses in Rust (hyper); its Python wrapper calls us
    ("hypercorn.", "h11"),  # hypercorn's HTTP/1.1 is h11 (h2 needs TLS or an upgrade)
    ("waitress.", "waitress"),
)
SERVER_PACKAGES = ("uvicorn", "uvicorn_worker", "gunicorn", "gevent", "granian", "hypercorn",
                   "waitress")


class _Worker:
    """This process's counter file and whether its facts are written yet."""

    def __init__(self, directory: Path) -> None:
        self.pid = os.getpid()
        self.directory = directory
        self.lock = threading.Lock()
        self.facts_written = False
        path = directory / f"{self.pid}.count"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.ftruncate(fd, COUNTER.size + WAITS.size)
            self.counter = mmap.mmap(fd, COUNTER.size + WAITS.size)
        finally:
            os.close(fd)

    def count(self) -> None:
        with self.lock:
            (value,) = COUNTER.unpack_from(self.counter)
            COUNTER.pack_into(self.counter, 0, value + 1)

    def waited(self, nanoseconds: int) -> None:
        with self.lock:
            taken, total = WAITS.unpack_from(self.counter, COUNTER.size)
            WAITS.pack_into(self.counter, COUNTER.size, taken + 1, total + nanoseconds)

    def write_facts(self, facts: dict) -> None:
        self.facts_written = True
        target = self.directory / f"{self.pid}.json"
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(facts, sort_keys=True))
        os.replace(temporary, target)


_worker: _Worker | None = None


def _current() -> _Worker | None:
    """This process's worker state, made anew after a fork; None when not probing."""
    global _worker
    directory = os.environ.get(PROBE_DIR_VARIABLE)
    if not directory:
        return None
    if _worker is None or _worker.pid != os.getpid():
        _worker = _Worker(Path(directory))
    return _worker


def parser_on_stack() -> tuple[str, list[str]]:
    """The HTTP parser named by the server frames on the call stack, and those modules."""
    modules: list[str] = []
    frame = sys._getframe(1)
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if name and name not in modules:
            modules.append(name)
        frame = frame.f_back
    for prefix, parser in PARSERS:
        if any(name.startswith(prefix) for name in modules):
            return parser, modules
    return "unknown", modules


def _loop_facts() -> tuple[str, str | None]:
    """(loop kind, loop class) of whatever drives this request."""
    gevent, monkey = sys.modules.get("gevent"), sys.modules.get("gevent.monkey")
    if gevent is not None and monkey is not None and monkey.is_module_patched("socket"):
        loop = gevent.get_hub().loop
        return "gevent", f"{type(loop).__module__}.{type(loop).__qualname__}"
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return "none", None
    kind = type(loop).__module__.partition(".")[0]
    return kind, f"{type(loop).__module__}.{type(loop).__qualname__}"


def facts() -> dict:
    """What this process runs on, read while it serves a request."""
    loop, loop_class = _loop_facts()
    parser, modules = parser_on_stack()
    is_gil_enabled = getattr(sys, "_is_gil_enabled", None)
    return {
        "pid": os.getpid(),
        "loop": loop,
        "loop_class": loop_class,
        "parser": parser,
        "server_modules": [m for m in modules if m.partition(".")[0] in
                           SERVER_PACKAGES][:12],
        "gil_enabled": is_gil_enabled() if is_gil_enabled else None,
        "threads": threading.active_count(),
    }


def _served() -> None:
    worker = _current()
    if worker is None:
        return
    worker.count()
    if not worker.facts_written:
        worker.write_facts(facts())


def pool_waited(nanoseconds: int) -> None:
    """Count one connection taken from a DB pool after waiting `nanoseconds` for it."""
    worker = _current()
    if worker is not None:
        worker.waited(nanoseconds)


def wsgi(app: Callable) -> Callable:
    """Wrap a WSGI app so that each worker counts its requests and states its facts."""
    _current()  # the counter exists from boot, so an idle worker is seen too

    def probed(environ: dict, start_response: Callable) -> object:
        _served()
        return app(environ, start_response)

    return probed


def asgi(app: Callable) -> Callable:
    """Wrap an ASGI app likewise (HTTP requests only; lifespan passes through)."""
    _current()

    async def probed(scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            _served()
        await app(scope, receive, send)

    return probed
