"""The lifecycle every kind shares: the record's fields, measured() from the facts
through the measurement and its verdict to the written record, and the preflight."""

import json
import os
import platform
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from pyserverbench.harness.checks import CheckError
from pyserverbench.harness.k6 import K6Error
from pyserverbench.harness.procs import ProcessError
from pyserverbench.matrix.stacks import STACKS
from pyserverbench.matrix.workloads import Workload
from pyserverbench.measure.closed import parse_args
from pyserverbench.measure.lifecycle import (
    base_record,
    measured,
    preflight,
    record_fields,
)
from pyserverbench.records import FORMAT
from pyserverbench.sitting.plan import SITTING_VARIABLE

STARTED = datetime(2026, 11, 24, 12, 0, 1, tzinfo=timezone.utc)
WHERE = {"python": "3.12.1", "python_build": "3.12.1 (main)", "python_implementation": "CPython",
         "free_threaded": False, "packages": {"gunicorn": "27.0.1"}, "host": {"id": "h"},
         "project": {"commit": "abc", "dirty": False}, "role": "server"}


def test_a_record_states_the_run_and_the_machine(tmp_path):
    config = parse_args(["--stack", "gthread", "--workers", "3", "--duration", "5s",
                         "--db-latency", "7", "--vus", "4", "--connections", "per-iteration"])
    started = datetime(2026, 11, 24, 12, 0, 1, tzinfo=timezone.utc)
    record = base_record(config, started, "k6 v1.1.0 (x)")
    stack = config.stack
    assert {key: record[key] for key in (
        "format", "stack", "mode", "server", "worker_class", "app", "workers", "threads",
        "db_latency_ms", "vus", "connections", "duration_s", "started_at", "k6_version")} == {
        "format": FORMAT, "stack": "gthread", "mode": stack.mode, "server": stack.server,
        "worker_class": stack.worker_class, "app": stack.app, "workers": 3, "threads": 1,
        "db_latency_ms": 7, "vus": 4, "connections": "per-iteration", "duration_s": 5,
        "started_at": "2026-11-24T12:00:01+00:00", "k6_version": "k6 v1.1.0 (x)"}
    assert record["id"].startswith(f"20261124T120001Z-gthread-w3-py{record['python']}-")
    assert "psutil" in record["packages"]  # what this environment holds
    assert set(record["host"]) >= {"id", "cores", "cpu_model", "kernel", "machine"}
    assert record["python_implementation"] == platform.python_implementation()
    assert record["python"] == platform.python_version() and "project" in record
    assert record["workers_rule"] is None  # a count given


def test_workers_auto_runs_the_stacks_rule_for_the_servers_cpus_and_says_so():
    usable = sorted(os.sched_getaffinity(0))
    config = parse_args(["--stack", "sync", "--workers", "auto"])
    assert config.workers == 2 * len(usable) + 1
    record = base_record(config, STARTED, "k6")
    assert record["workers"] == config.workers
    assert record["workers_rule"]["asked"] == "auto"
    assert record["workers_rule"]["rule"] == "(2 × CPUs) + 1"
    assert record["workers_rule"]["server_cpus"] == len(usable)
    assert "gunicorn" in record["workers_rule"]["source"]


def test_the_fields_of_a_record_come_from_the_stack_the_scenario_and_where_it_ran():
    record = record_fields(STACKS["gthread"], 2, 4, WHERE, 25, Workload("fanout", 0, 3), 10,
                           "kept", 60, STARTED, "k6 v1.1.0")
    assert record == {
        "format": FORMAT, "id": record["id"], "stack": "gthread", "mode": "Sync",
        "server": STACKS["gthread"].server, "worker_class": "gthread", "app": "sync",
        "workers": 2, "workers_rule": None, "threads": 4, "python": "3.12.1",
        "python_build": "3.12.1 (main)",
        "python_implementation": "CPython", "free_threaded": False, "db_latency_ms": 25,
        "workload": {"name": "fanout", "fanout_calls": 3}, "vus": 10, "connections": "kept",
        "duration_s": 60, "started_at": "2026-11-24T12:00:01+00:00",
        "packages": {"gunicorn": "27.0.1"}, "k6_version": "k6 v1.1.0", "host": {"id": "h"},
        "project": {"commit": "abc", "dirty": False}}
    assert record["id"].startswith("20261124T120001Z-gthread-w2-py3.12.1-")


