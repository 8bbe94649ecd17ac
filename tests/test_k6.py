import json
from pathlib import Path

import pytest

from pyserverbench.k6 import K6Error, find_k6, k6_argv, k6_version, metrics_from_summary

SUMMARY = json.loads((Path(__file__).parent / "data" / "k6-summary.json").read_text())


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
