"""Faults during a real run: a dying server or fake DB, a hung fake DB, a taken port."""

import json
import signal
import socket
import subprocess
import sys
from contextlib import ExitStack
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import psutil
import pytest
from helpers import ROOT, during_load, serving

from pyserverbench.matrix.stacks import STACKS
from pyserverbench.measure import database as run_database
from pyserverbench.measure import setup as run_setup
from pyserverbench.measure.closed import run
from pyserverbench.measure.setup import RunConfig

pytestmark = [pytest.mark.processes, pytest.mark.newest]  # the harness's fault handling



def _start_harness(tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pyserverbench", "run", "--workers", "1", "--vus", "4",
         "--results-dir", str(tmp_path), *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(harness: subprocess.Popen, tmp_path: Path, tree: list[psutil.Process]) -> dict:
    try:
        _, err = harness.communicate(timeout=90)
    finally:
        if harness.poll() is None:
            harness.kill()
    assert harness.returncode == 1, err
    assert len(err.strip().splitlines()) == 1
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive
    [path] = tmp_path.glob("*.json")
    return json.loads(path.read_text())


def _tree(roles: dict[str, psutil.Process]) -> list[psutil.Process]:
    procs = list(roles.values())
    for proc in roles.values():
        procs += proc.children(recursive=True)
    return procs


@pytest.mark.parametrize(("victim", "named"), [("server", "server"), ("fakedb", "fake DB")])
def test_a_process_killed_during_the_load_fails_the_run_with_its_failure_rate(
        victim, named, tmp_path):
    harness = _start_harness(tmp_path, "--stack", "gthread", "--duration", "20s")
    roles = during_load(harness, 60)
    tree = _tree(roles)
    roles[victim].send_signal(signal.SIGKILL)
    record = _finish(harness, tmp_path, tree)
    assert record["ok"] is False
    assert f"{named} exited with code -9" in record["error"]
    assert "during the load" in record["error"]
    assert record["metrics"] is not None
    assert record["metrics"]["requests"] > 0
    assert "failed" in record["error"]


def test_a_hung_fake_db_fails_the_run_by_failed_requests(tmp_path):
    harness = _start_harness(tmp_path, "--stack", "uvicorn", "--duration", "4s")
    roles = during_load(harness, 60)
    tree = _tree(roles)
    roles["fakedb"].send_signal(signal.SIGSTOP)
    record = _finish(harness, tmp_path, tree)
    assert record["ok"] is False
    assert record["metrics"]["failed_requests"] > 0
    assert "requests failed" in record["error"]


def test_a_taken_port_is_reported_by_number_and_nothing_is_measured(tmp_path, monkeypatch):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        monkeypatch.setattr(run_setup, "free_ports", lambda count, host: [taken, taken])
        config = RunConfig(stack=STACKS["sync"], workers=1, threads=None, duration_s=2,
                           db_latency_ms=0, vus=1, results_dir=tmp_path)
        record, _ = run(config)
    assert record["ok"] is False
    assert record["metrics"] is None
    assert f"port {taken} on 127.0.0.1 is already in use" in record["error"]
    assert len(record["port_retries"]) == run_setup.PORT_ATTEMPTS - 1


@pytest.mark.parametrize("answers, seen_as", [
    (True, "is answered by a process that is not our server"),
    (False, "server exited")])
def test_a_port_taken_between_the_pick_and_the_bind_is_picked_again(
        tmp_path, monkeypatch, answers, seen_as):
    """Ports are released before our processes bind them: plant another process's listener
    on the picked server port in that gap, an HTTP server that answers or a socket that
    never does (so our server fails to bind and exits first). The run must not measure
    it, and starts again."""
    picks, planted, held = [], [], ExitStack()
    real_free_ports, real_check_db = run_setup.free_ports, run_database.check_db

    def pick(count, host):
        picks.append(real_free_ports(count, host))
        return picks[-1]

    def squat_then_check(db_url):
        if len(picks) == 1:
            planted.append(picks[0][1])
            held.enter_context(serving(SimpleHTTPRequestHandler, planted[0]) if answers
                               else socket.create_server(("127.0.0.1", planted[0])))
        real_check_db(db_url)

    monkeypatch.setattr(run_setup, "free_ports", pick)
    monkeypatch.setattr(run_database, "check_db", squat_then_check)
    config = RunConfig(stack=STACKS["uvicorn"], workers=1, threads=None, duration_s=2,
                       db_latency_ms=0, vus=1, results_dir=tmp_path)
    with held:
        record, _ = run(config)
    assert len(picks) == 2 and planted == [picks[0][1]]
    assert record["ok"] is True, record["error"]
    assert f"--port {picks[1][1]}" in " ".join(record["commands"]["server"])
    [retry] = record["port_retries"]
    assert seen_as in retry


def test_an_interrupted_trial_counts_what_was_left_behind():
    from pyserverbench.devtools.interrupts import trial

    result = trial("uvicorn", signal.SIGTERM, 0.3, at_teardown=True)
    assert result.phase in ("teardown", "after the end")
    assert result.left_processes == 0 and result.left_ports == 0
    assert result.exit_code in (0, 143)
    assert result.records <= 1  # a record is complete or absent
    if result.exit_code == 0:
        assert result.records == 1


def test_two_runs_at_once_each_measure_their_own_server(tmp_path):
    runs = [_start_harness(tmp_path / str(n), "--stack", "uvicorn", "--duration", "3s")
            for n in (1, 2)]
    for harness in runs:
        _, err = harness.communicate(timeout=90)
        assert harness.returncode == 0, err
    records = [json.loads(next((tmp_path / str(n)).glob("*.json")).read_text()) for n in (1, 2)]
    servers = [r["commands"]["server"] for r in records]
    assert servers[0] != servers[1]  # different ports
    assert all(r["ok"] for r in records)
