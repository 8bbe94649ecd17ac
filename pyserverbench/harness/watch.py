"""What else the machine did while we measured: CPU steal (another tenant of the host),
CPU used by processes that are not ours, the load average, CPU clock and governor where
Linux shows them, and memory and CPU pressure. A run watched past a limit is disturbed."""

from __future__ import annotations

import os
import time
from pathlib import Path

import psutil

from pyserverbench.harness.usage import cpu_stolen

STEAL_LIMIT = 0.05  # share of the run's CPU time the hypervisor gave to someone else
FOREIGN_LIMIT = 0.10  # CPUs' worth of time used by processes that are not ours
PRESSURE_LIMIT = 5.0  # % of time some task waited for memory (PSI, avg10)


def pressure(kind: str, root: Path = Path("/proc/pressure")) -> float | None:
    """The `some avg10` of a PSI file (memory, cpu), or None where the kernel has none."""
    try:
        first = (root / kind).read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    fields = dict(part.split("=") for part in first.split()[1:])
    return float(fields["avg10"])


def clocks(root: Path = Path("/sys/devices/system/cpu")) -> dict:
    """Each CPU's clock in MHz and its governor, where cpufreq shows them (often not in a
    virtual machine: then both are empty)."""
    mhz, governors = {}, {}
    for folder in sorted(root.glob("cpu[0-9]*/cpufreq")):
        cpu = folder.parent.name[3:]
        try:
            mhz[cpu] = round(int((folder / "scaling_cur_freq").read_text()) / 1000)
            governors[cpu] = (folder / "scaling_governor").read_text().strip()
        except (OSError, ValueError):
            continue
    return {"mhz": mhz, "governors": sorted(set(governors.values()))}


def ours() -> set[int]:
    """This process, its ancestors (nox, a sitting) and all its descendants."""
    me = psutil.Process()
    found = {me.pid}
    try:
        found |= {p.pid for p in me.children(recursive=True)}
        found |= {p.pid for p in me.parents()}
    except psutil.Error:
        pass
    return found


def cpu_by_process() -> dict[int, tuple[float, float]]:
    """(start time, CPU seconds) of every user-space process we may read; kernel
    threads are left out (the kernel's work for our loopback traffic runs in them)."""
    seen = {}
    for proc in psutil.process_iter(["ppid", "create_time", "cpu_times"]):
        info = proc.info
        if proc.pid == 2 or info["ppid"] == 2 or info["cpu_times"] is None:
            continue
        seen[proc.pid] = (info["create_time"], info["cpu_times"].user + info["cpu_times"].system)
    return seen


def foreign_cpu_s(before: dict[int, tuple[float, float]],
                  after: dict[int, tuple[float, float]], mine: set[int]) -> float:
    """CPU seconds used between two readings by processes not in `mine` (a process that
    started in between counts whole; one that ended in between is missed)."""
    used = 0.0
    for pid, (created, cpu) in after.items():
        if pid in mine:
            continue
        start = before.get(pid)
        used += cpu - start[1] if start and start[0] == created else cpu
    return round(used, 3)


def before_facts() -> dict:
    """What the machine looks like before a run starts."""
    memory = psutil.virtual_memory()
    return {"load_average": [round(v, 2) for v in os.getloadavg()],
            "memory_available_bytes": memory.available,
            "memory_pressure": pressure("memory"), "cpu_pressure": pressure("cpu"),
            **clocks()}


class Watch:
    """Watches the machine from `start()` to `facts()`; `cpus` are the run's CPUs."""

    def __init__(self, cpus: list[int]) -> None:
        self.cpus = cpus
        self.before: dict = {}

    def start(self) -> None:
        self.before = before_facts()
        self.times = psutil.cpu_times(percpu=True)
        self.processes = cpu_by_process()
        self.began = time.monotonic()

    def facts(self) -> dict:
        """What happened since `start()`, with `disturbed` naming what passed a limit."""
        window = time.monotonic() - self.began
        foreign = foreign_cpu_s(self.processes, cpu_by_process(), ours())
        during = {"window_s": round(window, 2),
                  "steal": cpu_stolen(self.times, psutil.cpu_times(percpu=True), self.cpus),
                  "foreign_cpu_s": foreign,
                  "foreign_cpus": round(foreign / window, 3) if window > 0 else 0.0,
                  "load_average": [round(v, 2) for v in os.getloadavg()],
                  "memory_pressure": pressure("memory"), "cpu_pressure": pressure("cpu")}
        return {"before": self.before, "during": during, "disturbed": disturbed(during)}


def disturbed(during: dict) -> list[str]:
    """What in a run's watch passed its limit: empty if nothing did."""
    found = []
    if during["steal"] > STEAL_LIMIT:
        found.append(f"CPU steal {during['steal']:.1%} of the run's CPU time (limit "
                     f"{STEAL_LIMIT:.0%})")
    if during["foreign_cpus"] > FOREIGN_LIMIT:
        found.append(f"processes not ours used {during['foreign_cpus']:.2f} CPUs (limit "
                     f"{FOREIGN_LIMIT:.2f})")
    if (during["memory_pressure"] or 0.0) > PRESSURE_LIMIT:
        found.append(f"memory pressure {during['memory_pressure']:.1f}% (limit "
                     f"{PRESSURE_LIMIT:g}%)")
    return found
