"""One benchmark run: fake DB, server, checks, k6, record; everything stopped after."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import psutil

from pyserverbench import ROOT
from pyserverbench.cli.options import OneLineParser, add_load_options, bounded_int
from pyserverbench.cli.progress import Progress, add_progress_option
from pyserverbench.harness import signals
from pyserverbench.harness.checks import CheckError, answers, check_app, check_db, check_paths
from pyserverbench.harness.cleanroom import environment, make_room
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
from pyserverbench.harness.machine import (
    free_threaded_build,
    git_facts,
    host_facts,
    installed_packages,
    python_facts,
)
from pyserverbench.harness.probe import NodelayReader, judge, probe_facts, read_workers, running
from pyserverbench.harness.procs import (
    PortTaken,
    Process,
    ProcessError,
    die_with_parent,
    free_ports,
    listening_pids,
    port_is_free,
    stop_all,
)
from pyserverbench.harness.usage import LoadMonitor
from pyserverbench.matrix.ceiling import ceiling_facts
from pyserverbench.matrix.stacks import STACKS, Stack, threads_problem
from pyserverbench.matrix.workloads import Workload, workload_from, workload_problem
from pyserverbench.measure.userapp import UserApp, masked
from pyserverbench.records import FORMAT, record_id, write_record

LOAD_SCRIPT = ROOT / "load.js"
TREND_STATS = "avg,min,med,max,p(90),p(95),p(99)"  # as load.js's summaryTrendStats
HOST = "127.0.0.1"
START_DEADLINE_S = 60.0
PORT_ATTEMPTS = 3  # starts on fresh ports when another process took one of ours


@dataclass(frozen=True)
class RunConfig:
    """What one run measures."""

    stack: Stack
    workers: int
    threads: int | None
    duration_s: int
    db_latency_ms: int
    vus: int
    results_dir: Path
    repeat: int = 1
    server_cpus: frozenset[int] | None = None
    connections: str = "kept"
    workload: Workload = Workload()
    app: UserApp | None = None  # a user's own app instead of the stack's (`nox -s app`)

    @property
    def processes(self) -> int:
        """Worker processes the running server must show."""
        return self.stack.processes(self.workers)

    def load_cpus(self) -> frozenset[int] | None:
        """CPUs for k6 and the fake DB: the ones the server does not get."""
        if self.server_cpus is None:
            return None
        return frozenset(os.sched_getaffinity(0)) - self.server_cpus


def build_parser(prog: str = "python -m pyserverbench run") -> OneLineParser:
    """The options of one run."""
    parser = OneLineParser(prog=prog, description="Run one benchmark and write its record.")
    parser.add_argument("--stack", required=True, choices=list(STACKS),
                        help="which server stack to run")
    parser.add_argument("--workers", type=bounded_int(1, 64), default=2,
                        help="server worker processes (1 to 64, default 2)")
    add_load_options(parser)
    parser.add_argument("--results-dir", type=Path, default=ROOT / "results" / "runs",
                        help="where to write the record (default results/runs)")
    add_progress_option(parser)
    return parser


def parse_args(argv: list[str] | None = None) -> RunConfig:
    return parse(argv)[0]


def parse(argv: list[str] | None = None) -> tuple[RunConfig, Progress | None]:
    """The run's config, and its place in a longer plan if one was passed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    stack = STACKS[args.stack]
    wrong = threads_problem(stack.name, args.threads) or workload_problem(args)
    if wrong:
        parser.error(wrong)
    return RunConfig(stack=stack, workers=args.workers, threads=args.threads,
                     duration_s=args.duration, db_latency_ms=args.db_latency, vus=args.vus,
                     results_dir=args.results_dir, repeat=args.repeat,
                     server_cpus=args.server_cpus, connections=args.connections,
                     workload=workload_from(args)), args.progress


def effective_threads(config: RunConfig) -> int | None:
    """The request threads per process the server runs with (stated on its command line)."""
    return config.stack.threads(config.workers, config.threads)


def _serving(proc: Process, port: int, url: str) -> bool:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """True when url answers and the listener on port is `proc` or one of its children."""
    if not answers(url):
        return False
    ours = {p.pid for p in proc.tree()}
    if not listening_pids(port) & ours:
        raise PortTaken(f"port {port} is answered by a process that is not our {proc.name}")
    return True


def placement(server: Process, db: Process) -> dict:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """The CPUs the server and the load side (fake DB, and k6 alike) may actually use."""
    server_cpus = sorted(psutil.Process(server.pid).cpu_affinity())
    load_cpus = sorted(psutil.Process(db.pid).cpu_affinity())
    return {"server_cpus": server_cpus, "load_cpus": load_cpus,
            "shared": bool(set(server_cpus) & set(load_cpus)), "host_cores": os.cpu_count()}


