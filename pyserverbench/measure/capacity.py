"""`python -m pyserverbench capacity`: capacity searches with the fake DB and the server kept
up across the steps of one search, fresh processes for every search; one record each."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from pyserverbench.cli.capacity_options import (
    START_RPS,
    build_parser,
    default_server_cpus,
    search_problem,
)
from pyserverbench.cli.progress import Progress
from pyserverbench.harness.k6 import find_k6, k6_version
from pyserverbench.harness.machine import free_threaded_build
from pyserverbench.harness.probe import NodelayReader, judge, probe_facts, read_workers
from pyserverbench.harness.speed import SpeedProbe, search_speed
from pyserverbench.matrix.stacks import STACKS
from pyserverbench.matrix.workloads import (
    STUDY_MIX,
    db_waits,
    most_calls,
    parse_mix,
    workload_from,
)
from pyserverbench.measure.lifecycle import (
    base_record,
    guarded,
    measured,
    new_group,
    preflight,
)
from pyserverbench.measure.search import (
    AIM_SLOTS,
    FIRST_SLOTS,
    LOAD_BUSY,
    MIN_RPS,
    SCRIPT,
    Search,
    aim,
    bounds,
    default_goal_ms,
    first_rate,
    search,
    steady,
    step_argv,
    step_problem,
    step_seconds,
    users_script,
)
from pyserverbench.measure.setup import RunConfig, resolve_workers, services
from pyserverbench.measure.steps import Stepper

WARM_SHARE = 0.5  # before its first step a fresh server serves this share of that rate ...
WARM_S = 3  # ... for this many seconds, not judged (a cold first step fails, measured)
POOL_SLACK = 1.1  # a capacity may pass the pool bound by this much (the `/` share varies)


@dataclass(frozen=True)
class CapacityConfig:
    """One capacity search: the run's setup (step duration as its duration) and the goal."""

    run: RunConfig
    goal_ms: float
    warmup_s: int
    resolution: float
    min_requests: int
    start_rps: float
    max_rps: float
    mix: str
    near_rps: float | None = None  # an earlier search's answer for the cell, if given

    def db_wait_ms(self) -> float:
        """The mix's mean DB wait per request in this stack's app."""
        return db_waits(parse_mix(self.mix), self.run.stack.app) * self.run.db_latency_ms

    def pool_rps(self) -> float | None:
        """The rate the workers' DB pools allow for this search's mix, None without one."""
        return self.run.pool_rps(self.mix)


def parse_args(argv: list[str] | None = None) -> tuple[list[CapacityConfig], int, str]:
    """The searches to run (one per latency), the repeat count and the progress label."""
    return parse(argv)[:3]


