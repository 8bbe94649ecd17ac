"""The speed of a set of CPUs on a fixed CPU task, so that a machine that slowed down
(another tenant, a lower clock) can be told apart from a slower stack."""

from __future__ import annotations

import math
import os
import statistics
import time

ROUNDS = 5
WORK = 60_000  # loop turns per round: about 15 ms on this project's 2-core machines


def task(turns: int = WORK) -> int:
    """A fixed mix of integer arithmetic, dict and string work, as a Python server does."""
    seen: dict[int, str] = {}
    total = 0
    for i in range(turns):
        total = (total * 31 + i) % 1_000_003
        seen[i & 1023] = str(total)
        total += len(seen[(i * 7) & 1023]) if (i * 7) & 1023 in seen else 0
    return total


def cpu_speed(cpus: frozenset[int] | set[int] | None, rounds: int = ROUNDS) -> dict:
    """Time `rounds` runs of the task on `cpus` (this process moves there and back): the
    fastest round in ms, the median, and wall over CPU time of the median round (above 1
    when something else held the CPU)."""
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        walls, ratios = [], []
        for _ in range(rounds):
            wall, cpu = time.perf_counter(), time.thread_time()
            task()
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            walls.append(wall)
            ratios.append(wall / cpu if cpu > 0 else 1.0)
    finally:
        os.sched_setaffinity(0, before)
    return {"task_ms": round(min(walls) * 1000, 3),
            "median_ms": round(statistics.median(walls) * 1000, 3),
            "wall_over_cpu": round(statistics.median(ratios), 3),
            "cpus": sorted(cpus) if cpus else sorted(before)}


PROBE_TURNS = 4_000  # about 1 ms of CPU: a probe costs the server's CPUs about 0.2%
PROBE_EVERY_S = 0.5


def probe_ms(cpus: frozenset[int] | set[int] | None, turns: int = PROBE_TURNS) -> float:
    """CPU milliseconds of one short run of the task on `cpus`. CPU time, not wall time:
    waiting for the CPU does not count, a CPU that executes slower (a busy sibling
    thread, a lower clock) does."""
    before = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)
    try:
        cpu = time.thread_time()
        task(turns)
        return (time.thread_time() - cpu) * 1000
    finally:
        os.sched_setaffinity(0, before)


class SpeedProbe:
    """Probes the speed of `cpus` every PROBE_EVERY_S while a step runs: `tick()` from
    the sampling loop, `take()` for the probes since the last take. `fastest` is the
    quickest probe seen so far: the machine's own speed under this load."""

    def __init__(self, cpus: frozenset[int] | set[int] | None,
                 every_s: float = PROBE_EVERY_S) -> None:
        self.cpus, self.every_s = cpus, every_s
        self.samples: list[float] = []
        self.fastest = math.inf
        self.last = -math.inf

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.every_s:
            self.last = now
            self.samples.append(probe_ms(self.cpus))
            self.fastest = min(self.fastest, self.samples[-1])

    def take(self) -> list[float]:
        taken, self.samples = self.samples, []
        return taken


def slowdown(samples: list[float], fastest: float) -> float | None:
    """How much slower than `fastest` the CPUs ran over `samples`: their median over it
    (1.0: as fast as ever seen). None without samples."""
    if not samples or not math.isfinite(fastest) or fastest <= 0:
        return None
    return round(statistics.median(samples) / fastest, 3)


def search_speed(steps: list[dict]) -> dict | None:
    """The server CPUs' speed over a search: the median, lowest and highest of its steps'
    median probes (CPU ms of the probe task), or None if no step was probed. On a machine
    whose speed moves, repeats of a cell can differ by this much for that reason alone."""
    medians = [s["speed"]["median_ms"] for s in steps
               if (s.get("speed") or {}).get("median_ms") is not None]
    if not medians:
        return None
    return {"median_ms": round(statistics.median(medians), 3),
            "fastest_ms": round(min(medians), 3), "slowest_ms": round(max(medians), 3)}
