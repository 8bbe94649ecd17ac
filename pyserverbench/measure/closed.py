"""The closed loop (`python -m pyserverbench run`): k6's virtual users in a loop against
the fake DB and the server for a set time; one record per run."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from pyserverbench import ROOT
from pyserverbench.cli.options import (
    OneLineParser,
    add_load_options,
    add_results_dir,
    add_stack,
    add_workers,
    db_problem,
    workload_problem,
)
from pyserverbench.cli.progress import Progress, add_progress_option
from pyserverbench.harness.k6 import (
    THRESHOLDS_CROSSED,
    K6Error,
    find_k6,
    k6_argv,
    k6_version,
    metrics_from_summary,
    read_summary,
    run_k6,
    script_argv,
)
from pyserverbench.harness.machine import free_threaded_build
from pyserverbench.harness.probe import NodelayReader, judge, probe_facts, read_workers
from pyserverbench.harness.procs import Process, ProcessError
from pyserverbench.harness.usage import LoadMonitor
from pyserverbench.matrix.ceiling import ceiling_facts, client_facts
from pyserverbench.matrix.stacks import STACKS, threads_problem
from pyserverbench.matrix.workloads import workload_from
from pyserverbench.measure.database import DbWatch
from pyserverbench.measure.lifecycle import (
    base_record,
    guarded,
    measured,
    new_group,
    preflight,
)
from pyserverbench.measure.setup import RunConfig, resolve_workers, services

LOAD_SCRIPT = ROOT / "load.js"
TREND_STATS = "avg,min,med,max,p(90),p(95),p(99)"  # as load.js's summaryTrendStats


def build_parser(prog: str = "python -m pyserverbench run") -> OneLineParser:
    """The options of one run."""
    parser = OneLineParser(prog=prog, description="Run one benchmark and write its record.")
    add_stack(parser)
    add_workers(parser)
    add_load_options(parser)
    add_results_dir(parser, help="where to write the record (default results/runs)")
    add_progress_option(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> RunConfig:
    return parse(argv)[0]


def parse(argv: list[str] | None = None) -> tuple[RunConfig, Progress | None]:
    """The run's config, and its place in a longer plan if one was passed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stack = STACKS[args.stack]
    wrong = (threads_problem(stack.name, args.threads) or workload_problem(args)
             or db_problem(args))
    if wrong:
        parser.error(wrong)
    workers, rule = resolve_workers(stack, args.workers, args.server_cpus)
    return RunConfig(stack=stack, workers=workers, workers_rule=rule, threads=args.threads,
                     duration_s=args.duration, db_latency_ms=args.db_latency, vus=args.vus,
                     results_dir=args.results_dir, repeat=args.repeat,
                     server_cpus=args.server_cpus, connections=args.connections,
                     workload=workload_from(args), db=args.db, pool=args.db_pool), args.progress


def measure(config: RunConfig, k6: str, logs: Path, record: dict) -> dict:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Start everything, check, load, stop everything; return k6's results."""
    summary_path = logs / "k6-summary.json"

    def load_commands(base_url: str) -> dict[str, list[str]]:
        return {"k6": k6_command(config, k6, summary_path, base_url)}

    with services(config, logs, record, load_commands) as up:
        load_argv = record["commands"]["k6"]
        before = read_workers(up.probe_dir)
        workers = up.workers(before)
        monitor = LoadMonitor(up.server, up.server_port, up.db, workers)
        nodelay = NodelayReader(workers, up.server_port)
        db_watch = DbWatch(up.database, lambda: read_workers(up.probe_dir))
        db_watch.start()

        def tick(k6_process: Process) -> None:
            monitor.tick()
            nodelay.tick()
            db_watch.tick()

        k6_start = time.monotonic()
        code, abort = run_k6(load_argv, logs / "k6.log", config.duration_s + 120.0,
                             [up.db, up.server], on_tick=tick, cpus=config.load_cpus(),
                             env=up.envs["k6"], cwd=up.room)
        usage = monitor.facts(time.monotonic() - k6_start)
        db_seen = db_watch.take()
        if db_seen is not None:
            record["db"].update(seen=db_seen,
                                pool_bound_rps=config.pool_rps(config.workload.mix()))
        after = read_workers(up.probe_dir)
        probe = probe_facts(config.processes, before, after,
                            up.workers(after),
                            monitor.server.peak_threads, nodelay.readings, nodelay.error)
        if abort is None:
            up.server.check_alive()
            up.db.check_alive()
    summary_data, metrics = read_results(summary_path, abort)
    probe["contradictions"] = judge(config.stack.loop, config.stack.parser, config.processes,
                                    probe, metrics["requests"], config.vus,
                                    free_threaded_build())
    return {"k6_exit_code": code, "k6_summary": summary_data, "abort": abort,
            "metrics": metrics, "usage": usage, "probe": probe,
            "ceiling": None if config.app else ceiling_facts(
                metrics["requests"], config.vus, config.duration_s, config.db_latency_ms,
                config.workload, config.stack.app),
            "client": client_facts(config.vus, config.stack.slots(config.workers,
                                                                  config.threads),
                                   usage["server"]["cpu_s"], usage["window_s"],
                                   len(config.server_cpus or os.sched_getaffinity(0)))}