def intended_placement(config: RunConfig) -> dict:
    """The placement a run asks for, recorded before anything starts (so a run that fails
    at start still shares its section); replaced by what is in force once it runs."""
    usable = sorted(os.sched_getaffinity(0))
    server = sorted(config.server_cpus) if config.server_cpus else usable
    load = sorted(config.load_cpus()) if config.server_cpus else usable
    return {"server_cpus": server, "load_cpus": load, "shared": bool(set(server) & set(load)),
            "host_cores": os.cpu_count()}


def _tree_pids(server: Process) -> set[int]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    return {p.pid for p in server.tree()}


@dataclass
class Services:
    """The fake DB and the server of a run, up, checked and running every worker."""

    db: Process
    server: Process
    server_port: int
    base_url: str
    probe_dir: Path
    room: Path
    envs: dict[str, dict[str, str]]

    def workers(self) -> list[int]:
        """The worker processes that loaded the app and are alive in the server's tree."""
        return running(read_workers(self.probe_dir), _tree_pids(self.server))


@contextmanager
def services(config: RunConfig, logs: Path, record: dict,
             load_commands: Callable[[str], dict[str, list[str]]]) -> Iterator[Services]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Start the fake DB and the server, wait for both and check them; stop both after.

    The commands (with the load's, from `load_commands(base_url)`) and environments go
    into `record` first, so a failed run keeps them too. Ports are picked, released, then
    bound by the processes; if another process takes one in between, everything started
    is stopped and the start is tried again on new ports (`record["port_retries"]`).
    """
    for attempt in range(1, PORT_ATTEMPTS + 1):
        folder = logs if attempt == 1 else logs / f"attempt-{attempt}"
        folder.mkdir(exist_ok=True)
        ports = free_ports(2, HOST)
        with ExitStack() as running_now:
            try:
                up = _start(config, folder, record, load_commands, ports, running_now)
            except ProcessError as error:
                running_now.close()
                if attempt == PORT_ATTEMPTS or not _lost_a_port(error, ports):
                    raise
                record.setdefault("port_retries", []).append(str(error))
                continue
            yield up
            return


def _lost_a_port(error: ProcessError, ports: list[int]) -> bool:
    """True if the start failed because another process holds one of our ports (checked
    after ours are stopped: a listener left on either port is not ours)."""
    return isinstance(error, PortTaken) or not all(port_is_free(p, HOST) for p in ports)


def _start(config: RunConfig, logs: Path, record: dict,
           load_commands: Callable[[str], dict[str, list[str]]], ports: list[int],
           running_now: ExitStack) -> Services:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """One try at starting the run's processes on `ports`; they go on `running_now`."""
    db_port, server_port = ports
    db_url = f"http://{HOST}:{db_port}/"
    base_url = f"http://{HOST}:{server_port}"
    db_argv = [sys.executable, "-m", "fakedb", "--host", HOST, "--port", str(db_port),
               "--sleep", str(config.db_latency_ms)]
    app = config.app
    server_argv = config.stack.argv(sys.executable, HOST, server_port, config.workers,
                                    config.threads, app.shim_target if app else None)
    room, probe_dir = make_room(logs), logs / "probe"
    probe_dir.mkdir()
    envs = {"fakedb": environment(room, ROOT),
            "server": environment(room, ROOT, PYSERVERBENCH_DB_URL=db_url,
                                  PYSERVERBENCH_PROBE_DIR=str(probe_dir)),
            "k6": environment(room, None)}
    server_cwd = room
    if app is not None:
        envs["server"].update(app.server_env(), PYTHONPATH=app.python_path())
        server_cwd = app.app_dir if app.chdir and app.app_dir else room
    record["commands"] = {"fakedb": db_argv, "server": server_argv,
                          **load_commands(base_url)}
    record["environment"] = {**envs, "server": masked(envs["server"]),
                             "cwd": str(server_cwd) if server_cwd != room
                             else "an empty directory made for the run"}
    record["placement"] = intended_placement(config)
    for port in (db_port, server_port):
        if not port_is_free(port, HOST):
            raise PortTaken(f"port {port} on {HOST} is already in use")
    db = running_now.enter_context(Process(
        "fake DB", db_argv, logs / "fakedb.log", env=envs["fakedb"], cwd=room,
        cpus=config.load_cpus()))
    db.wait_until(lambda: _serving(db, db_port, db_url), START_DEADLINE_S, "answering")
    check_db(db_url)
    server = running_now.enter_context(Process(
        "server", server_argv, logs / "server.log", env=envs["server"], cwd=server_cwd,
        cpus=config.server_cpus))
    server.wait_until(lambda: _serving(server, server_port, base_url + "/"),
                      START_DEADLINE_S, "answering")
    server.wait_until(
        lambda: len(running(read_workers(probe_dir), _tree_pids(server))) >= config.processes,
        START_DEADLINE_S, f"running {config.processes} worker processes")
    if app is None:
        check_app(base_url)
    else:
        check_paths(base_url, [path for path, _ in app.paths], logs / "server.log")
    record["placement"] = placement(server, db)
    return Services(db, server, server_port, base_url, probe_dir, room, envs)


def measure(config: RunConfig, k6: str, logs: Path, record: dict) -> dict:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Start everything, check, load, stop everything; return k6's results."""
    summary_path = logs / "k6-summary.json"

    def load_commands(base_url: str) -> dict[str, list[str]]:
        return {"k6": k6_command(config, k6, summary_path, base_url)}

    with services(config, logs, record, load_commands) as up:
        load_argv = record["commands"]["k6"]
        before = read_workers(up.probe_dir)
        workers = running(before, _tree_pids(up.server))
        monitor = LoadMonitor(up.server, up.server_port, up.db, workers)
        nodelay = NodelayReader(workers, up.server_port)

        def tick(k6_process: Process) -> None:
            monitor.tick(k6_process)
            nodelay.tick()

        k6_start = time.monotonic()
        code, abort = run_k6(load_argv, logs / "k6.log", config.duration_s + 120.0,
                             [up.db, up.server], on_tick=tick, cpus=config.load_cpus(),
                             env=up.envs["k6"], cwd=up.room)
        usage = monitor.facts(time.monotonic() - k6_start)
        after = read_workers(up.probe_dir)
        probe = probe_facts(config.processes, before, after,
                            running(after, _tree_pids(up.server)),
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
                config.workload, config.stack.app)}


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
                   app.paths if app else None)


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