def parse(argv: list[str] | None = None
          ) -> tuple[list[CapacityConfig], int, str, Progress | None]:
    """parse_args, and the session's place in a longer plan if one was passed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    wrong = search_problem(args)
    if wrong:
        parser.error(wrong)
    workload = workload_from(args)
    mix = workload.mix(args.mix or STUDY_MIX)
    calls = most_calls(parse_mix(mix))
    cpus = None if args.shared_cpus else (
        args.server_cpus or default_server_cpus(os.sched_getaffinity(0)))
    workers, rule = resolve_workers(STACKS[args.stack], args.workers, cpus)
    configs = [CapacityConfig(
        run=RunConfig(stack=STACKS[args.stack], workers=workers, threads=args.threads,
                      duration_s=args.step, db_latency_ms=latency, vus=0,
                      results_dir=args.results_dir, repeat=args.repeat, server_cpus=cpus,
                      workload=workload, workers_rule=rule, db=args.db, pool=args.db_pool),
        goal_ms=args.goal_ms if args.goal_ms is not None else default_goal_ms(latency, calls),
        warmup_s=args.warmup, resolution=args.resolution, min_requests=args.min_requests,
        start_rps=args.start_rps or min(START_RPS, args.max_rps),
        max_rps=args.max_rps, mix=mix, near_rps=args.near) for latency in args.db_latency]
    return configs, args.repeat, args.progress_label, args.progress


def settings(config: CapacityConfig) -> dict:
    """How a search was set up: in its record from the start, failed or not."""
    return {"goal_ms": config.goal_ms, "step_s": config.run.duration_s,
            "warmup_s": config.warmup_s, "resolution": config.resolution,
            "min_requests": config.min_requests,
            "start_rps": config.start_rps, "near_rps": config.near_rps,
            "max_rps": config.max_rps, "mix": config.mix,
            "warm": None, "set_aside": [], "steps": []}


def search_facts(config: CapacityConfig, found: Search, slots: int | None,
                 server_cpus: int) -> dict:
    """The capacity part of a record: the steps, what was found and what theory allows."""
    wait_ms = config.db_wait_ms()
    passed = [s for s in found.steps if s["passed"] and s["offered_rps"] == found.passing]
    failed = [s for s in found.steps if not s["passed"] and s["offered_rps"] == found.failing]
    cost = passed[-1]["cpu_s_per_1000"] if passed else None
    return {
        **settings(config),
        "db_wait_ms": round(wait_ms, 3), "slots": slots,
        "rps": found.passing, "failing_rps": found.failing,
        "at_max": found.passing is not None and found.passing >= config.max_rps,
        # the step that decided the upper end was limited by the load side, not the server
        "lower_bound": any(s["load_busy"] >= LOAD_BUSY for s in failed),
        "cpu_s_per_1000": cost,
        "peak_rss_bytes": max((s["usage"]["server"]["peak_rss_bytes"] for s in found.steps),
                              default=0),
        "bounds": bounds(slots, server_cpus, wait_ms, cost),
        "inconsistent_steps": sum(bool(s["little"]["problems"]) for s in found.steps),
        "speed": search_speed(found.steps),
        "steps": found.steps,
    }


def verdict(found: Search, probe: dict) -> str | None:
    """Why a finished search does not count, or None if it does."""
    if found.error:
        return f"the search did not finish: {found.error}"
    if probe["contradictions"]:
        return "what served contradicts the stack: " + "; ".join(probe["contradictions"])
    if found.passing is None:
        return f"no rate passed, down to {found.failing:g}/s"
    return None


def measure(config: CapacityConfig, k6: str, logs: Path, record: dict,
            say: Callable[[dict], None]) -> tuple[dict, str | None]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """One search against one fake DB and one server: the record's results, and why
    they do not count (None if they do)."""
    run = config.run
    slots = run.stack.slots(run.workers, record["threads"])
    wait_ms = config.db_wait_ms()

    own = run.app.k6_script if run.app else None
    script = users_script(own, logs) if own else SCRIPT

    def load_commands(base_url: str) -> dict[str, list[str]]:
        argv = step_argv(k6, logs / "step-N.json", base_url, 0, run.duration_s,
                         config.warmup_s, 0, config.mix, script=script)
        shown = {"RATE=0": "RATE=<per step>", "VUS=0": "VUS=<per step>"}
        return {"k6": [shown.get(part, part) for part in argv]}

    with services(run, logs, record, load_commands) as up:
        before = read_workers(up.probe_dir)
        workers = up.workers(before)
        nodelay = NodelayReader(workers, up.server_port)

        step = Stepper(run, k6, logs, up, workers, nodelay, record["placement"], slots,
                       wait_ms, config.goal_ms, config.warmup_s, config.mix,
                       run.app.requests() if run.app else None, script if own else None,
                       probe=SpeedProbe(run.server_cpus))

        found_steps: list[dict] = record["capacity"]["steps"]  # kept if the search fails
        set_aside: list[dict] = record["capacity"]["set_aside"]  # steps lost to steal

        def judged(step: dict) -> None:
            found_steps.append(step)
            say(step)

        server_cpus = len(record["placement"]["server_cpus"])
        pool_rps = config.pool_rps()
        start = under(first_rate(config.start_rps, slots, wait_ms), pool_rps, FIRST_SLOTS)
        warm = step(max(MIN_RPS, round((config.near_rps or start) * WARM_SHARE, 1)), WARM_S)
        problem = step_problem(warm, config.goal_ms)
        record["capacity"]["warm"] = {**warm, "passed": problem is None, "reason": problem}
        measured = steady(lambda rate: step(rate, step_seconds(rate, run.duration_s,
                                                                config.min_requests)),
                          set_aside)
        found = search(measured, config.goal_ms, start,
                       config.resolution, config.max_rps, on_step=judged,
                       aim_after=lambda first: under(aim(first, slots, server_cpus, wait_ms),
                                                     pool_rps, AIM_SLOTS),
                       near=config.near_rps)
        after = read_workers(up.probe_dir)
        probe = probe_facts(run.processes, before, after,
                            up.workers(after), {}, nodelay.readings,
                            nodelay.error)
        up.server.check_alive()
        up.db.check_alive()
    served = [record["capacity"]["warm"], *set_aside, *found.steps]
    probe["contradictions"] = judge(
        run.stack.loop, run.stack.parser, run.processes, probe,
        sum(s["total_requests"] for s in served), sum(s["vus"] for s in served),
        free_threaded_build())
    facts = {**search_facts(config, found, slots, server_cpus),
             "warm": record["capacity"]["warm"], "set_aside": set_aside}
    if run.db != "fake":
        seen = [s["db"]["connections"]["most"] for s in found.steps if s.get("db")]
        record["db"].update(pool_bound_rps=pool_rps, connections_most=max(seen, default=None))
    return ({"capacity": facts, "probe": probe,
             "vus": max((s["vus"] for s in found.steps), default=0)},
            verdict(found, probe) or past_pool(found.passing, pool_rps))


def under(rate: float | None, pool_rps: float | None, share: float) -> float | None:
    """`rate`, kept under `share` of the pools' bound where there is one."""
    if pool_rps is None:
        return rate
    capped = round(pool_rps * share, 1)
    return capped if rate is None else min(rate, capped)


