"""The database a run stands on: the fake DB (default) or a real PostgreSQL
(`--db postgres`), started, waited for with a deadline, checked, and described for the
record; with the pool each worker opens and the rate that pool allows (P / L)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pyserverbench.harness.checks import CheckError, check_db
from pyserverbench.harness.cleanroom import SYSTEM_PATH
from pyserverbench.harness.probe import counted_since
from pyserverbench.harness.procs import PortTaken, Process, listening_pids
from pyserverbench.harness.redact import keep_secret
from pyserverbench.harness.services import (
    START_DEADLINE_S,
    fakedb_argv,
    fakedb_environment,
    tree_pids,
    wait_ready,
)
from pyserverbench.matrix.stacks import Stack

if TYPE_CHECKING:  # psycopg is imported only for --db postgres
    from pyserverbench.harness.pgclient import ConnectionSampler

SHARED_POOL = 10  # connections per worker for a pool its requests share (asyncpg's default)


def pool_per_worker(stack: Stack, workers: int, threads: int | None,
                    asked: int | None) -> int | None:
    """Connections each worker process's pool may open: `asked`, or the model's usual
    default: one per request thread where each thread holds its own (Django's way), one
    for an event loop that blocks on it, SHARED_POOL where requests share a pool (event
    loops, greenlets). None for the app that opens a connection per call."""
    if stack.app == "asyncio.run-per-request":
        return None
    if asked is not None:
        return asked
    if stack.blocking:
        return stack.threads(workers, threads) or 1
    return SHARED_POOL


def pool_rule(stack: Stack) -> str:
    """How pool_per_worker chose a stack's default, in words."""
    if stack.app == "asyncio.run-per-request":
        return "no pool: a connection per call (a pool cannot outlive asyncio.run's loop)"
    if stack.blocking:
        return "one per request thread"
    return f"{SHARED_POOL} shared by the worker's requests (asyncpg's default pool size)"


def pool_bound(connections: int | None, latency_ms: float, waits: float) -> float | None:
    """The rate a total of `connections` allows when each request holds one for
    `waits` queries of `latency_ms`: connections / (waits × latency). None if unbounded."""
    if connections is None or latency_ms <= 0 or waits <= 0:
        return None
    return round(connections / (waits * latency_ms / 1000), 1)


@dataclass
class Database:
    """A started database: its process, the URL the apps use, the environment they get,
    its facts for the record, and (PostgreSQL) a connection sampler."""

    kind: str
    process: Process
    url: str
    app_env: dict[str, str]
    facts: dict
    sampler: ConnectionSampler | None = None  # ticked during the load


def _serving_postgres(proc: Process, port: int, url: str) -> bool:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    from pyserverbench.harness.pgclient import answers

    listening = listening_pids(port)
    if not listening & tree_pids(proc):
        if listening:
            raise PortTaken(f"port {port} is answered by a process that is not our PostgreSQL")
        return False
    return answers(url)


def start_database(kind: str, latency_ms: int, host: str, port: int, room: Path, logs: Path,
                   cpus: frozenset[int] | None, pool_total: int | None, procs: ExitStack,
                   started: Callable[[float], None] = lambda seconds: None,
                   setup: Path | None = None, pool: int | None = None) -> Database:
    # pragma: no mutate block  (drives real processes: see docs/contributing.md)
    """Start the database of `kind` on `port`, wait for it and check it; it goes on
    `procs` (stopped when they close). `pool_total`: the connections the apps may open;
    `pool`: each worker's pool, told to the apps; `setup`: a user's SQL to run first;
    `started` gets the seconds it all took. The result's `app_env` is all the server
    needs to find the database."""
    begun = time.monotonic()
    if kind == "fake":
        url = f"http://{host}:{port}/"
        argv = fakedb_argv(host, port, latency_ms)
        db = procs.enter_context(Process("fake DB", argv, logs / "fakedb.log",
                                         env=fakedb_environment(room), cwd=room, cpus=cpus))
        wait_ready(db, port, url)
        check_db(url)
        started(time.monotonic() - begun)
        return Database("fake", db, url, {"PYSERVERBENCH_DB_URL": url}, {"kind": "fake"})
    from pyserverbench.harness import pgclient, postgres

    most = (pool_total or 0) + postgres.EXTRA_CONNECTIONS
    try:
        cluster = postgres.init_cluster(room / "postgres", port, max(100, most),
                                        logs / "initdb.log")
    except postgres.PostgresError as exc:
        raise CheckError(f"PostgreSQL: {exc}") from None
    keep_secret([cluster.password])
    env = {"PATH": ":".join(SYSTEM_PATH), "LANG": "C", "TZ": "UTC"}
    db = procs.enter_context(Process("PostgreSQL", cluster.argv(host), logs / "postgres.log",
                                     env=env, cwd=cluster.data_dir, cpus=cpus,
                                     user=cluster.user.switch))
    admin = cluster.admin_url(host)
    db.wait_until(lambda: _serving_postgres(db, port, admin), START_DEADLINE_S, "answering")
    pgclient.prepare(cluster, host)
    url = cluster.url(host)
    if setup is not None:
        try:
            pgclient.run_sql(url, setup.read_text())
        except pgclient.psycopg.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise CheckError(f"--db-setup {setup} failed: {first}") from None
    check = pgclient.check_query(url, latency_ms)
    if check["number"] is None or check["took_ms"] < latency_ms:
        raise CheckError(f"PostgreSQL's query took {check['took_ms']} ms for a {latency_ms} ms "
                         f"sleep and returned {check['number']!r}")
    seconds = time.monotonic() - begun
    started(seconds)
    facts = {"kind": "postgres", **cluster.facts(), "start_s": round(seconds, 2),
             "check_query_ms": check["took_ms"]}
    app_env = {"DATABASE_URL": url, "PYSERVERBENCH_DB_KIND": "postgres",
               "PYSERVERBENCH_DB_LATENCY_MS": str(latency_ms),
               **({"PYSERVERBENCH_DB_POOL": str(pool)} if pool is not None else {})}
    sampler = pgclient.ConnectionSampler(admin)
    procs.callback(sampler.close)
    return Database("postgres", db, url, app_env, facts, sampler)


def pool_waits(before: dict[int, dict], after: dict[int, dict]) -> dict:
    """Connections the workers took from their pools between two probe readings, and the
    mean and total time they waited for them."""
    rose = counted_since(before, after).values()
    taken = sum(worker.get("pool_taken", 0) for worker in rose)
    waited_ns = sum(worker.get("pool_wait_ns", 0) for worker in rose)
    return {"taken": taken, "wait_s": round(waited_ns / 1e9, 3),
            "mean_wait_ms": round(waited_ns / taken / 1e6, 3) if taken else None}


class DbWatch:
    """What the database saw during one load: the client connections PostgreSQL held
    (sampled) and the workers' waits for a pooled connection (the probe's counters).
    Does nothing for the fake DB."""

    def __init__(self, database: Database | None, read: Callable[[], dict[int, dict]]) -> None:
        self.sampler = database.sampler if database is not None else None
        self.read = read
        self.before: dict[int, dict] = {}

    def start(self) -> None:
        if self.sampler is not None:
            self.sampler.take()
            self.before = self.read()

    def tick(self) -> None:
        if self.sampler is not None:
            self.sampler.tick()

    def take(self) -> dict | None:
        """The facts since start(), None for the fake DB."""
        if self.sampler is None:
            return None
        return {"connections": self.sampler.take(),
                "pool": pool_waits(self.before, self.read())}
