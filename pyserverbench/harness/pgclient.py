"""What the harness asks a running PostgreSQL: is it up, the apps' role, database and
table, and how many client connections it holds while the load runs (pg_stat_activity)."""

from __future__ import annotations

import time

import psycopg
from psycopg import sql

from pyserverbench.harness.postgres import DATABASE, ITEMS, ROLE, Cluster

SAMPLE_EVERY_S = 0.1
CONNECT_TIMEOUT_S = 2


def answers(url: str) -> bool:
    """True once the server accepts a login and runs a query."""
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def prepare(cluster: Cluster, host: str) -> None:
    """The apps' role (the run's password), their database, and the table they read:
    ITEMS rows of (id, number)."""
    with psycopg.connect(cluster.admin_url(host), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(ROLE), sql.Literal(cluster.password)))
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
            sql.Identifier(DATABASE), sql.Identifier(ROLE)))
    with psycopg.connect(cluster.url(host), autocommit=True) as conn:
        conn.execute("CREATE TABLE items (id integer PRIMARY KEY, number integer NOT NULL)")
        conn.execute("INSERT INTO items SELECT n, (n * 7919) %% 1000 FROM generate_series(1, %s) n",
                     (ITEMS,))
        conn.execute("ANALYZE items")


def run_sql(url: str, text: str) -> None:
    """Run a user's SQL (several statements) as the apps' role, in one transaction."""
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        conn.execute(text)


def check_query(url: str, latency_ms: float) -> dict:
    """One of the apps' queries, timed: it must return a number and take the latency."""
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S) as conn:
        started = time.perf_counter()
        row = conn.execute("SELECT number, pg_sleep(%s) FROM items WHERE id = %s",
                           (latency_ms / 1000, 1)).fetchone()
        took_ms = (time.perf_counter() - started) * 1000
    return {"number": row[0] if row else None, "took_ms": round(took_ms, 2)}


class ConnectionSampler:
    """Counts the client connections to the apps' database, at most every SAMPLE_EVERY_S
    when ticked; keeps the most seen and the counts' mean. Its own connection does not
    count."""

    def __init__(self, admin_url: str) -> None:
        self.conn = psycopg.connect(admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        self.most = 0
        self.samples: list[int] = []
        self.last = 0.0
        self.failed = 0

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last < SAMPLE_EVERY_S:
            return
        self.last = now
        try:
            row = self.conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                "AND datname = %s AND pid <> pg_backend_pid()", (DATABASE,)).fetchone()
        except psycopg.Error:
            self.failed += 1
            return
        count = int(row[0]) if row else 0
        self.samples.append(count)
        self.most = max(self.most, count)

    def take(self) -> dict:
        """The facts since the last take, and start again."""
        facts = {"most": self.most, "samples": len(self.samples),
                 "mean": round(sum(self.samples) / len(self.samples), 2) if self.samples
                 else None, "failed_samples": self.failed}
        self.most, self.samples, self.failed = 0, [], 0
        return facts

    def close(self) -> None:
        self.conn.close()
