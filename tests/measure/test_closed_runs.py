"""One run end to end through real k6, and the ways a run can fail."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from helpers import ROOT, is_k6_run

from pyserverbench.harness import services as services_module
from pyserverbench.harness.checks import answers
from pyserverbench.harness.k6 import K6Error
from pyserverbench.harness.procs import ProcessError, free_port, port_is_free
from pyserverbench.matrix.stacks import STACKS, Stack
from pyserverbench.measure import closed as run_module
from pyserverbench.measure import setup as run_setup
from pyserverbench.measure.closed import read_results, run, verdict
from pyserverbench.measure.setup import RunConfig


def _harness(*args: str, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyserverbench", "run", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env=env)


def _ports(record: dict) -> list[int]:
    commands = record["commands"]
    db_port = int(commands["fakedb"][commands["fakedb"].index("--port") + 1])
    base = next(a for a in commands["k6"] if a.startswith("BASE_URL="))
    return [db_port, urlsplit(base.split("=", 1)[1]).port]


@pytest.mark.processes
def test_a_short_real_run_writes_a_complete_record_and_leaves_nothing(tmp_path):
    done = _harness("--stack", "uvicorn", "--workers", "1", "--duration", "3s", "--vus", "2",
                    "--db-latency", "5", "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    [path] = tmp_path.glob("*.json")
    record = json.loads(path.read_text())
    assert record["ok"] is True and record["error"] is None
    assert (record["stack"], record["workers"], record["vus"], record["duration_s"],
            record["db_latency_ms"]) == ("uvicorn", 1, 2, 3, 5)
    assert record["python"] == ".".join(map(str, sys.version_info[:3]))
    m = record["metrics"]
    assert m["iterations"] > 0
    assert 3 * m["iterations"] <= m["requests"] <= 3 * m["iterations"] + 2 * 2
    assert m["failed_requests"] == 0
    assert 5 <= m["duration_p95_ms"] <= m["duration_p99_ms"]
    assert m["blocked_p95_ms"] >= 0
    assert record["k6_version"].startswith("k6 v")
    assert record["packages"]["uvicorn"] == "0.54.0"
    assert record["host"]["cores"] >= 1 and record["host"]["cpu_model"]
    assert "http_reqs" in record["k6_summary"]["metrics"]
    assert all(port_is_free(port) for port in _ports(record))
    assert not list(tmp_path.glob(".*.tmp"))
    usage = record["usage"]
    assert usage["server"]["cpu_s"] > 0 and usage["server"]["peak_rss_bytes"] > 0
    assert len(usage["server"]["workers"]) == 1
    assert usage["k6"]["cpu_s"] > 0 and usage["fakedb"]["cpu_s"] >= 0
    assert 2 <= usage["window_s"] <= 6
    assert record["placement"]["shared"] is True
    assert record["ceiling"]["requests"] == round(2 * 3 * 3 / 0.105)
    assert record["repeat"]["index"] == record["repeat"]["of"] == 1
    probe = record["probe"]
    assert (probe["loop"], probe["parser"], probe["contradictions"]) == ("uvloop", "httptools", [])
    assert probe["tcp_nodelay"] is True  # uvloop sets it on every accepted connection
    assert probe["workers_running"] == 1
    assert probe["workers"][0]["requests"] == m["requests"]
    assert record["connections"] == "kept"
    assert record["k6_summary"]["metrics"]["http_req_connecting"]["p(90)"] == 0


@pytest.mark.processes
def test_repeats_are_separate_records_of_one_group_and_pinning_is_recorded(tmp_path):
    import os

    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs two CPUs")
    server_cpu = min(os.sched_getaffinity(0))
    done = _harness("--stack", "uvicorn", "--workers", "1", "--duration", "2s", "--vus", "2",
                    "--repeat", "2", "--server-cpus", str(server_cpu),
                    "--results-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    records = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("*.json"))]
    assert [r["repeat"]["index"] for r in records] == [1, 2]
    assert len({r["repeat"]["group"] for r in records}) == 1
    assert len({_ports(r)[1] for r in records}) == 2  # fresh processes, fresh ports
    for record in records:
        assert record["placement"]["server_cpus"] == [server_cpu]
        assert server_cpu not in record["placement"]["load_cpus"]
        assert record["placement"]["shared"] is False


def _config(stack: Stack, results: Path) -> RunConfig:
    return RunConfig(stack=stack, workers=1, threads=None, duration_s=2, db_latency_ms=0,
                     vus=1, results_dir=results)


@pytest.mark.processes
def test_a_server_that_exits_at_start_is_a_failed_record_found_at_once(tmp_path):
    broken = Stack(name="broken", mode="Sync", server="none", worker_class=None, app="sync",
                   app_target="none", packages=(),
                   command=("-c", "print('no such server'); raise SystemExit(3)"),
                   loop="none", parser="gunicorn")
    start = time.monotonic()
    record, path = run(_config(broken, tmp_path))
    assert time.monotonic() - start < 20
    assert record["ok"] is False and record["metrics"] is None
    assert "server exited with code 3" in record["error"]
    assert "no such server" in record["error"]
    assert "port_retries" not in record  # its ports were free: nothing to start again
    assert json.loads(path.read_text())["ok"] is False
    assert all(port_is_free(port) for port in _ports(record))


@pytest.mark.processes
def test_a_fake_db_that_never_answers_is_a_failed_record(tmp_path, monkeypatch):
    silent_root = tmp_path / "root"
    (silent_root / "fakedb").mkdir(parents=True)
    (silent_root / "fakedb" / "__main__.py").write_text("import time\ntime.sleep(60)\n")
    monkeypatch.setattr(services_module, "ROOT", silent_root)
    monkeypatch.setattr(services_module, "START_DEADLINE_S", 1.0)
    record, _ = run(_config(STACKS["uvicorn"], tmp_path / "runs"))
    assert record["ok"] is False
    assert "fake DB not answering after 1 s" in record["error"]
    assert all(port_is_free(port) for port in _ports(record))


@pytest.mark.processes
def test_a_missing_k6_fails_in_one_line_and_writes_nothing(tmp_path):
    env = {**os.environ, "K6": str(tmp_path / "no-k6")}
    done = _harness("--stack", "sync", "--duration", "1s", "--results-dir", str(tmp_path),
                    env=env)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "no-k6" in done.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("args", "named"), [
    (["--stack", "nginx"], "'nginx'"),
    (["--stack", "sync", "--workers", "0"], "--workers"),
    (["--stack", "sync", "--threads", "4"], "--threads"),
    (["--stack", "gthread", "--duration", "forever"], "--duration"),
])
@pytest.mark.processes
def test_bad_options_fail_in_one_line_before_anything_starts(args, named, tmp_path):
    done = _harness(*args, "--results-dir", str(tmp_path))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert named in done.stderr
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


@pytest.mark.processes
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_mid_run_stops_every_child_and_writes_no_record(signum, tmp_path):
    harness = subprocess.Popen(
        [sys.executable, "-m", "pyserverbench", "run", "--stack", "sync", "--workers", "2",
         "--duration", "30s", "--results-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        children: set[psutil.Process] = set()
        while time.monotonic() < deadline:  # wait until k6 is running under the harness
            children = set(psutil.Process(harness.pid).children(recursive=True))
            if any(is_k6_run(c) for c in children):  # not the short `k6 version` before
                break
            time.sleep(0.2)
        else:
            pytest.fail("k6 never started")
        pids = {c.pid for c in children}
        ports = {c.laddr.port for c in psutil.net_connections(kind="tcp")
                 if c.status == psutil.CONN_LISTEN and c.pid in pids}
        assert len(ports) == 2  # the fake DB and the server
        harness.send_signal(signum)
        _, err = harness.communicate(timeout=60)
    finally:
        if harness.poll() is None:
            harness.kill()
    assert harness.returncode == 128 + signum
    assert "no record written" in err
    assert not list(tmp_path.glob("*.json"))
    _, alive = psutil.wait_procs(list(children), timeout=5)
    assert not alive
    assert all(port_is_free(port) for port in ports)


def _result(requests=100, failed=0, checks_failed=0, code=0):
    return {"k6_exit_code": code, "metrics": {"requests": requests, "failed_requests": failed,
                                              "failed_rate": failed / max(requests, 1),
                                              "checks_failed": checks_failed}}


def test_verdict_refuses_any_failure():
    assert verdict(_result()) is None
    assert "3 of 100 requests failed" in verdict(_result(failed=3, code=99))
    assert "checks failed" in verdict(_result(checks_failed=1))
    assert verdict(_result(code=99)) == "k6 thresholds crossed"
    assert "code 107" in verdict(_result(code=107))
    assert verdict(_result(requests=0)) == "no requests were made"


def _probe_run(tmp_path, *args: str, env=None, cwd=ROOT) -> dict:
    done = subprocess.run([sys.executable, "-m", "pyserverbench", "run", *args,
                           "--results-dir", str(tmp_path / "runs")],
                          cwd=cwd, capture_output=True, text=True, timeout=120, env=env)
    [path] = (tmp_path / "runs").glob("*.json")
    record = json.loads(path.read_text())
    assert done.returncode == (0 if record["ok"] else 1), done.stderr
    return record


@pytest.mark.processes
def test_a_two_worker_run_records_both_workers_and_their_shares(tmp_path):
    record = _probe_run(tmp_path, "--stack", "sync", "--workers", "2", "--duration", "3s",
                        "--vus", "4", "--db-latency", "0")
    assert record["ok"], record["error"]
    probe = record["probe"]
    assert probe["workers_running"] == 2
    served = [w["requests"] for w in probe["workers"]]
    assert len(served) == 2 and min(served) > 0
    assert abs(sum(served) - record["metrics"]["requests"]) <= 4
    assert sum(probe["spread"]["shares"]) == pytest.approx(1.0, abs=0.01)
    assert (probe["loop"], probe["parser"]) == ("none", "gunicorn")
    server = record["usage"]["server"]
    assert server["processes"] == 3  # gunicorn's arbiter and both workers
    assert {w["pid"] for w in server["workers"]} == {w["pid"] for w in probe["workers"]}
    worker_cpu = [w["cpu_s"] for w in server["workers"]]
    assert min(worker_cpu) > 0  # both worked
    # the whole tree (rounded to ms each), mostly the workers
    assert server["cpu_s"] + 0.002 >= sum(worker_cpu) > 0.5 * server["cpu_s"]


@pytest.mark.processes
def test_a_server_on_another_loop_than_its_stack_declares_is_a_failed_run(tmp_path):
    uvicorn = STACKS["uvicorn"]
    liar = dataclasses.replace(  # says uvloop, runs asyncio
        uvicorn, name="liar", command=uvicorn.command[:-1] + ("--loop", "asyncio", "{target}"))
    record, _ = run(dataclasses.replace(_config(liar, tmp_path), duration_s=2))
    assert record["ok"] is False
    assert "runs loop asyncio, the stack declares uvloop" in record["error"]
    assert record["probe"]["loop"] == "asyncio"
    assert record["metrics"]["requests"] > 0  # measured, but not counted


@pytest.mark.processes
def test_new_connections_per_iteration_reach_k6_and_the_record(tmp_path):
    record = _probe_run(tmp_path, "--stack", "uvicorn", "--workers", "1", "--duration", "3s",
                        "--vus", "2", "--connections", "per-iteration")
    assert record["ok"], record["error"]
    assert record["connections"] == "per-iteration"
    assert "--no-vu-connection-reuse" in record["commands"]["k6"]
    # one of every three requests opens a connection (it is reused within the iteration)
    assert record["k6_summary"]["metrics"]["http_req_connecting"]["p(90)"] > 0


@pytest.mark.processes
def test_a_port_taken_by_a_foreign_process_after_the_check_is_not_our_server(tmp_path,
                                                                           monkeypatch):
    foreign_port = free_port()
    foreign = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                                str(foreign_port)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not answers(f"http://127.0.0.1:{foreign_port}/"):
            assert time.monotonic() < deadline, "the foreign server never answered"
            time.sleep(0.1)
        # the fake DB's port, then the server's
        monkeypatch.setattr(run_setup, "free_ports",
                            lambda count, host: [free_port(), foreign_port])
        monkeypatch.setattr(run_setup, "port_is_free", lambda port, host: True)
        record, _ = run(_config(STACKS["sync"], tmp_path / "runs"))
    finally:
        foreign.terminate()
        foreign.wait(timeout=10)
    assert record["ok"] is False
    assert f"port {foreign_port} is answered by a process that is not our server" \
        in record["error"]


@pytest.mark.processes
def test_the_server_starts_in_a_clean_room_whatever_the_caller_has(tmp_path):
    caller = tmp_path / "caller"
    caller.mkdir()
    (caller / "gunicorn.conf.py").write_text("raise SystemExit('a stray config was read')\n")
    (caller / ".env").write_text("PYSERVERBENCH_DB_URL=http://127.0.0.1:9/\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GUNICORN_CMD_ARGS": "--threads 4",
           "WEB_CONCURRENCY": "5", "HTTP_PROXY": "http://127.0.0.1:9",
           "ALL_PROXY": "http://127.0.0.1:9", "K6_VUS": "7"}
    record = _probe_run(tmp_path, "--stack", "sync", "--workers", "1", "--duration", "2s",
                        "--vus", "1", env=env, cwd=caller)
    assert record["ok"], record["error"]
    assert record["probe"]["workers_running"] == 1
    assert record["probe"]["workers"][0]["threads_peak"] == 1  # not gthread with 4
    server_env = record["environment"]["server"]
    assert set(server_env) == {"PATH", "HOME", "LANG", "PYTHONPATH", "PYSERVERBENCH_DB_URL",
                               "PYSERVERBENCH_PROBE_DIR"}
    assert "K6_VUS" not in record["environment"]["k6"]


def test_another_os_is_refused_in_one_line_before_anything_starts(tmp_path, monkeypatch,
                                                                   capsys):
    monkeypatch.setattr(sys, "platform", "darwin")
    code = run_module.main(["--stack", "sync", "--results-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and "need Linux" in err and "darwin" in err
    assert not (tmp_path / "runs").exists()


def test_a_load_aborted_before_any_iteration_fails_with_the_abort_reason(tmp_path):
    # What k6 writes when it is stopped before one iteration completes: no iterations.
    summary = tmp_path / "k6-summary.json"
    summary.write_text(json.dumps({"metrics": {"vus": {"value": 2}}}))
    reason = "during the load: server exited with code 1; log: boom"
    with pytest.raises(ProcessError, match="server exited with code 1; log: boom; k6 "):
        read_results(summary, reason)
    with pytest.raises(K6Error, match="lacks"):  # not aborted: k6's own failure
        read_results(summary, None)
    with pytest.raises(ProcessError, match="server exited"):  # no summary at all
        read_results(tmp_path / "none.json", reason)


@pytest.mark.processes
def test_a_workload_run_sends_only_its_request_and_waitress_is_one_process(tmp_path):
    record = _probe_run(tmp_path, "--stack", "waitress", "--workers", "2", "--duration", "3s",
                        "--vus", "3", "--db-latency", "20", "--workload", "fanout",
                        "--fanout-calls", "2")
    assert record["ok"], record["error"]
    assert record["workload"] == {"name": "fanout", "fanout_calls": 2}
    assert "REQUEST=/fanout?calls=2" in record["commands"]["k6"]
    checks = record["k6_summary"]["root_group"]["checks"]
    assert list(checks) == ["GET /fanout?calls=2 status 200"]
    # one process whose 2 threads hold a request each for two 20 ms calls in turn
    assert record["threads"] == 2 and record["probe"]["workers_running"] == 1
    assert "--threads=2" in record["commands"]["server"]
    assert record["metrics"]["requests"] <= 2 / 0.040 * 3 * 1.05
    assert record["ceiling"]["requests"] == round(3 * 3 / 0.040)


_LOAD = ["k6", "run", "--no-color", "--quiet", "--address", ""]
_TO = ["-e", "BASE_URL=http://127.0.0.1:9", "-e", "VUS=10", "-e", "DURATION=20s"]


def _k6_line(**changes) -> list[str]:
    config = RunConfig(**{"stack": STACKS["sync"], "workers": 2, "threads": None,
                          "duration_s": 20, "db_latency_ms": 25, "vus": 10,
                          "results_dir": Path("r"), **changes})
    return run_module.k6_command(config, "k6", Path("s.json"), "http://127.0.0.1:9")


def test_the_k6_command_line_carries_the_load_each_run_asks_for(tmp_path):
    """What k6 is told is the load a record's figures describe: the study's mix, one
    workload's request, a user's weighted paths or their own script."""
    from pyserverbench.matrix.workloads import Workload
    from pyserverbench.measure.userapp import Request, UserApp

    script = str(run_module.LOAD_SCRIPT)
    assert _k6_line(connections="per-iteration") == [
        *_LOAD, "--no-vu-connection-reuse", "--summary-export", "s.json", *_TO, script]
    assert _k6_line(workload=Workload("page", page_rows=50)) == [
        *_LOAD, "--summary-export", "s.json", *_TO, "-e", "REQUEST=/page?rows=50", script]
    shop = UserApp(name="shop", interface="wsgi", target="shop:app",
                   paths=(Request("/", 2), Request("/api/items", 1, "POST",
                                                    tmp_path / "order.json")))
    assert _k6_line(app=shop, workload=Workload("page", page_rows=50)) == [
        *_LOAD, "--summary-export", "s.json", *_TO,
        "-e", f'PATHS=[["/",2,"GET",null],["/api/items",1,"POST","{tmp_path}/order.json"]]',
        script]
    own = dataclasses.replace(shop, k6_script=tmp_path / "mine.js")
    assert _k6_line(app=own, connections="per-iteration") == [
        *_LOAD, "--vus", "10", "--duration", "20s", "--summary-trend-stats",
        "avg,min,med,max,p(90),p(95),p(99)", "--no-vu-connection-reuse",
        "--summary-export", "s.json", "-e", "BASE_URL=http://127.0.0.1:9",
        str(tmp_path / "mine.js")]


