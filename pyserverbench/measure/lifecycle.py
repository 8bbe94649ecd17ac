"""The lifecycle every kind of measurement shares: the record's facts before anything
starts, the measurement and its verdict, the atomic write, and the command around them
(Linux and the k6 script checked, signals caught, everything started stopped after).

A kind (closed loop, capacity search, the load role, ...) supplies only what differs:
the facts it adds, and a `measure(logs)` that returns its figures and their verdict.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from pyserverbench import ROOT
from pyserverbench.harness import signals
from pyserverbench.harness.checks import CheckError
from pyserverbench.harness.k6 import K6Error
from pyserverbench.harness.machine import git_facts, host_facts, installed_packages, python_facts
from pyserverbench.harness.procs import ProcessError, die_with_parent, stop_all
from pyserverbench.harness.speed import cpu_speed
from pyserverbench.harness.watch import Watch
from pyserverbench.matrix.stacks import Stack
from pyserverbench.matrix.workloads import Workload
from pyserverbench.measure.setup import RunConfig
from pyserverbench.records import FORMAT, record_id, write_record
from pyserverbench.sitting.plan import SITTING_VARIABLE

# A measurement that raises one of these failed: its record says why, with ok false.
FAILURES = (ProcessError, CheckError, K6Error)

Measure = Callable[[Path], tuple[dict, "str | None"]]  # logs -> (figures, why not counted)


def record_fields(stack: Stack, workers: int, threads: int | None, where: dict,
                  db_latency_ms: int, workload: Workload, vus: int, connections: str,
                  duration_s: int, started: datetime, k6_line: str,
                  workers_rule: dict | None = None) -> dict:
    """The fields every record starts with. `where` holds the server side's facts: its
    Python (python_facts), `packages`, `host` and `project`; `workers_rule`, for
    `--workers auto`, the rule that gave the count."""
    return {
        "format": FORMAT,
        "id": record_id(stack.name, workers, where["python"], started),
        "stack": stack.name, "mode": stack.mode, "server": stack.server,
        "worker_class": stack.worker_class, "app": stack.app,
        "workers": workers, "workers_rule": workers_rule, "threads": threads,
        **{key: where[key] for key in ("python", "python_build", "python_implementation",
                                       "free_threaded")},
        "db_latency_ms": db_latency_ms, "workload": workload.facts(), "vus": vus,
        "connections": connections, "duration_s": duration_s,
        "started_at": started.isoformat(timespec="seconds"),
        "packages": where["packages"], "k6_version": k6_line,
        "host": where["host"], "project": where["project"],
    }


def local_facts() -> dict:
    """This machine and this environment, where the server runs beside the harness."""
    return {**python_facts(), "packages": installed_packages(), "host": host_facts(),
            "project": git_facts(ROOT)}


def base_record(config: RunConfig, started: datetime, k6_line: str) -> dict:
    """The facts of a run or search on this machine, before anything starts."""
    record = record_fields(config.stack, config.workers, config.effective_threads(),
                           local_facts(), config.db_latency_ms, config.workload, config.vus,
                           config.connections, config.duration_s, started, k6_line,
                           config.workers_rule)
    if config.app is not None:
        record["app"] = f"{config.app.interface.upper()} {config.app.target}"
        record["user_app"] = config.app.facts()
    return record


def measured(record: dict, measure: Measure, results_dir: Path,
             server_cpus: frozenset[int] | None = None) -> tuple[dict, Path]:
    """Measure, judge and write one record, failed or not; returns (record, path).

    `record` holds the facts known before (kept if the measurement fails); `measure`
    gets a fresh directory for its logs and returns its figures and why they do not
    count (None if they do). The machine is watched throughout (`machine`), and the
    speed of the server's CPUs (`server_cpus`, all usable if None) taken before."""
    record["sitting"] = sitting_place()
    speed = cpu_speed(server_cpus)
    watch = Watch(sorted(os.sched_getaffinity(0) | set(server_cpus or ())))
    watch.start()
    with tempfile.TemporaryDirectory(prefix="pyserverbench-") as logs:
        try:
            result, reason = measure(Path(logs))
        except FAILURES as exc:
            record.update(ok=False, error=str(exc), metrics=None)
        else:
            record.update(result, ok=reason is None, error=reason)
    record["machine"] = {**watch.facts(), "cpu_speed": speed}
    record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record, write_record(results_dir, record)


def sitting_place() -> dict | None:
    """The sitting this run is part of (id, seed, round, order, cell), as the sitting
    that started it passed it; None when run alone."""
    given = os.environ.get(SITTING_VARIABLE)
    return json.loads(given) if given else None


def new_group() -> str:
    """The id shared by the records of one command's repeats."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def preflight(what: str, script: Path) -> int | None:
    """Exit code 2 with one line if this machine cannot run `what` or k6's script is
    missing; None if it can go on."""
    if not sys.platform.startswith("linux"):
        print(f"error: {what} need Linux (process groups, pidfd, CPU affinity); this is "
              f"{sys.platform}. `report` works anywhere.", file=sys.stderr)
        return 2
    if not script.is_file():
        print(f"error: k6 script {script} not found", file=sys.stderr)
        return 2
    return None


def guarded(body: Callable[[], int], unit: str) -> int:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Run `body` (the measurements of one command) and return its exit code, with
    signals turned into a clean stop: on a k6 error or a signal, one line says so.
    Everything started is stopped after, whatever happened."""
    signals.install()
    die_with_parent()  # if nox is killed, SIGTERM reaches us and we clean up
    try:
        return body()
    except K6Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except signals.Interrupted as exc:
        print(f"pyserverbench: {exc}; stopped everything, no record written for this {unit}",
              file=sys.stderr)
        return 128 + exc.signum
    finally:
        stop_all()
        # Everything is stopped; a signal now has nothing left to interrupt.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