def _record() -> dict:
    return {"id": "r1", "ok": None}


def test_a_measurement_that_counts_is_written_whole(tmp_path):
    seen = []

    def measure(logs):
        seen.append(logs.is_dir())
        return {"metrics": {"requests": 5}}, None

    record, path = measured(_record(), measure, tmp_path / "runs")
    assert seen == [True]  # a fresh directory for the logs
    assert path == tmp_path / "runs" / "r1.json"
    assert json.loads(path.read_text()) == record
    assert record["ok"] is True and record["error"] is None
    assert record["metrics"] == {"requests": 5}
    assert datetime.fromisoformat(record["finished_at"]).utcoffset().total_seconds() == 0


def test_a_measurement_that_does_not_count_says_why_and_keeps_its_figures(tmp_path):
    record, path = measured(_record(), lambda logs: ({"metrics": {"requests": 0}}, "no requests"),
                            tmp_path)
    assert (record["ok"], record["error"], record["metrics"]) == (False, "no requests",
                                                                  {"requests": 0})
    assert json.loads(path.read_text())["ok"] is False


@pytest.mark.parametrize("failure", [ProcessError("server died"), CheckError("GET / 500"),
                                     K6Error("k6 lacks p(99)")])
def test_a_measurement_that_fails_is_recorded_as_failed_never_as_a_fast_result(tmp_path,
                                                                                failure):
    def measure(logs):
        raise failure

    record, path = measured({**_record(), "metrics": {"requests": 1}}, measure, tmp_path)
    assert (record["ok"], record["error"], record["metrics"]) == (False, str(failure), None)
    assert json.loads(path.read_text()) == record


def test_anything_else_stops_the_command_and_writes_nothing(tmp_path):
    def measure(logs):
        raise ValueError("a bug, not a measurement")

    with pytest.raises(ValueError):
        measured(_record(), measure, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_record_names_its_sitting_and_what_the_machine_did(tmp_path, monkeypatch):
    place = {"id": "S", "seed": 1, "round": 2, "rounds": 3, "order": 7, "cell": "c"}
    monkeypatch.setenv(SITTING_VARIABLE, json.dumps(place))

    def measure(logs):
        time.sleep(0.3)
        return {"metrics": {"requests": 5}}, None

    record, _ = measured(_record(), measure, tmp_path)
    assert record["sitting"] == place
    machine = record["machine"]
    assert machine["during"]["window_s"] >= 0.3
    assert machine["during"]["foreign_cpu_s"] >= 0  # what others did: this machine's business
    assert machine["cpu_speed"]["task_ms"] > 0 and isinstance(machine["disturbed"], list)
    monkeypatch.delenv(SITTING_VARIABLE)
    assert measured(_record(), measure, tmp_path)[0]["sitting"] is None


def test_the_preflight_names_what_is_missing(tmp_path, monkeypatch, capsys):
    script = tmp_path / "load.js"
    assert preflight("benchmark runs", script) == 2
    assert capsys.readouterr().err == f"error: k6 script {script} not found\n"
    script.write_text("")
    assert preflight("benchmark runs", script) is None
    monkeypatch.setattr(sys, "platform", "darwin")
    assert preflight("capacity searches", script) == 2
    assert capsys.readouterr().err == (
        "error: capacity searches need Linux (process groups, pidfd, CPU affinity); this is "
        "darwin. `report` works anywhere.\n")


def test_a_user_apps_record_names_the_app_instead_of_ours():
    from pyserverbench.measure.userapp import UserApp

    config = parse_args(["--stack", "sync"])
    app = UserApp(name="shop", interface="wsgi", target="shop.wsgi:application")
    record = base_record(replace(config, app=app), STARTED, "k6")
    assert record["app"] == "WSGI shop.wsgi:application"
    assert record["user_app"]["name"] == "shop" and record["user_app"]["key"]
    assert "user_app" not in base_record(config, STARTED, "k6")
