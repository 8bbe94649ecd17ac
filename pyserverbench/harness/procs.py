"""Start and stop the processes of a run: each in its own process group, stopped by id."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from contextlib import ExitStack, suppress
from pathlib import Path

import psutil

from pyserverbench.harness.signals import held

_live: list[Process] = []


class ProcessError(RuntimeError):
    """A process we started failed to come up or died."""


class PortTaken(ProcessError):
    """Another process holds a port we picked for ours."""


_PR_SET_PDEATHSIG = 1
_libc = (ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
         if sys.platform.startswith("linux") else None)


def die_with_parent() -> bool:
    """Ask Linux to SIGTERM this process when its parent dies; False where unsupported."""
    return _libc is not None and _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that is free on host right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` different ports, free on host right now. They are held open together while
    the OS picks them: two `free_port` calls in a row can return the same port."""
    with ExitStack() as held_open:
        ports = []
        for _ in range(count):
            sock = held_open.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            sock.bind((host, 0))
            ports.append(sock.getsockname()[1])
    return ports


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if nothing listens on host:port (closed connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def log_tail(path: Path, lines: int = 5) -> str:
    """The last lines of a log file, joined with ' | ' to fit one line."""
    try:
        with open(path, errors="replace") as log:
            tail = deque((line.strip() for line in log if line.strip()), maxlen=lines)
    except OSError:
        return ""
    return " | ".join(tail)


_RAISED = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit): ")


def log_excerpt(path: Path, lines: int = 5) -> str:
    """The log's last lines, led by the first exception it names if the tail does not
    show it (a worker that failed to import an app logs why, then the master's exit)."""
    tail = log_tail(path, lines)
    try:
        with open(path, errors="replace") as log:
            raised = next((line.strip() for line in log if _RAISED.match(line.strip())), None)
    except OSError:
        return tail
    if raised is None or raised in tail:
        return tail
    return f"{raised} | ... | {tail}"


class Process:
    """A child process in its own process group, with output to a log file.

    Use as a context manager: leaving the block stops the whole group.
    """

    def __init__(self, name: str, argv: list[str], log_path: Path,
                 env: dict[str, str] | None = None, cwd: Path | None = None,
                 cpus: frozenset[int] | None = None, user: dict | None = None) -> None:
        self.name = name
        self.user = user or {}  # Popen's user, group and extra_groups: run as another user
        self.cpus = cpus
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.popen: subprocess.Popen | None = None

    def __enter__(self) -> Process:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        with held(), open(self.log_path, "ab") as log:
            try:
                self.popen = subprocess.Popen(
                    self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env=self.env, cwd=self.cwd, start_new_session=True,
                    preexec_fn=self._prepare_child, **self.user,
                )
            except OSError as exc:
                raise ProcessError(f"{self.name}: cannot start {self.argv[0]}: {exc}") from None
            _live.append(self)

    def _prepare_child(self) -> None:
        """Runs in the child before exec: die with the harness, keep to our CPUs."""
        die_with_parent()
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def exited(self) -> int | None:
        """The exit code if the process has exited, else None."""
        return None if self.popen is None else self.popen.poll()

    def tree(self) -> list[psutil.Process]:
        """The process and all its descendants that are still alive."""
        return process_tree(self.pid)

    def check_alive(self) -> None:
        code = self.exited()
        if code is not None:
            raise ProcessError(
                f"{self.name} exited with code {code}; log: {log_excerpt(self.log_path)}"
            )

    def wait_until(self, ready: Callable[[], bool], deadline_s: float, what: str) -> None:
        """Poll `ready` until it is true; fail at once if the process exits."""
        end = time.monotonic() + deadline_s
        while True:
            self.check_alive()
            if ready():
                self.check_alive()
                return
            if time.monotonic() > end:
                raise ProcessError(
                    f"{self.name} not {what} after {deadline_s:g} s; log: "
                    f"{log_excerpt(self.log_path)}"
                )
            time.sleep(0.05)

    def interrupt(self, timeout_s: float) -> int | None:
        """SIGINT the process group (a polite stop) and wait; the exit code or None."""
        if self.popen is None:
            return None
        _signal_group(self.popen.pid, signal.SIGINT)
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=timeout_s)
        return self.popen.poll()

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the process group, SIGKILL it after the grace period, and reap.

        SIGINT and SIGTERM are held back meanwhile, so a stop is never cut short.
        """
        if self.popen is None or self not in _live:
            return
        with held():
            try:
                self._stop(grace_s)
            finally:
                _live.remove(self)

    def _stop(self, grace_s: float) -> None:
        assert self.popen is not None
        pgid = self.popen.pid  # leader of its own session, so pgid == pid
        end = time.monotonic() + grace_s
        _signal_group(pgid, signal.SIGTERM)
        _signal_group(pgid, signal.SIGCONT)  # a stopped process must run to see SIGTERM
        with suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=grace_s)
        if not _wait_group_gone(pgid, max(0.0, end - time.monotonic())):
            _signal_group(pgid, signal.SIGKILL)
            _wait_group_gone(pgid, 5.0)
        if self.popen.poll() is None:
            self.popen.wait(timeout=5.0)


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and all its living descendants; empty once it is gone."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_all() -> None:
    """Stop every process started here and not yet stopped (last started first)."""
    for proc in reversed(list(_live)):
        proc.stop()


def _signal_group(pgid: int, signum: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    """True while any non-zombie process remains in the group."""
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def _wait_group_gone(pgid: int, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while _group_alive(pgid):
        if time.monotonic() > end:
            return False
        time.sleep(0.05)
    return True


def listening_pids(port: int) -> set[int]:
    """Pids of processes listening on a TCP port (any address)."""
    pids = set()
    for conn in psutil.net_connections(kind="tcp"):
        listening = conn.status == psutil.CONN_LISTEN and conn.laddr
        if listening and conn.laddr.port == port and conn.pid is not None:
            pids.add(conn.pid)
    return pids
