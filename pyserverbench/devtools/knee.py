"""Why repeats of a capacity cell disagree: run a schedule of open-loop steps against one
stack and print each step's figures with the machine's state, so that a rate can be
repeated on a fresh server, right after an overload, and with steps of other lengths.

    python -m pyserverbench knee --stack uvicorn --db-latency 25 \\
        --schedule "1150x5|2000,1150x5|1150@15x3"

A schedule is steps separated by commas; `|` restarts the server and the fake DB. A step
is RATE, RATExN (N times) or RATE@S (S seconds measured)."""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from pyserverbench.cli.capacity_options import build_parser
from pyserverbench.harness.k6 import find_k6, k6_version
from pyserverbench.harness.probe import NodelayReader, read_workers
from pyserverbench.harness.speed import SpeedProbe, cpu_speed
from pyserverbench.harness.watch import Watch
from pyserverbench.measure.capacity import parse_args
from pyserverbench.measure.lifecycle import base_record, guarded
from pyserverbench.measure.search import step_problem
from pyserverbench.measure.setup import services
from pyserverbench.measure.steps import Stepper

Step = tuple[float, int | None]  # rate, seconds (None: the --step length)


def schedule(text: str) -> list[list[Step]]:
    """The schedule's blocks (one per fresh start), each a list of steps."""
    blocks = []
    for block in text.split("|"):
        steps: list[Step] = []
        for part in filter(None, (p.strip() for p in block.split(","))):
            part, _, times = part.partition("x")
            rate, _, seconds = part.partition("@")
            steps += [(float(rate), int(seconds) if seconds else None)] * int(times or 1)
        blocks.append(steps)
    return blocks


def line(step: dict, goal_ms: float, speed: dict, watch: dict) -> str:
    reason = step_problem(step, goal_ms)
    shares = "/".join(f"{x:.2f}" for x in step["usage"]["connections"]["shares"])
    worker_cpu = "/".join(str(w["cpu_s"]) for w in step["usage"]["server"]["workers"])
    return (f"{step['offered_rps']:7,.0f}/s {step['step_s']:3d}s: achieved "
            f"{step['achieved_rps']:7,.1f}, n {step['requests']:6,d}, p50 {step['p50_ms']:7.1f}, "
            f"p99 {step['p99_ms']:7.1f} ms, dropped {step['dropped']:5d}, server CPU "
            f"{step['usage']['cpus_busy']['server_cpus']:4.0%}, cpu/req "
            f"{step['cpu_s_per_1000'] or 0:.3f} ms, speed {speed['task_ms']:.1f} ms, probe "
            f"{step['speed']['median_ms']:.2f} ms x{step['speed']['slowdown']:.2f}, steal "
            f"{watch['during']['steal']:.1%}, foreign {watch['during']['foreign_cpus']:.2f}, "
            f"rested {step['rest_before_s']:.1f} s, connections {shares}, worker CPU {worker_cpu}: "
            f"{'pass' if reason is None else 'FAIL ' + reason[:40]}")


def main(argv: list[str] | None = None) -> int:
    argv = list(argv or [])
    if "--schedule" not in argv:
        build_parser(prog="python -m pyserverbench knee").error(
            "argument --schedule: required (steps like 1150x5|2000,1150x5)")
    at = argv.index("--schedule")
    blocks = schedule(argv[at + 1])
    configs, _, _ = parse_args(argv[:at] + argv[at + 2:])
    config = configs[0]
    run = config.run
    k6 = find_k6()
    if run.load_cpus():
        os.sched_setaffinity(0, run.load_cpus())

    def body() -> int:
        for number, block in enumerate(blocks, start=1):
            print(f"-- start {number}: {run.stack.name} x{run.workers}, "
                  f"{run.db_latency_ms} ms, goal {config.goal_ms:g} ms", flush=True)
            record = base_record(run, datetime.now(timezone.utc), k6_version(k6))
            with tempfile.TemporaryDirectory(prefix="pyserverbench-knee-") as tmp, \
                    services(run, Path(tmp), record, lambda url: {}) as up:
                workers = up.workers(read_workers(up.probe_dir))
                slots = run.stack.slots(run.workers, run.effective_threads())
                step = Stepper(run, k6, Path(tmp), up, workers,
                               NodelayReader(workers, up.server_port), record["placement"],
                               slots, config.db_wait_ms(), config.goal_ms, config.warmup_s,
                               config.mix, connection_interval_s=0.5,
                               probe=SpeedProbe(run.server_cpus))
                for rate, seconds in block:
                    speed = cpu_speed(run.server_cpus)
                    watch = Watch(sorted(os.sched_getaffinity(0) | set(run.server_cpus or ())))
                    watch.start()
                    found = step(rate, seconds)
                    print(line(found, config.goal_ms, speed, watch.facts()), flush=True)
        return 0

    return guarded(body, "schedule")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
