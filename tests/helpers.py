"""What many test modules share: the checkout's paths, real servers and fake DBs to
start, and record factories (a closed-loop run's record, a capacity search's, a step's)."""

from __future__ import annotations

import contextlib
import copy
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil

from pyserverbench.harness.checks import answers
from pyserverbench.harness.procs import Process, free_port

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


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


def role_of(command_line: str) -> str:
    """Which of a run's processes a command line is: k6, the fake DB, PostgreSQL or the
    server."""
    if " run " in command_line and "k6" in command_line:
        return "k6"
    if "-m fakedb" in command_line:
        return "fakedb"
    return "postgres" if "/postgres -D" in command_line else "server"


def during_load(harness: subprocess.Popen, deadline_s: float = 90) -> dict[str, psutil.Process]:
    """Wait until k6 runs under the harness (then a second more, for some requests to
    pass); the harness's direct children by role. Fails the test if k6 never starts."""
    import pytest

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        roles = {}
        for child in psutil.Process(harness.pid).children():
            try:
                roles[role_of(" ".join(child.cmdline()))] = child
            except psutil.Error:
                continue
        if "k6" in roles:
            time.sleep(1.0)
            return roles
        time.sleep(0.1)
    pytest.fail("k6 never started")


def is_k6_run(proc: psutil.Process) -> bool:
    """A `k6 run` process (not the short `k6 version` before it)."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return False
    return bool(cmdline) and Path(cmdline[0]).name == "k6" and cmdline[1:2] == ["run"]


# Records

BASE = json.loads((DATA / "runs" / "a-uvicorn.json").read_text())
PINNED = {"server_cpus": [0], "load_cpus": [1], "shared": False, "host_cores": 2}
SHARED = {"server_cpus": [0, 1], "load_cpus": [0, 1], "shared": True, "host_cores": 2}
STACK_FACTS = {  # stack: (mode, server, app, loop, parser)
    "uvicorn": ("Async", "uvicorn", "async", "uvloop", "httptools"),
    "sync": ("Sync", "gunicorn", "sync", "none", "gunicorn"),
    "gthread": ("Sync", "gunicorn[gthread]", "sync", "none", "gunicorn"),
    "gevent": ("Sync", "gunicorn[gevent]", "sync", "gevent", "gunicorn"),
    "stupid-async": ("Async", "uvicorn", "stupid async", "uvloop", "httptools"),
    "donkey-patched": ("Sync", "gunicorn", "donkey-patched", "none", "gunicorn"),
    "uvicorn-asyncio": ("Async", "uvicorn", "async", "asyncio", "h11"),
}


def closed_record(name: str, stack: str = "uvicorn", requests: int = 13524, **changes) -> dict:
    """A record like the base one, for `stack`, with `changes` merged in (dicts one level)."""
    made = copy.deepcopy(BASE)
    mode, server, app, loop, parser = STACK_FACTS[stack]
    made.update(id=f"20261124T1200{name}", stack=stack, mode=mode, server=server, app=app)
    made["probe"].update(loop=loop, parser=parser)
    made["metrics"]["requests"] = requests
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(made.get(key), dict) and key != "packages":
            made[key] = {**made[key], **value}
        else:
            made[key] = value
    return made


def closed_usage(server_cpu: float = 20.0, k6: tuple = (40.0, 60.5), fakedb: float = 2.0) -> dict:
    usage = copy.deepcopy(BASE["usage"])
    usage["server"]["cpu_s"] = server_cpu
    usage["k6"] = {"cpu_s": k6[0], "wall_s": k6[1]}
    usage["fakedb"]["cpu_s"] = fakedb
    return usage


def capacity_usage(server=1.0, k6=0.5, db=0.2, harness=0.05, window=5.0, wall=7.5, rss=50 * 2**20,
           busy=None):
    return {"window_s": window, "server": {"cpu_s": server, "peak_rss_bytes": rss},
            "fakedb": {"cpu_s": db}, "k6": {"cpu_s": k6, "wall_s": wall},
            "harness": {"cpu_s": harness},
            "cpus_busy": busy or {"server_cpus": 0.5, "load_cpus": 0.3}}


def capacity_step(rate, passed=True, achieved=None, mean=10.0, vus=20, dropped=0, load=0.3,
          cost=0.5, p99=20.0, problems=()):
    return {"offered_rps": rate, "achieved_rps": rate if achieved is None else achieved,
            "mean_ms": mean, "vus": vus, "dropped": dropped, "passed": passed,
            "reason": None if passed else "p99 over", "p99_ms": p99, "load_busy": load,
            "cpu_s_per_1000": cost, "little": {"in_flight": 1.0, "problems": list(problems)},
            "usage": capacity_usage(busy={"server_cpus": 0.9, "load_cpus": load}),
            "total_requests": int(rate * 7)}


HOST = {"cores": 2, "cpu_model": "AMD EPYC", "id": "4a016e28f8a3", "kernel": "6.18",
        "machine": "x86_64"}
PLACED = {"server_cpus": [0], "load_cpus": [1], "shared": False, "host_cores": 2}


def capacity_record(stack, latency, rps, number=1, ok=True, error=None, bound=None, lower=False,
            odd=0, goal=None, python="3.13.0", step_s=5):
    goal = latency + 50.0 if goal is None else goal
    capacity = {"goal_ms": goal, "step_s": step_s, "warmup_s": 2, "resolution": 0.05,
                "mix": "/:2,/api:1", "start_rps": 50.0, "max_rps": 20000.0,
                "steps": [capacity_step(rps / 2, p99=5.0), capacity_step(rps, p99=goal - 1),
                          capacity_step(rps * 1.04, passed=False, p99=goal * 3)]}
    if ok:
        capacity.update(rps=rps, failing_rps=rps * 1.04, at_max=False, lower_bound=lower,
                        cpu_s_per_1000=0.5, peak_rss_bytes=100 * 2**20,
                        bounds={"rps": bound, "cpu_rps": bound, "slots_rps": None},
                        inconsistent_steps=odd, slots=None, db_wait_ms=latency / 3)
    return {"format": 2, "kind": "capacity", "id": f"2026-{stack}-{latency}-{number}",
            "stack": stack, "mode": "Async", "server": stack, "app": "async",
            "workers": 2, "threads": None, "python": python, "db_latency_ms": latency,
            "vus": 100, "duration_s": step_s, "ok": ok, "error": error, "metrics": None,
            "started_at": "2026-11-24T15:00:00+00:00", "host": HOST, "placement": PLACED,
            "k6_version": "k6 v1.1.0 (x)", "packages": {"uvicorn": "0.54.0"},
            "capacity": capacity,
            "probe": {"loop": "uvloop", "parser": "httptools", "tcp_nodelay": True}}


def user_app(name: str = "shop", key: str = "k1", **changes: object) -> dict:
    """A record's `user_app` facts, as `UserApp.facts` writes them."""
    return {"name": name, "interface": "wsgi", "target": f"{name}.wsgi:application",
            "app_dir": None, "chdir": False, "paths": [["/", 1]], "load": "GET /", "env": {},
            "k6_script": None, "requirements": None, "key": key, **changes}


def tables(text: str) -> list[list[dict[str, str]]]:
    """The pipe tables in Markdown text, each a list of rows keyed by header (a header's
    glossary link left out): `tables(section)[0][0]["Req/s"]`."""
    import re

    found = []
    for block in text.split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line.startswith("|")]
        if len(lines) < 2 or not set(lines[1]) <= set("|-: "):
            continue
        def cells(line: str) -> list[str]:
            return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        names = [re.sub(r"^\[(.*)\]\(#[^)]*\)$", r"\1", name) for name in cells(lines[0])]
        found.append([dict(zip(names, cells(line), strict=True)) for line in lines[2:]])
    return found
