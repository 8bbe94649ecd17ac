"""Proof of what served a run, read from the running server rather than its configuration.

Each worker process writes its request counter and facts (see `apps/probe.py`); from
outside we add its threads and TCP_NODELAY on one of its accepted connections, then
judge the whole against what the stack declares.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import os
import socket
import struct
import sys
import time
from pathlib import Path

from apps.probe import COUNTER, WAITS
from pyserverbench.harness.sockets import established, established_many
from pyserverbench.harness.usage import split_facts

_SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture
_libc = (ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None)


def read_workers(directory: Path) -> dict[int, dict]:
    """pid -> {"requests": served so far, plus the facts it wrote} for every worker
    process that loaded the app."""
    workers: dict[int, dict] = {}
    for path in sorted(directory.glob("*.count")):
        try:
            data = path.read_bytes()
            (requests,) = COUNTER.unpack(data[:COUNTER.size])
        except (OSError, struct.error):  # a counter being created right now (0 bytes)
            continue
        pid = int(path.stem)
        entry: dict = {"pid": pid, "requests": requests}
        if len(data) >= COUNTER.size + WAITS.size:
            taken, waited_ns = WAITS.unpack_from(data, COUNTER.size)
            entry.update(pool_taken=taken, pool_wait_ns=waited_ns)
        with contextlib.suppress(OSError, ValueError):
            entry.update(json.loads(path.with_suffix(".json").read_text()))
        workers[pid] = entry
    return workers


def running(workers: dict[int, dict], tree_pids: set[int]) -> list[int]:
    """The workers that are still alive in the server's process tree."""
    return sorted(pid for pid in workers if pid in tree_pids)


def _grab_socket(pid: int, fd: int) -> socket.socket:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Our own duplicate of another process's file descriptor (Linux pidfd_getfd)."""
    if _libc is None or not hasattr(os, "pidfd_open"):
        raise OSError(errno.ENOSYS, "pidfd_getfd needs Linux")
    pidfd = os.pidfd_open(pid)
    try:
        copy = _libc.syscall(_SYS_PIDFD_GETFD, pidfd, fd, 0)
        if copy < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
    finally:
        os.close(pidfd)
    return socket.socket(fileno=copy)


_GONE = (errno.EBADF, errno.ENOTCONN)  # the connection closed since it was listed


def tcp_nodelay(pid: int, port: int,
                connections: list[tuple[int, int]] | None = None) -> bool | None:
    """TCP_NODELAY on the server's side of one connection that `pid` accepted on port
    (`connections`, as `established` lists them, if already read); None if it holds no
    such connection right now. OSError if it cannot be read."""
    if connections is None:
        connections = established(pid, port)
    for fd, inode in connections:
        try:
            with _grab_socket(pid, fd) as sock:
                # The descriptor may have been reused since the listing: check it is ours.
                if os.fstat(sock.fileno()).st_ino == inode:
                    return bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        except OSError as exc:
            if exc.errno not in _GONE:
                raise
    return None


class NodelayReader:
    """Reads TCP_NODELAY once per worker while the load runs. Connections come and go
    (gunicorn's sync worker closes each after one request, within a millisecond at no
    DB latency), so it looks every `interval_s` until every worker has given a reading,
    `tries` times at most: a worker whose connections are never caught stays None."""

    def __init__(self, workers: list[int], port: int, interval_s: float = 0.5,
                 tries: int = 8) -> None:
        self.port = port
        self.interval_s = interval_s
        self.tries = tries
        self.readings: dict[int, bool | None] = dict.fromkeys(workers)
        self.error: str | None = None
        self.last = -math.inf  # the first tick reads

    def tick(self) -> None:
        now = time.monotonic()
        if self.error or self.tries <= 0 or now - self.last < self.interval_s:
            return
        self.last = now
        self.tries -= 1
        unread = [pid for pid, reading in self.readings.items() if reading is None]
        for pid, connections in established_many(unread, self.port).items():
            try:
                self.readings[pid] = tcp_nodelay(pid, self.port, connections)
            except OSError as exc:
                self.error = f"cannot read another process's socket: {exc}"
                return


def judge(declared_loop: str, declared_parser: str, workers_asked: int, probe: dict,
          k6_requests: int | None, vus: int, free_threaded: bool = False) -> list[str]:
    """Every way in which what served contradicts the configuration (on a free-threaded
    Python, that includes a worker running with the GIL back on)."""
    problems = []
    if probe["workers_running"] != workers_asked:
        problems.append(f"{probe['workers_running']} of {workers_asked} worker processes "
                        f"running at the end of the load")
    stated = [w for w in probe["workers"] if "loop" in w]
    if not stated:
        problems.append("no worker process stated what it runs on")
    for worker in stated:
        for key, declared in (("loop", declared_loop), ("parser", declared_parser)):
            if worker[key] != declared:
                problems.append(f"worker {worker['pid']} runs {key} {worker[key]}, "
                                f"the stack declares {declared}")
        if free_threaded and worker.get("gil_enabled") is not False:
            problems.append(f"worker {worker['pid']} runs with the GIL enabled on a "
                            f"free-threaded Python (a module it imported turned it on)")
    if k6_requests is not None:
        counted = sum(w["requests"] for w in probe["workers"])
        if abs(counted - k6_requests) > vus:  # at most one request in flight per user
            problems.append(f"the server's workers counted {counted} requests during the "
                            f"load, k6 counted {k6_requests}")
    return problems


def _one(values: list) -> object:
    """The value all workers agree on, `mixed` if they differ, None if there is none."""
    if not values:
        return None
    return values[0] if len({json.dumps(v) for v in values}) == 1 else "mixed"


COUNTED = ("requests", "pool_taken", "pool_wait_ns")  # the counters a worker's file holds


def counted_since(before: dict[int, dict], after: dict[int, dict]) -> dict[int, dict]:
    """Per worker, what its counters rose by between two `read_workers` readings (from 0
    for a worker first seen after)."""
    return {pid: {key: entry[key] - before.get(pid, {}).get(key, 0)
                  for key in COUNTED if key in entry}
            for pid, entry in after.items()}


def probe_facts(workers_asked: int, before: dict[int, dict], after: dict[int, dict],
                alive: list[int], threads: dict[int, int], nodelay: dict[int, bool | None],
                nodelay_error: str | None) -> dict:
    """The probe part of a record: the workers and their share of the load's requests."""
    workers = []
    rose = counted_since(before, after)
    for pid, entry in sorted(after.items()):
        worker = {**entry, **rose[pid], "alive": pid in alive,
                  "threads_peak": threads.get(pid), "tcp_nodelay": nodelay.get(pid)}
        workers.append(worker)
    spread = split_facts({w["pid"]: [w["requests"]] for w in workers})
    stated = [w for w in workers if "loop" in w]
    readings = [w["tcp_nodelay"] for w in workers if w["tcp_nodelay"] is not None]
    return {
        "workers_asked": workers_asked,
        "workers_running": len(alive),
        "workers": workers,
        "spread": spread,
        "loop": _one([w["loop"] for w in stated]),
        "parser": _one([w["parser"] for w in stated]),
        "gil_enabled": _one([w["gil_enabled"] for w in stated]),
        "tcp_nodelay": _one(readings),
        "tcp_nodelay_error": nodelay_error,
    }
