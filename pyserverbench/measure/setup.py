"""What one measurement sets up (RunConfig) and the one function that starts it: the
fake DB and the server, each waited for until it answers from its own socket, the server
until every worker runs, both checked; stopped after, whatever happens."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from pyserverbench.harness.checks import check_app, check_paths
from pyserverbench.harness.cleanroom import environment, make_room
from pyserverbench.harness.probe import running
from pyserverbench.harness.procs import PortTaken, Process, ProcessError, free_ports, port_is_free
from pyserverbench.harness.services import (
    fakedb_argv,
    server_environment,
    tree_pids,
    wait_ready,
    workers_running,
)
from pyserverbench.matrix.stacks import Stack
from pyserverbench.matrix.workloads import Workload, mean_calls, parse_mix
from pyserverbench.measure.database import (
    Database,
    pool_bound,
    pool_per_worker,
    pool_rule,
    start_database,
)
from pyserverbench.measure.userapp import UserApp, masked

HOST = "127.0.0.1"
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
    workers_rule: dict | None = None  # for `--workers auto`: the rule that gave the count
    db: str = "fake"  # or "postgres" (`--db`)
    pool: int | None = None  # `--db-pool`: connections per worker; None: the model's default
    db_setup: Path | None = None  # a user's SQL, run as the app's role before the server

    def pool_per_worker(self) -> int | None:
        """Connections each worker's pool may open (None: one per call, no pool, or a
        user's app, which opens its own)."""
        if self.app is not None:
            return None
        return pool_per_worker(self.stack, self.workers, self.threads, self.pool)

    def most_connections(self) -> int:
        """Connections the apps may open at most: their pools, or for a user's app one
        per request thread (Django's way; at least 100, PostgreSQL's default)."""
        total = self.pool_total()
        if total is not None:
            return total
        return max(100, self.processes * (self.effective_threads() or 1))

    def pool_total(self) -> int | None:
        per = self.pool_per_worker()
        return None if per is None else per * self.processes

    def pool_rps(self, mix: str) -> float | None:
        """The rate the workers' DB pools allow for requests of `mix` (P / L per call);
        None on the fake DB or without a pool."""
        if self.db == "fake":
            return None
        return pool_bound(self.pool_total(), self.db_latency_ms, mean_calls(parse_mix(mix)))

    def db_facts(self) -> dict:
        """The database part of a record, before it starts."""
        if self.db == "fake":
            return {"kind": "fake"}
        rule = ("your app's own connections" if self.app is not None else
                "asked" if self.pool is not None else pool_rule(self.stack))
        facts = {"kind": self.db, "pool_per_worker": self.pool_per_worker(),
                 "pool_total": self.pool_total(), "pool_asked": self.pool, "pool_rule": rule}
        if self.db_setup is not None:
            facts["setup"] = {"file": str(self.db_setup),
                              "sha256": hashlib.sha256(self.db_setup.read_bytes()).hexdigest()}
        return facts

    @property
    def processes(self) -> int:
        """Worker processes the running server must show."""
        return self.stack.processes(self.workers)

    def effective_threads(self) -> int | None:
        """The request threads per process the server runs with (on its command line)."""
        return self.stack.threads(self.workers, self.threads)

    def load_cpus(self) -> frozenset[int] | None:
        """CPUs for k6 and the fake DB: the ones the server does not get."""
        if self.server_cpus is None:
            return None
        return frozenset(os.sched_getaffinity(0)) - self.server_cpus


def resolve_workers(stack: Stack, asked: int | str, server_cpus: frozenset[int] | None
                    ) -> tuple[int, dict | None]:
    """The worker count to run for `--workers` (a number, or `auto`: the stack's rule for
    the CPUs the server gets, all usable ones when it is not pinned), and the rule's facts
    for the record (None for a number)."""
    if isinstance(asked, int):
        return asked, None
    cpus = len(server_cpus) if server_cpus else len(os.sched_getaffinity(0))
    return stack.auto_workers(cpus)


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
    database: Database | None = None

    def workers(self, readings: dict[int, dict] | None = None) -> list[int]:
        """The worker processes that loaded the app and are alive in the server's tree, by
        the probe's `readings` (read now if none are given)."""
        if readings is None:
            return workers_running(self.server, self.probe_dir)
        return running(readings, tree_pids(self.server))


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
    base_url = f"http://{HOST}:{server_port}"
    app = config.app
    server_argv = config.stack.argv(sys.executable, HOST, server_port, config.workers,
                                    config.threads, app.shim_target if app else None)
    room, probe_dir = make_room(logs), logs / "probe"
    probe_dir.mkdir()
    record["placement"] = intended_placement(config)
    record["db"] = config.db_facts()
    # the fake DB's command is known before it starts (a failed start keeps it);
    # PostgreSQL's once its data directory is made
    known = {"fakedb": fakedb_argv(HOST, db_port, config.db_latency_ms)} if config.db == "fake" \
        else {}
    record["commands"] = {**known, "server": server_argv, **load_commands(base_url)}
    for port in (db_port, server_port):
        if not port_is_free(port, HOST):
            raise PortTaken(f"port {port} on {HOST} is already in use")
    database = start_database(config.db, config.db_latency_ms, HOST, db_port, room, logs,
                              config.load_cpus(), config.most_connections(), running_now,
                              setup=config.db_setup, pool=config.pool_per_worker())
    db = database.process
    record["db"].update(database.facts)
    envs = {"fakedb": db.env or {},
            "server": server_environment(room, None, probe_dir, **database.app_env),
            "k6": environment(room, None)}
    server_cwd = room
    if app is not None:
        envs["server"].update(app.server_env(), PYTHONPATH=app.python_path())
        server_cwd = app.app_dir if app.chdir and app.app_dir else room
    record["commands"]["fakedb"] = db.argv
    record["environment"] = {**envs, "server": masked(envs["server"]),
                             "cwd": str(server_cwd) if server_cwd != room
                             else "an empty directory made for the run"}
    server = running_now.enter_context(Process(
        "server", server_argv, logs / "server.log", env=envs["server"], cwd=server_cwd,
        cpus=config.server_cpus))
    wait_ready(server, server_port, base_url + "/", config.processes, probe_dir)
    if app is None:
        check_app(base_url)
    else:
        check_paths(base_url, [(r.method, r.path, r.body) for r in app.paths],
                    logs / "server.log")
    record["placement"] = placement(server, db)
    return Services(db, server, server_port, base_url, probe_dir, room, envs, database)
