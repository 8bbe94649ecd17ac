"""A role's control endpoint answers the load role only (token, Host, no browser Origin),
cannot be shut by idle connections, bounds bodies and refuses a second start or stop at
once; the load role refuses a role that lies about itself, in one line."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest
from helpers import ROOT, serving

from pyserverbench.measure import control
from pyserverbench.measure.control import MAX_CONNECTIONS, control_server

TOKEN = "a-token-of-twenty-four-x"


def _served(token: str | None = TOKEN, start=lambda: {"started": True}):
    routes = {("GET", "/facts"): lambda: {"role": "db"}, ("POST", "/start"): start,
              ("POST", "/stop"): lambda: {"stopped": True}}
    server = control_server("127.0.0.1", 0, routes, token, threading.Lock())
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    return server, f"127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def role():
    server, at = _served()
    yield at
    server.shutdown()
    server.server_close()


def _ask(at: str, method: str = "GET", path: str = "/facts", **headers: str) -> httpx.Response:
    return httpx.request(method, f"http://{at}{path}", headers=headers, timeout=5)


def test_only_a_request_with_the_token_the_host_and_no_origin_is_answered(role):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert _ask(role, **bearer).json() == {"role": "db"}
    assert _ask(role).status_code == 401
    assert _ask(role, Authorization="Bearer wrong").status_code == 401
    assert _ask(role, "POST", "/start", **bearer, Origin="http://evil.example").status_code \
        == 403  # what any web page could send from the operator's browser
    assert _ask(role, **bearer, Host="evil.example").status_code == 421  # DNS rebinding
    big = httpx.post(f"http://{role}/start", headers=bearer, content=b"x" * 5000, timeout=5)
    assert big.status_code == 413


def test_a_role_on_loopback_without_a_token_still_checks_host_and_origin():
    server, at = _served(token=None)
    try:
        assert _ask(at).status_code == 200
        assert _ask(at, "POST", "/start", Origin="null").status_code == 403
        assert _ask(at, Host="localhost:1").status_code == 421
    finally:
        server.shutdown()
        server.server_close()


def test_beyond_loopback_a_token_is_made_and_a_given_one_is_required(tmp_path, monkeypatch):
    monkeypatch.delenv(control.TOKEN_VARIABLE, raising=False)
    assert control.role_token("127.0.0.1", None) == (None, False)
    made, fresh = control.role_token("10.0.0.2", None)
    assert fresh and len(made) >= 24
    (tmp_path / "t").write_text("short\n")
    with pytest.raises(control.TokenError, match="no token of 16 characters"):
        control.role_token("10.0.0.2", tmp_path / "t")
    monkeypatch.setenv(control.TOKEN_VARIABLE, TOKEN)
    assert control.role_token("127.0.0.1", None) == (TOKEN, False)


def test_idle_connections_cannot_shut_the_endpoint(role, monkeypatch):
    idle = [socket.create_connection(tuple(role.split(":"))[:1] + (int(role.split(":")[1]),))
            for _ in range(MAX_CONNECTIONS * 3)]
    try:
        time.sleep(0.2)
        assert threading.active_count() < 3 * MAX_CONNECTIONS  # no thread each
        deadline = time.monotonic() + control.READ_TIMEOUT_S + 5
        while True:  # the idle ones time out; then the load role is answered again
            try:
                if _ask(role, Authorization=f"Bearer {TOKEN}").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "still shut by idle connections"
            time.sleep(0.2)
    finally:
        for sock in idle:
            sock.close()


def test_a_second_start_while_one_runs_gets_409_not_a_crash():
    server, at = _served(start=lambda: time.sleep(0.5) or {"started": True})
    try:
        statuses = []
        threads = [threading.Thread(target=lambda: statuses.append(
            _ask(at, "POST", "/start", Authorization=f"Bearer {TOKEN}").status_code))
            for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 409]
    finally:
        server.shutdown()
        server.server_close()


def _liar(answer: bytes):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass
    return Handler


def _facts(**changes: object) -> dict:
    return {"role": "server", "listen": "LISTEN", "command": ["gunicorn"], "stack": "sync",
            "workers": 2, "threads": None, "processes": 3, "host": {"id": "h"},
            "python": "3.13.0", "python_build": "3.13.0", "python_implementation": "CPython",
            "free_threaded": False, "packages": {"gunicorn": "27.0.1"}, "project": {},
            **changes}


def _port_after_a_free_one() -> int:
    """A port P free now, with P - 1 named as a role's (its control is on P)."""
    with serving(_liar(b"")) as probe:
        return int(probe.rsplit(":", 1)[1])


@pytest.mark.processes
@pytest.mark.parametrize(("facts", "said"), [
    (_facts(listen="127.0.0.1:18600"), "says it listens on '127.0.0.1:18600'"),
    ({k: v for k, v in _facts().items() if k != "stack"}, "is not as a role writes it"),
    (_facts(python="../../3.13"), "python is not as a role writes it (pattern)"),
    (_facts(stack="<img src=x onerror=alert(1)>"), "is not one of ours"),
    (_facts(packages={"gunicorn": "<img onerror=x>"}), "do not make a record"),
    ("big", "answered more than"),
])
def test_the_load_role_refuses_a_role_that_lies_in_one_line(tmp_path, facts, said):
    port, db_port = _port_after_a_free_one(), _port_after_a_free_one()
    at, db_at = f"127.0.0.1:{port - 1}", f"127.0.0.1:{db_port - 1}"
    if facts == "big":
        body = b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    else:
        body = json.dumps(facts).replace("LISTEN", at).encode()
    db = json.dumps({"role": "db", "listen": db_at, "command": ["fakedb"], "db_latency_ms": 5,
                     "host": {"id": "h"}}).encode()
    with serving(_liar(body), port), serving(_liar(db), db_port):
        done = subprocess.run([sys.executable, "-m", "pyserverbench", "load-role", "--server",
                               at, "--db", db_at, "--duration", "2s", "--results-dir",
                               str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 2 and said in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_window_restarted_during_the_load_fails_the_run():
    from pyserverbench.measure.load_role import window_problem

    assert window_problem({"window_s": 5.1}, {"window_s": 5.0}) is None
    said = window_problem({"window_s": 5.1}, {"window_s": 0.6})  # a /start at 4.5 s
    assert "one was restarted during the load" in said
