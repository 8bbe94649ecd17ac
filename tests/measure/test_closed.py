"""What a finished run's record says: its verdict, its facts, the line printed for it."""

import json

import pytest

from pyserverbench.harness.k6 import K6Error
from pyserverbench.harness.procs import ProcessError
from pyserverbench.measure.closed import _say, parse_args, read_results, verdict


def _result(**changes) -> dict:
    metrics = {"requests": 300, "failed_requests": 0, "failed_rate": 0.0, "checks_failed": 0}
    metrics.update(changes.pop("metrics", {}))
    return {"k6_exit_code": 0, "metrics": metrics, "probe": {"contradictions": []}, **changes}


def test_a_clean_result_counts():
    assert verdict(_result()) is None


@pytest.mark.parametrize(("changes", "reason"), [
    ({"metrics": {"failed_requests": 3, "failed_rate": 0.01}},
     "3 of 300 requests failed (1.00%), 0 checks failed"),
    ({"metrics": {"checks_failed": 2}}, "0 of 300 requests failed (0.00%), 2 checks failed"),
    ({"abort": "during the load: server exited with code 1", "metrics": {"failed_requests": 1}},
     "during the load: server exited with code 1; before that, 1 of 300 requests failed "
     "(0.00%), 0 checks failed"),
    ({"probe": {"contradictions": ["2 workers running, 1 asked", "loop asyncio"]}},
     "what served contradicts the stack: 2 workers running, 1 asked; loop asyncio"),
    ({"k6_exit_code": 99}, "k6 thresholds crossed"),
    ({"k6_exit_code": 107}, "k6 exited with code 107"),
    ({"metrics": {"requests": 0}}, "no requests were made"),
])
def test_a_run_that_does_not_count_says_why(changes, reason):
    assert verdict(_result(**changes)) == reason


def test_a_failed_check_is_named_with_its_count_so_the_broken_path_shows():
    summary = {"root_group": {"checks": {
        "GET / status 2xx": {"passes": 27240, "fails": 0},
        "GET /api/stock status 2xx": {"passes": 294, "fails": 13326}}}}
    reason = verdict(_result(metrics={"failed_requests": 13326, "checks_failed": 13326},
                             k6_summary=summary))
    assert reason.endswith("13326 checks failed: GET /api/stock status 2xx failed 13,326 of "
                           "13,620")
    assert "GET / status" not in reason


def test_failures_come_before_contradictions_and_k6s_code():
    both = _result(metrics={"failed_requests": 1}, k6_exit_code=99,
                   probe={"contradictions": ["loop asyncio"]})
    assert verdict(both).startswith("1 of 300 requests failed")
    assert verdict(_result(k6_exit_code=99, probe={"contradictions": ["x"]})).startswith(
        "what served contradicts")


def test_results_are_read_from_the_summary(tmp_path):
    path = tmp_path / "k6-summary.json"
    summary = {"metrics": {
        "http_reqs": {"count": 9, "rate": 3.0}, "iterations": {"count": 3},
        "http_req_failed": {"passes": 0, "value": 0},
        "http_req_duration": {"med": 1.0, "p(95)": 2.0, "p(99)": 3.0},
        "http_req_blocked": {"p(95)": 0.01}}}
    path.write_text(json.dumps(summary))
    read, metrics = read_results(path, None)
    assert read == summary and metrics["requests"] == 9
    # aborted after k6 measured something: the numbers are kept, the abort decides the verdict
    assert read_results(path, "during the load: server exited")[1]["requests"] == 9
    with pytest.raises(K6Error, match="no readable summary"):
        read_results(tmp_path / "none.json", None)
    with pytest.raises(ProcessError, match="^server died$"):
        read_results(tmp_path / "none.json", "server died")


def _ok_record() -> dict:
    return {"ok": True, "python": "3.12.1", "repeat": {"index": 2, "of": 3},
            "metrics": {"requests": 12345, "duration_p95_ms": 30.456},
            "probe": {"loop": "uvloop", "parser": "httptools"}}


def test_a_run_prints_one_line_with_its_numbers(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = parse_args(["--stack", "uvicorn"])
    _say(config, _ok_record(), tmp_path / "runs" / "r.json")
    out = capsys.readouterr().out
    assert out == ("uvicorn x2 on Python 3.12.1 (uvloop loop, httptools parser), run 2 of 3: "
                   "12345 requests, p95 30.46 ms (record: runs/r.json)\n")


def test_a_failed_run_prints_its_reason_on_stderr(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = {**_ok_record(), "ok": False, "error": "server exited with code 3"}
    _say(parse_args(["--stack", "sync"]), record, tmp_path / "r.json")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("error: run 2 of 3: run failed: server exited with code 3 "
                            "(record: r.json)\n")