def base_record(config: RunConfig, started: datetime, k6_line: str) -> dict:
    python = python_facts()
    return {
        "format": FORMAT,
        "id": record_id(config.stack.name, config.workers, python["python"], started),
        "stack": config.stack.name,
        "mode": config.stack.mode,
        "server": config.stack.server,
        "worker_class": config.stack.worker_class,
        "app": (f"{config.app.interface.upper()} {config.app.target}" if config.app
                else config.stack.app),
        "workers": config.workers,
        "threads": effective_threads(config),
        **python,
        "db_latency_ms": config.db_latency_ms,
        "workload": config.workload.facts(),
        "vus": config.vus,
        "connections": config.connections,
        "duration_s": config.duration_s,
        "started_at": started.isoformat(timespec="seconds"),
        "packages": installed_packages(),
        "k6_version": k6_line,
        "host": host_facts(),
        "project": git_facts(ROOT),
        **({"user_app": config.app.facts()} if config.app else {}),
    }


def run(config: RunConfig, repeat: dict | None = None) -> tuple[dict, Path]:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Run one benchmark and write its record, failed or not. Returns (record, path)."""
    k6 = find_k6()
    record = base_record(config, datetime.now(timezone.utc), k6_version(k6))
    record["repeat"] = repeat or {"group": record["id"], "index": 1, "of": 1}
    with tempfile.TemporaryDirectory(prefix="pyserverbench-") as logs:
        try:
            result = measure(config, k6, Path(logs), record)
        except (ProcessError, CheckError, K6Error) as exc:
            record.update(ok=False, error=str(exc), metrics=None)
        else:
            reason = verdict(result)
            record.update(result, ok=reason is None, error=reason)
    record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return record, write_record(config.results_dir, record)


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


def guarded(body: Callable[[], int], unit: str) -> int:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Run `body` (the runs or searches of one command) and return its exit code; on a
    k6 error or a signal, say so in one line. Everything started is stopped after."""
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


def main(argv: list[str] | None = None) -> int:
    config, progress = parse(argv)
    return run_main(config, progress)


def run_main(config: RunConfig, progress: Progress | None) -> int:
    """Run config's repeats, one line each with the progress and the time left."""
    if not sys.platform.startswith("linux"):
        print(f"error: benchmark runs need Linux (process groups, pidfd, CPU affinity); "
              f"this is {sys.platform}. `report` works anywhere.", file=sys.stderr)
        return 2
    if not LOAD_SCRIPT.is_file():
        print(f"error: load script {LOAD_SCRIPT} not found", file=sys.stderr)
        return 2
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    signals.install()
    die_with_parent()  # if nox is killed, SIGTERM reaches us and we clean up
    group = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    plan = progress or Progress.starting()

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
