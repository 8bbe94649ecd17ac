"""What the load cost: CPU seconds and peak memory of each process tree, and how the
server's connections spread over its workers. Sampled during the load (psutil, /proc)."""

from __future__ import annotations

import math
import resource
import statistics
import time
from typing import Protocol

import psutil

from pyserverbench.harness.procs import process_tree
from pyserverbench.harness.sockets import established_many

UNEVEN_RATIO = 1.5  # busiest worker over quietest, by mean connections


class HasPid(Protocol):
    pid: int


class TreeUsage:
    """CPU time (user + system) and resident memory of a process and its descendants."""

    def __init__(self, root_pid: int) -> None:
        self.root_pid = root_pid
        self.first_cpu: dict[int, float] = {}
        self.last_cpu: dict[int, float] = {}
        self.peak_rss: dict[int, int] = {}
        self.peak_threads: dict[int, int] = {}
        self.peak_total_rss = 0

    def members(self) -> list[psutil.Process]:
        return process_tree(self.root_pid)

    def sample(self) -> None:
        total = 0
        for proc in self.members():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    rss = proc.memory_info().rss
                    threads = proc.num_threads()
            except psutil.Error:
                continue
            self.peak_threads[proc.pid] = max(self.peak_threads.get(proc.pid, 0), threads)
            cpu = times.user + times.system
            self.first_cpu.setdefault(proc.pid, cpu)
            self.last_cpu[proc.pid] = cpu
            self.peak_rss[proc.pid] = max(self.peak_rss.get(proc.pid, 0), rss)
            total += rss
        self.peak_total_rss = max(self.peak_total_rss, total)

    def cpu_seconds(self, pid: int | None = None) -> float:
        pids = [pid] if pid is not None else list(self.last_cpu)
        return sum(self.last_cpu[p] - self.first_cpu[p] for p in pids if p in self.last_cpu)


def split_facts(counts: dict[int, list[int]]) -> dict:
    """Each worker's share of the sampled connections, and whether the split is uneven."""
    means = {pid: statistics.fmean(seen) if seen else 0.0 for pid, seen in counts.items()}
    total = sum(means.values())
    shares = sorted((round(m / total, 3) for m in means.values()), reverse=True) if total else []
    uneven = False
    if len(means) > 1 and total >= 2:
        low = min(means.values())
        uneven = low == 0 or max(means.values()) / low > UNEVEN_RATIO
    return {"shares": shares, "uneven": uneven}


class LoadMonitor:
    """Samples a server's process tree (and how its workers' connections spread) and the
    fake DB's while the load runs; either may be left out (a role watches its own). The
    `*_facts` methods give the parts of a record's usage, `facts` all of it."""

    def __init__(self, server: HasPid | None, server_port: int, db: HasPid | None,
                 workers: list[int], cpu_interval_s: float = 2.0,
                 connection_interval_s: float = 10.0) -> None:
        self.server = TreeUsage(server.pid if server else 0)
        self.db = TreeUsage(db.pid if db else 0)
        self.trees = [tree for tree, given in ((self.server, server), (self.db, db)) if given]
        self.server_port = server_port
        self.cpu_interval_s = cpu_interval_s
        self.connection_interval_s = connection_interval_s
        self.workers = list(workers)  # the processes that loaded the app (the probe's)
        self.connections: dict[int, list[int]] = {pid: [] for pid in self.workers}
        self.started: float | None = None
        self.last_sample = self.last_connections = -math.inf  # the first tick samples
        self.window_s = 0.0
        self.children_cpu_at_start = children_cpu()
        self.own_cpu_at_start = _cpu(resource.RUSAGE_SELF)

    def tick(self) -> None:
        """Called often while the load runs; samples when an interval has passed."""
        now = time.monotonic()
        if now - self.last_sample >= self.cpu_interval_s:
            self.sample()
        if now - self.last_connections >= self.connection_interval_s and self.workers:
            found = established_many(self.workers, self.server_port)
            for pid in self.workers:
                self.connections[pid].append(len(found[pid]))
            self.last_connections = now

    def sample(self) -> None:
        """Sample the trees now (the first sample starts the window)."""
        now = time.monotonic()
        if self.started is None:
            self.started = now
        for tree in self.trees:
            tree.sample()
        self.last_sample = now
        self.window_s = now - self.started

    def server_facts(self) -> dict:
        workers = [{
            "pid": pid,
            "cpu_s": round(self.server.cpu_seconds(pid), 3),
            "peak_rss_bytes": self.server.peak_rss.get(pid, 0),
            "connections_mean": round(statistics.fmean(self.connections[pid]), 2)
            if self.connections.get(pid) else 0.0,
        } for pid in self.workers]
        return {"cpu_s": round(self.server.cpu_seconds(), 3),
                "peak_rss_bytes": self.server.peak_total_rss,
                "processes": len(self.server.last_cpu), "workers": workers}

    def db_facts(self) -> dict:
        return {"cpu_s": round(self.db.cpu_seconds(), 3), "peak_rss_bytes": self.db.peak_total_rss}

    def facts(self, k6_wall_s: float) -> dict:
        """The usage part of a record; call after k6 has exited."""
        # k6 is the only child reaped during the load; this process did the sampling
        k6_cpu = children_cpu() - self.children_cpu_at_start
        harness_cpu = _cpu(resource.RUSAGE_SELF) - self.own_cpu_at_start
        return {
            "window_s": round(self.window_s, 2),
            "server": self.server_facts(),
            "fakedb": self.db_facts(),
            "k6": {"cpu_s": round(k6_cpu, 3), "wall_s": round(k6_wall_s, 2)},
            "harness": {"cpu_s": round(harness_cpu, 3)},
            "connections": split_facts(self.connections),
        }


def _shares(before: list, after: list, cpus: list[int], names: tuple[str, ...],
            ) -> float | None:
    """The share of `cpus`' time, between two `psutil.cpu_times(percpu=True)` readings,
    spent in the fields `names` (guest time is inside user, so it is not counted twice);
    None if no time passed."""
    part = total = 0.0
    for cpu in cpus:
        spent = {name: getattr(after[cpu], name) - getattr(before[cpu], name)
                 for name in after[cpu]._fields}
        part += sum(spent.get(name, 0.0) for name in names)
        total += sum(v for name, v in spent.items() if name not in ("guest", "guest_nice"))
    return part / total if total > 0 else None


def cpu_busy(before: list, after: list, cpus: list[int]) -> float:
    """The share of time `cpus` were busy between two `psutil.cpu_times(percpu=True)`
    readings, as the kernel counts it (interrupt and network work included)."""
    idle = _shares(before, after, cpus, ("idle", "iowait"))
    return round(1.0 - idle, 3) if idle is not None else 0.0


def cpu_stolen(before: list, after: list, cpus: list[int]) -> float:
    """The share of `cpus`' time the hypervisor gave to another guest (steal) between two
    `psutil.cpu_times(percpu=True)` readings: 0 where the kernel does not count it."""
    stolen = _shares(before, after, cpus, ("steal",))
    return round(stolen, 4) if stolen is not None else 0.0


def _cpu(who: int) -> float:
    """User + system seconds of this process (RUSAGE_SELF) or its reaped children."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def children_cpu() -> float:
    """User + system seconds of this process's reaped children (k6, where it is the only
    child reaped during the load)."""
    return _cpu(resource.RUSAGE_CHILDREN)
