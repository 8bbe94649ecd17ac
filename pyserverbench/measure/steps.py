"""One open-loop step against services that are up: k6 at a constant arrival rate, the
trees sampled while it runs, the step's figures (rate, percentiles, CPU cost, how busy
each side's CPUs were, Little's law)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from pyserverbench.harness.k6 import K6Error, read_summary, run_k6
from pyserverbench.harness.probe import NodelayReader
from pyserverbench.harness.procs import Process, ProcessError, log_tail
from pyserverbench.harness.usage import LoadMonitor, cpu_busy
from pyserverbench.measure.search import (
    cpu_per_1000,
    little,
    load_busy,
    step_argv,
    step_figures,
    vus_for,
)
from pyserverbench.measure.setup import RunConfig, Services

COOL_DOWN_S = 0.5  # after a step, so that its queue has drained before the next


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
    count: int = 0
    connection_interval_s: float = 10.0  # how often the workers' connections are counted

    def __call__(self, rate: float, duration_s: int | None = None) -> dict:
        # pragma: no mutate block  (drives real processes: see docs/contributing.md)
        """Run one step at `rate` for `duration_s` (the run's step length if None)."""
        duration = duration_s or self.run.duration_s
        number, self.count = self.count, self.count + 1
        vus = vus_for(rate, self.goal_ms)
        summary = self.logs / f"step-{number}.json"
        argv = step_argv(self.k6, summary, self.up.base_url, rate, duration,
                         self.warmup_s, vus, self.mix)
        monitor = LoadMonitor(self.up.server, self.up.server_port, self.up.db,
                              self.workers, cpu_interval_s=1.0,
                              connection_interval_s=self.connection_interval_s)

        def tick(k6_process: Process) -> None:
            monitor.tick()
            self.nodelay.tick()

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
        figures = {**step_figures(read_summary(summary), rate, duration),
                   "step_s": duration, "vus": vus, "k6_exit_code": code, "usage": usage}
        figures["cpu_s_per_1000"] = cpu_per_1000(usage, figures["achieved_rps"])
        figures["load_busy"] = max(load_busy(usage, len(self.placement["load_cpus"])),
                                   usage["cpus_busy"]["load_cpus"])
        figures["little"] = little(figures, self.slots, self.wait_ms)
        time.sleep(COOL_DOWN_S)
        return figures