def k6_command(config: RunConfig, k6: str, summary: Path, base_url: str) -> list[str]:
    """k6's command line: load.js with the workload, or a user's app's paths or script."""
    reconnect = config.connections == "per-iteration"
    app = config.app
    if app is not None and app.k6_script is not None:  # the user's scenario, closed loop
        return script_argv(k6, app.k6_script, summary, {"BASE_URL": base_url},
                           "--vus", str(config.vus), "--duration", f"{config.duration_s}s",
                           # the percentiles our metrics read, whatever the script asks
                           "--summary-trend-stats", TREND_STATS,
                           *(["--no-vu-connection-reuse"] if reconnect else []))
    return k6_argv(k6, LOAD_SCRIPT, summary, base_url, config.vus, config.duration_s,
                   reconnect, None if app else config.workload.request(),
                   [r.load() for r in app.paths] if app else None)


def read_results(summary_path: Path, abort: str | None) -> tuple[dict, dict]:
    """k6's summary and our metrics from it. If the load was aborted (the server or
    fake DB died) before k6 measured anything, the abort's reason is the error."""
    if abort is not None and not summary_path.exists():
        raise ProcessError(abort)
    summary = read_summary(summary_path)
    try:
        return summary, metrics_from_summary(summary)
    except K6Error:
        if abort is not None:
            raise ProcessError(f"{abort}; k6 measured no complete iteration before") from None
        raise


def failed_checks(summary: dict) -> str:
    """`: GET /api/stock status 2xx failed 13,326 of 13,620`: which checks failed, so a
    user sees which path of their app broke under load."""
    checks = (summary.get("root_group") or {}).get("checks") or {}
    failed = [f"{name} failed {c['fails']:,} of {c['passes'] + c['fails']:,}"
              for name, c in sorted(checks.items()) if c.get("fails")]
    return f": {'; '.join(failed)}" if failed else ""


def verdict(result: dict) -> str | None:
    """Why a finished run does not count, or None if it does."""
    m = result["metrics"]
    failures = (f"{m['failed_requests']} of {m['requests']} requests failed "
                f"({m['failed_rate']:.2%}), {m['checks_failed']} checks failed"
                + failed_checks(result.get("k6_summary") or {}))
    if result.get("abort"):
        return f"{result['abort']}; before that, {failures}"
    if m["failed_requests"] or m["checks_failed"]:
        return failures
    contradictions = result.get("probe", {}).get("contradictions")
    if contradictions:
        return "what served contradicts the stack: " + "; ".join(contradictions)
    if result["k6_exit_code"] == THRESHOLDS_CROSSED:
        return "k6 thresholds crossed"
    if result["k6_exit_code"]:
        return f"k6 exited with code {result['k6_exit_code']}"
    if m["requests"] == 0:
        return "no requests were made"
    return None


def run(config: RunConfig, repeat: dict | None = None) -> tuple[dict, Path]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Run one benchmark and write its record, failed or not. Returns (record, path)."""
    k6 = find_k6()
    record = base_record(config, datetime.now(timezone.utc), k6_version(k6))
    record["repeat"] = repeat or {"group": record["id"], "index": 1, "of": 1}

    def judged(logs: Path) -> tuple[dict, str | None]:
        result = measure(config, k6, logs, record)
        return result, verdict(result)

    return measured(record, judged, config.results_dir, config.server_cpus)


def _say(config: RunConfig, record: dict, path: Path) -> None:
    """One line per run: its numbers, or why it failed."""
    rel = os.path.relpath(path)
    count = f"run {record['repeat']['index']} of {record['repeat']['of']}: "
    if not record["ok"]:
        print(f"error: {count}run failed: {record['error']} (record: {rel})", file=sys.stderr)
        return
    m, probe = record["metrics"], record["probe"]
    print(f"{config.stack.name} x{config.workers} on Python {record['python']} "
          f"({probe['loop']} loop, {probe['parser']} parser), {count}"
          f"{m['requests']} requests, p95 {m['duration_p95_ms']:.2f} ms (record: {rel})")


def main(argv: list[str] | None = None) -> int:
    config, progress = parse(argv)
    return run_main(config, progress)


def run_main(config: RunConfig, progress: Progress | None) -> int:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Run config's repeats, one line each with the progress and the time left."""
    wrong = preflight("benchmark runs", LOAD_SCRIPT)
    if wrong is not None:
        return wrong
    group, plan = new_group(), progress or Progress.starting()

    def runs() -> int:
        failed = 0
        for index in range(1, config.repeat + 1):
            print(f"{config.stack.name} x{config.workers}: "
                  f"{plan.line(index - 1, config.repeat, 'run')}", flush=True)
            record, path = run(config, {"group": group, "index": index, "of": config.repeat})
            _say(config, record, path)
            failed += not record["ok"]
        return 1 if failed else 0

    return guarded(runs, "run")
