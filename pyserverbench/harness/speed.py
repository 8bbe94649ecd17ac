"""The speed of a set of CPUs on a fixed CPU task, so that a machine that slowed down
(another tenant, a lower clock) can be told apart from a slower stack."""

from __future__ import annotations

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
