"""One open-loop step against services that are up: k6 at a constant arrival rate, the
trees sampled while it runs, the step's figures (rate, percentiles, CPU cost, how busy
each side's CPUs were, Little's law)."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from pyserverbench.harness.k6 import K6Error, read_summary, run_k6
from pyserverbench.harness.probe import NodelayReader, read_workers
from pyserverbench.harness.procs import Process, ProcessError, log_tail
from pyserverbench.harness.speed import SpeedProbe, slowdown
from pyserverbench.harness.usage import LoadMonitor, TreeUsage, cpu_busy, cpu_stolen
from pyserverbench.measure.database import DbWatch
from pyserverbench.measure.search import (
    cpu_per_1000,
    little,
    load_busy,
    step_argv,
    step_figures,
    vus_for,
)
from pyserverbench.measure.setup import RunConfig, Services

COOL_DOWN_S = 0.25  # after a step, at least this long before the next
REST_IDLE = 0.05  # ... and until the server and the fake DB use under this share of a CPU
REST_WINDOW_S = 0.25  # ... over this window
REST_DEADLINE_S = 15.0  # ... or this long has passed (the step after it says so)


def rest(roots: list[int], idle: float = REST_IDLE, window_s: float = REST_WINDOW_S,
         deadline_s: float = REST_DEADLINE_S, least_s: float = COOL_DOWN_S) -> float:
    """Wait until the process trees under `roots` are at rest: at least `least_s`, then
    until their CPU use over `window_s` falls under `idle` of one CPU, or `deadline_s`
    has passed. An overloaded server goes on serving the backlog after k6 has stopped;
    a step started before it has drained fails at rates that pass on a rested server.
    Returns the seconds waited."""
    started = time.monotonic()
    time.sleep(least_s)
    trees = [TreeUsage(root) for root in roots]
    while True:
        for tree in trees:
            tree.sample()
        time.sleep(window_s)
        used = 0.0
        for tree in trees:
            tree.sample()
            used += tree.cpu_seconds()
            tree.first_cpu = dict(tree.last_cpu)
        waited = time.monotonic() - started
        if used / window_s < idle or waited >= deadline_s:
            return round(waited, 2)


@dataclass
class Stepper:
    """Runs steps against `up`; each step's logs go under `logs`, numbered."""

    run: RunConfig
    k6: str
    logs: Path
    up: Services
    workers: list[int]
    nodelay: NodelayReader
    placement: dict
    slots: int | None
    wait_ms: float
    goal_ms: float
    warmup_s: int
    mix: str
    requests: list[list] | None = None  # a user's requests beyond plain GETs (step_argv)
    script: Path | None = None  # a user's k6 script in capacity.js's scenarios
    count: int = 0
    connection_interval_s: float = 10.0  # how often the workers' connections are counted
    rested_s: float = 0.0  # how long the server took to come to rest after the last step
    probe: SpeedProbe | None = None  # the server CPUs' speed, probed while a step runs

    def __call__(self, rate: float, duration_s: int | None = None) -> dict:
        # pragma: no mutate block  (drives real processes: see docs/contributing.md)
        """Run one step at `rate` for `duration_s` (the run's step length if None)."""
        duration = duration_s or self.run.duration_s
        number, self.count = self.count, self.count + 1
        vus = vus_for(rate, self.goal_ms)
        summary = self.logs / f"step-{number}.json"
        argv = step_argv(self.k6, summary, self.up.base_url, rate, duration,
                         self.warmup_s, vus, self.mix, self.requests,
                         *([self.script] if self.script else []))
        monitor = LoadMonitor(self.up.server, self.up.server_port, self.up.db,
                              self.workers, cpu_interval_s=1.0,
                              connection_interval_s=self.connection_interval_s)

        db_watch = DbWatch(self.up.database, lambda: read_workers(self.up.probe_dir))
        db_watch.start()

        def tick(k6_process: Process) -> None:
            monitor.tick()
            self.nodelay.tick()
            db_watch.tick()
            if self.probe is not None:
                self.probe.tick()

        started, times = time.monotonic(), psutil.cpu_times(percpu=True)
        log = self.logs / f"k6-step-{number}.log"
        code, abort = run_k6(argv, log, self.warmup_s + duration + 60.0,
                             [self.up.db, self.up.server], on_tick=tick,
                             cpus=self.run.load_cpus(), env=self.up.envs["k6"],
                             cwd=self.up.room)
        if abort is not None:
            raise ProcessError(abort)
        if not summary.exists():
            raise K6Error(f"k6 exited with code {code} at {rate:g}/s without a summary; "
                          f"log: {log_tail(log)}")
        usage = monitor.facts(time.monotonic() - started)
        now = psutil.cpu_times(percpu=True)
        usage["cpus_busy"] = {side: cpu_busy(times, now, self.placement[side])
                              for side in ("server_cpus", "load_cpus")}
        usage["steal"] = cpu_stolen(times, now, sorted({
            *self.placement["server_cpus"], *self.placement["load_cpus"]}))
        figures = {**step_figures(read_summary(summary), rate, duration),
                   "step_s": duration, "vus": vus, "k6_exit_code": code, "usage": usage}
        figures["cpu_s_per_1000"] = cpu_per_1000(usage, figures["achieved_rps"])
        figures["load_busy"] = max(load_busy(usage, len(self.placement["load_cpus"])),
                                   usage["cpus_busy"]["load_cpus"])
        figures["little"] = little(figures, self.slots, self.wait_ms)
        seen = db_watch.take()
        if seen is not None:
            figures["db"] = seen
        if self.probe is not None:
            probes = self.probe.take()
            figures["speed"] = {"probes": len(probes),
                                "median_ms": round(statistics.median(probes), 3) if probes
                                else None,
                                "slowdown": slowdown(probes, self.probe.fastest)}
        figures["rest_before_s"] = self.rested_s
        self.rested_s = rest([self.up.server.pid, self.up.db.pid])
        return figures
