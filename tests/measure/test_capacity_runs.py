"""Capacity searches end to end: real fake DB, real servers, real k6."""

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from helpers import ROOT, is_k6_run

from pyserverbench.harness.procs import port_is_free

pytestmark = pytest.mark.processes


def _capacity(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyserverbench", "capacity", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_a_search_that_reaches_its_highest_rate_is_recorded_step_by_step(tmp_path):
    done = _capacity("--stack", "uvicorn", "--workers", "1", "--db-latency", "0",
                     "--step", "1s", "--warmup", "1s", "--start-rps", "20", "--max-rps", "40",
                     "--min-requests", "10", "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    [path] = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert (record["kind"], record["ok"], record["error"]) == ("capacity", True, None)
    found = record["capacity"]
    assert [s["offered_rps"] for s in found["steps"]] == [20, 40]
    assert all(s["passed"] and s["dropped"] == 0 for s in found["steps"])
    assert (found["rps"], found["failing_rps"], found["at_max"]) == (40, None, True)
    assert (found["goal_ms"], found["step_s"], found["warmup_s"]) == (50, 1, 1)
    assert found["min_requests"] == 10 and all(s["step_s"] == 1 for s in found["steps"])
    for step in found["steps"]:  # each step's own figures and costs
        assert 0.9 * step["offered_rps"] <= step["achieved_rps"] <= 1.1 * step["offered_rps"]
        assert step["usage"]["k6"]["cpu_s"] > 0 and step["usage"]["server"]["cpu_s"] > 0
        assert 0 < step["usage"]["cpus_busy"]["load_cpus"] <= 1
        assert step["vus"] == 10 and step["little"]["problems"] == []
    assert found["cpu_s_per_1000"] == found["steps"][-1]["cpu_s_per_1000"] > 0
    assert found["bounds"]["cpu_rps"] > 0 and found["slots"] is None
    probe = record["probe"]
    assert (probe["loop"], probe["contradictions"], probe["workers_running"]) == (
        "uvloop", [], 1)
    warm = found["warm"]  # a fresh server first serves half the first rate, unjudged
    assert (warm["offered_rps"], warm["step_s"], warm["passed"]) == (10, 3, True)
    assert found["set_aside"] == [] or all(
        s["usage"]["steal"] > 0.03 for s in found["set_aside"])
    # the worker counted every request k6 sent, warm-ups included
    served = [warm, *found["set_aside"], *found["steps"]]
    assert abs(probe["workers"][0]["requests"]
               - sum(s["total_requests"] for s in served)) <= 20
    assert "RATE=<per step>" in record["commands"]["k6"]
    if len(os.sched_getaffinity(0)) >= 2:  # the server on half the CPUs by default
        assert record["placement"]["shared"] is False
    assert "capacity 40.0/s at p99 <= 50 ms" in done.stdout
    assert "step 2: 40.0/s offered" in done.stdout and "1 done, 0 left" in done.stdout


def test_a_goal_no_rate_can_keep_is_a_failed_search_with_its_steps(tmp_path):
    done = _capacity("--stack", "sync", "--workers", "1", "--db-latency", "25",
                     "--goal-ms", "1", "--mix", "/api:1", "--step", "1s", "--warmup", "1s",
                     "--start-rps", "4", "--min-requests", "10",
                     "--results-dir", str(tmp_path))
    assert done.returncode == 1
    [path] = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert record["ok"] is False
    assert record["error"] == "no rate passed, down to 1/s"
    # halving down, and the last failure, the one that decides, confirmed
    assert [s["offered_rps"] for s in record["capacity"]["steps"]] == [4, 2, 1, 1]
    assert all("over the goal of 1 ms" in s["reason"] for s in record["capacity"]["steps"])
    assert "search failed: no rate passed" in done.stderr


def test_bad_options_fail_in_one_line_and_write_nothing(tmp_path):
    done = _capacity("--stack", "uvicorn", "--threads", "2", "--results-dir", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "has no threads" in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_signal_mid_search_stops_every_child_and_writes_no_record(tmp_path):
    harness = subprocess.Popen(
        [sys.executable, "-m", "pyserverbench", "capacity", "--stack", "sync", "--step", "30s",
         "--results-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        children: set[psutil.Process] = set()
        while time.monotonic() < deadline:
            children = set(psutil.Process(harness.pid).children(recursive=True))
            if any(is_k6_run(c) for c in children):
                break
            time.sleep(0.2)
        else:
            pytest.fail("k6 never started")
        ports = {c.laddr.port for c in psutil.net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.pid in {p.pid for p in children}}
        harness.send_signal(signal.SIGTERM)
        _, err = harness.communicate(timeout=60)
    finally:
        if harness.poll() is None:
            harness.kill()
    assert harness.returncode == 128 + signal.SIGTERM
    assert "no record written" in err
    assert not list(tmp_path.glob("*.json"))
    _, alive = psutil.wait_procs(list(children), timeout=5)
    assert not alive and all(port_is_free(port) for port in ports)


def test_a_server_that_dies_mid_search_fails_the_search_and_keeps_the_steps_so_far(tmp_path):
    harness = subprocess.Popen(
        [sys.executable, "-m", "pyserverbench", "capacity", "--stack", "uvicorn", "--workers",
         "1", "--db-latency", "0", "--step", "1s", "--warmup", "1s", "--start-rps", "20",
         "--min-requests", "10", "--results-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        started = harness.stdout.readline()  # which search, and the time left
        assert "search 1 of 1: the time left is estimated after the first search" in started
        first = harness.stdout.readline()  # the first step's progress line
        assert "step 1: 20.0/s offered" in first
        [server] = [c for c in psutil.Process(harness.pid).children()
                    if c.cmdline()[1:3] == ["-m", "uvicorn"]]
        server.kill()
        out, err = harness.communicate(timeout=60)
    finally:
        if harness.poll() is None:
            harness.kill()
    assert harness.returncode == 1
    [path] = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert record["ok"] is False and "server exited" in record["error"]
    assert record["capacity"]["steps"][0]["offered_rps"] == 20  # what ran before is kept
    assert "search failed" in err