def past_pool(passing: float | None, pool_rps: float | None) -> str | None:
    """Why a capacity above what the DB pools allow cannot be right (a bug), or None."""
    if passing is None or pool_rps is None or passing <= pool_rps * POOL_SLACK:
        return None
    return (f"capacity {passing:g}/s is above the {pool_rps:g}/s the DB pools allow "
            f"(connections / latency): a bug in the measurement")


def run_search(config: CapacityConfig, repeat: dict,
               say: Callable[[dict], None]) -> tuple[dict, Path]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """One search, recorded whether it finished or not."""
    k6 = find_k6()
    record = base_record(config.run, datetime.now(timezone.utc), k6_version(k6))
    record.update(kind="capacity", repeat=repeat, metrics=None, capacity=settings(config))
    return measured(record, lambda logs: measure(config, k6, logs, record, say),
                    config.run.results_dir, config.run.server_cpus)


def step_line(prefix: str, step: dict) -> str:
    """One progress line for a step."""
    outcome = "pass" if step["passed"] else f"fail: {step['reason']}"
    busy = step["usage"]["cpus_busy"]
    return (f"{prefix}: {step['offered_rps']:,.1f}/s offered, {step['achieved_rps']:,.1f}/s "
            f"achieved, p99 {step['p99_ms']:.1f} ms, CPUs busy: server "
            f"{busy['server_cpus']:.0%}, load {step['load_busy']:.0%}: {outcome}")


def result_line(prefix: str, record: dict, path: Path) -> str:
    rel = os.path.relpath(path)
    if not record["ok"]:
        return f"{prefix}: search failed: {record['error']} (record: {rel})"
    found = record["capacity"]
    bound = " (a lower bound: the load side was busy)" if found["lower_bound"] else ""
    return (f"{prefix}: capacity {found['rps']:,.1f}/s at p99 <= {found['goal_ms']:g} ms"
            f"{bound}, {len(found['steps'])} steps (record: {rel})")


def main(argv: list[str] | None = None) -> int:
    configs, repeat, label, progress = parse(argv)
    return search_main(configs, repeat, label, progress)


def search_main(configs: list[CapacityConfig], repeat: int, label: str,
                progress: Progress | None) -> int:
    """Run the searches, one line per step and per search, with the time left."""
    wrong = preflight("capacity searches", SCRIPT)
    if wrong is not None:
        return wrong
    load_cpus = configs[0].run.load_cpus()
    if load_cpus:  # the harness samples and waits on the load side, off the server's CPUs
        os.sched_setaffinity(0, load_cpus)

    plan = progress or Progress.starting()

    def searches() -> int:
        total, done, failed = len(configs) * repeat, 0, 0
        began = time.monotonic()
        for config in configs:
            group = new_group()
            for index in range(1, repeat + 1):
                run = config.run
                prefix = (f"{label + ' ' if label else ''}{run.stack.name} x{run.workers}, "
                          f"{run.db_latency_ms} ms DB, search {done + 1} of {total}")
                print(f"{label + ' ' if label else ''}{run.stack.name} x{run.workers}: "
                      f"{plan.line(done, total, 'search')}", flush=True)
                steps = [0]

                def say(step: dict, prefix: str = prefix, steps: list[int] = steps) -> None:
                    steps[0] += 1
                    print(step_line(f"{prefix}, step {steps[0]}", step), flush=True)

                record, path = run_search(config, {"group": group, "index": index,
                                                   "of": repeat}, say)
                done += 1
                failed += not record["ok"]
                elapsed = time.monotonic() - began
                print(result_line(prefix, record, path)
                      + f"; {done} done, {total - done} left, {elapsed / 60:.1f} min so far",
                      file=sys.stdout if record["ok"] else sys.stderr, flush=True)
        return 1 if failed else 0

    return guarded(searches, "search")
