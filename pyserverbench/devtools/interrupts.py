"""Interrupt real runs at random moments and count what they leave behind.

Each trial starts the harness (`python -m pyserverbench run`), watches every process
it starts and every port they listen on, sends SIGINT or SIGTERM at a random moment
(start-up, load or teardown), and after the harness exits counts the processes still
alive and the ports still listening. The goal is zero of both.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from pyserverbench import ROOT
from pyserverbench.cli.options import OneLineParser
from pyserverbench.cli.types import bounded_int

STACKS_TRIED = ("sync", "gthread", "gevent", "uvicorn", "uvicorn-worker")
LOAD_S = 3


@dataclass
class Trial:
    stack: str
    db: str
    signal_name: str
    delay_s: float
    phase: str
    exit_code: int | None
    records: int
    left_processes: int
    left_ports: int


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _k6_runs(seen: dict[int, psutil.Process]) -> list[psutil.Process]:
    """The `k6 run` processes among those seen (not `k6 version`)."""
    found = []
    for proc in seen.values():
        cmdline = proc.info["cmdline"] or ["?"]
        if Path(cmdline[0]).name == "k6" and "run" in cmdline[1:2]:
            found.append(proc)
    return found


def _phase(seen: dict[int, psutil.Process], finished: bool) -> str:
    """Where the run was when the signal went: start-up, load, teardown or already done."""
    if finished:
        return "after the end"
    k6 = _k6_runs(seen)
    if not k6:
        return "start-up"
    return "load" if any(_alive(p) for p in k6) else "teardown"


def _watch(harness: subprocess.Popen, seen: dict[int, psutil.Process], ports: set[int]) -> None:
    try:
        children = psutil.Process(harness.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for child in children:
        if child.pid not in seen:
            try:
                child.info = {"cmdline": child.cmdline()}
            except psutil.Error:
                continue
            seen[child.pid] = child
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.pid in seen and conn.laddr:
            ports.add(conn.laddr.port)


def _left(seen: dict[int, psutil.Process], ports: set[int]) -> tuple[int, int]:
    alive = sum(1 for proc in seen.values() if _alive(proc))
    listening = {c.laddr.port for c in psutil.net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr}
    return alive, len(ports & listening)


def trial(stack: str, signum: int, delay_s: float, at_teardown: bool = False,
          db: str = "fake") -> Trial:
    """One interrupted run on the fake DB or PostgreSQL (`db`): `delay_s` after its
    start, or after k6 ends if `at_teardown`."""
    with tempfile.TemporaryDirectory(prefix="pyserverbench-interrupt-") as results:
        argv = [sys.executable, "-m", "pyserverbench", "run", "--stack", stack, "--workers",
                "2", "--duration", f"{LOAD_S}s", "--db-latency", "5", "--db", db,
                "--results-dir", results]
        harness = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        seen: dict[int, psutil.Process] = {}
        ports: set[int] = set()
        end = time.monotonic() + delay_s
        while time.monotonic() < end and harness.poll() is None:
            _watch(harness, seen, ports)
            time.sleep(0.02)
            if at_teardown and _phase(seen, False) != "teardown":
                end = time.monotonic() + delay_s  # the delay counts from k6's exit
        finished = harness.poll() is not None
        phase = _phase(seen, finished)
        if not finished:
            harness.send_signal(signum)
        try:
            code = harness.wait(timeout=60)
        except subprocess.TimeoutExpired:
            harness.kill()
            code = None
        time.sleep(0.2)  # let the kernel finish closing what was stopped
        left_processes, left_ports = _left(seen, ports)
        records = len(list(Path(results).glob("*.json")))
    return Trial(stack, db, signal.Signals(signum).name, delay_s, phase, code, records,
                 left_processes, left_ports)


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="nox -s interrupts --", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=bounded_int(1, 500), default=20,
                        help="how many runs to interrupt (default 20)")
    parser.add_argument("--seed", type=bounded_int(0, 2**31), default=1,
                        help="random seed for stacks, signals and moments (default 1)")
    parser.add_argument("--db", choices=("fake", "postgres", "both"), default="both",
                        help="the database of the runs: fake, postgres, or both in turn "
                             "(default both)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(f"{'#':>3} {'stack':15} {'db':8} {'signal':7} {'after':>6} {'phase':13} {'exit':>5} "
          f"{'records':>7} {'procs left':>10} {'ports left':>10}")
    total_procs = total_ports = 0
    for number in range(1, args.trials + 1):
        stack = rng.choice(STACKS_TRIED)
        signum = rng.choice((signal.SIGINT, signal.SIGTERM))
        at_teardown = number % 4 == 0  # teardown is short: aim at it in every 4th trial
        delay = round(rng.uniform(0.0, 0.3) if at_teardown else rng.uniform(0.2, LOAD_S + 3.0), 2)
        db = args.db if args.db != "both" else ("fake", "postgres")[number % 2]
        result = trial(stack, signum, delay, at_teardown, db)
        total_procs += result.left_processes
        total_ports += result.left_ports
        print(f"{number:>3} {result.stack:15} {result.db:8} {result.signal_name:7} "
              f"{result.delay_s:>5.2f}s {result.phase:13} {result.exit_code!s:>5} "
              f"{result.records:>7} {result.left_processes:>10} "
              f"{result.left_ports:>10}", flush=True)
    print(f"total left behind: {total_procs} processes, {total_ports} listening ports")
    return 0 if total_procs == total_ports == 0 else 1
