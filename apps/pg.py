"""The apps' PostgreSQL call (`--db postgres`): one query that holds its connection for
the set latency (pg_sleep) and reads one row of a real table, through the pool each
model's users reach for. psycopg is imported only when an app runs on PostgreSQL."""

from __future__ import annotations

import os
import random
import threading
import time

from apps import probe

DB_KIND_VARIABLE = "PYSERVERBENCH_DB_KIND"  # "fake" (default) or "postgres"
LATENCY_VARIABLE = "PYSERVERBENCH_DB_LATENCY_MS"
POOL_VARIABLE = "PYSERVERBENCH_DB_POOL"  # connections per worker process
URL_VARIABLE = "DATABASE_URL"
QUERY = "SELECT number, pg_sleep(%s) FROM items WHERE id = %s"
ITEMS = 1000  # rows in the table (pyserverbench.harness.postgres makes them)
MIN_OPEN = 4  # connections a pool opens at start (psycopg_pool's own default)

ON_POSTGRES = os.environ.get(DB_KIND_VARIABLE, "fake") == "postgres"


def _settings() -> tuple[str, float, int]:
    return (os.environ[URL_VARIABLE], float(os.environ.get(LATENCY_VARIABLE, "0")) / 1000,
            int(os.environ.get(POOL_VARIABLE, "10")))


def _arguments() -> tuple[float, int]:
    return _settings()[1], random.randint(1, ITEMS)


class SyncPool:
    """psycopg_pool.ConnectionPool for this worker process, opened on first use (after
    the server has forked its workers); threads (or greenlets) share it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool = None
        self.pid = 0

    def get(self):  # noqa: ANN201 (psycopg_pool is imported late)
        with self.lock:
            if self.pool is None or self.pid != os.getpid():
                from psycopg_pool import ConnectionPool

                url, _, size = _settings()
                self.pool = ConnectionPool(url, min_size=min(MIN_OPEN, size), max_size=size,
                                           open=True, name=f"worker-{os.getpid()}")
                self.pid = os.getpid()
            return self.pool

    def query(self) -> dict:
        """One query on a pooled connection; the wait for the connection is counted."""
        asked = time.perf_counter_ns()
        with self.get().connection() as conn:
            probe.pool_waited(time.perf_counter_ns() - asked)
            row = conn.execute(QUERY, _arguments()).fetchone()
        return {"number": row[0]}


def async_pool():  # noqa: ANN201
    """A psycopg_pool.AsyncConnectionPool for an ASGI app's lifespan (open it there)."""
    from psycopg_pool import AsyncConnectionPool

    url, _, size = _settings()
    return AsyncConnectionPool(url, min_size=min(MIN_OPEN, size), max_size=size, open=False,
                               name=f"worker-{os.getpid()}")


async def async_query(pool) -> dict:  # noqa: ANN001
    """One query on a connection of the async pool; the wait for it is counted."""
    asked = time.perf_counter_ns()
    async with pool.connection() as conn:
        probe.pool_waited(time.perf_counter_ns() - asked)
        cursor = await conn.execute(QUERY, _arguments())
        row = await cursor.fetchone()
    return {"number": row[0]}


async def fresh_query() -> dict:
    """One query on a connection opened for it and closed after: what code that makes a
    new event loop per request must do (a pool cannot outlive its loop)."""
    from psycopg import AsyncConnection

    asked = time.perf_counter_ns()
    async with await AsyncConnection.connect(_settings()[0]) as conn:
        probe.pool_waited(time.perf_counter_ns() - asked)
        cursor = await conn.execute(QUERY, _arguments())
        row = await cursor.fetchone()
    return {"number": row[0]}
