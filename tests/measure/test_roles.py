"""Separate hosts: the db, server and load roles as their own commands, on loopback and
with each role in its own Linux network namespace joined by veth links to a bridge."""

import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time

import psutil
import pytest
from helpers import ROOT

from pyserverbench.harness.procs import Process, port_is_free
from pyserverbench.measure.load_role import placement
from pyserverbench.measure.roles import address, url

PYTHON = [sys.executable, "-m", "pyserverbench"]


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:8000", ("127.0.0.1", 8000)), ("10.1.2.3:1", ("10.1.2.3", 1)),
])
def test_an_address_is_one_ip_and_a_port(text, expected):
    assert address(text) == expected


@pytest.mark.parametrize(("text", "why"), [
    ("0.0.0.0:8000", "listens on every address"), ("[::]:8000", "listens on every address"),
    ("localhost:8000", "is not an address"), ("127.0.0.1", "is not an address"),
    ("127.0.0.1:65535", "is not an address"), ("127.0.0.1:0", "is not an address"),
    ("127.0.0.1:http", "is not an address"),
    ("[::1]:8000", "is an IPv6 address, which the roles do not serve yet"),
])
def test_a_wildcard_name_or_bad_port_is_refused(text, why):
    with pytest.raises(ValueError, match=why):
        address(text)


def test_urls_bracket_ipv6():
    assert url("::1", 80) == "http://[::1]:80" and url("10.0.0.1", 80) == "http://10.0.0.1:80"


def test_the_placement_names_each_role_by_host_and_address():
    facts = {name: {"host": {"id": f"id-{name}"}, "listen": f"10.0.0.{n}:80"}
             for n, name in enumerate(("load", "server", "db"))}
    assert placement(facts["load"], facts["server"], facts["db"]) == {
        "roles": {"load": "id-load 10.0.0.0:80", "server": "id-server 10.0.0.1:80",
                  "db": "id-db 10.0.0.2:80"}, "shared": None}


@pytest.mark.processes
@pytest.mark.parametrize("argv", [
    ["db-role", "--listen", "0.0.0.0:8100"],
    ["server-role", "--stack", "sync", "--listen", "127.0.0.1"],
    ["server-role", "--stack", "sync", "--db", "::"],
    ["load-role", "--server", "everywhere"],
])
def test_bad_role_addresses_fail_in_one_line(argv):
    done = subprocess.run([*PYTHON, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "address" in done.stderr


@pytest.mark.processes
def test_the_load_role_without_roles_to_drive_fails_in_one_line(tmp_path):
    db_port, server_port = _role_ports()
    done = subprocess.run([*PYTHON, "load-role", "--server", f"127.0.0.1:{server_port}",
                           "--db", f"127.0.0.1:{db_port}", "--results-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2 and "a role does not answer" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _role_ports() -> tuple[int, int]:
    """Two ports for the db and server roles, each with its next port (the role's control)
    free too; below Linux's ephemeral range (32768 up), where no client's own end of a
    connection can hold one."""
    rng = random.Random()
    while True:
        db, server = rng.randrange(20000, 32000, 2), rng.randrange(20000, 32000, 2)
        wanted = {db, db + 1, server, server + 1}
        if len(wanted) == 4 and all(port_is_free(port) for port in wanted):
            return db, server


def _ready(proc: Process, deadline_s: float = 60.0) -> None:
    proc.wait_until(lambda: "role ready" in proc.log_path.read_text(), deadline_s,
                    "saying it is ready")


@contextlib.contextmanager
def _roles(tmp_path, db_at, server_at, wrap=lambda role: [], extra=()):
    """The db and server roles, started and waited for; both stopped after."""
    db = Process("db role", [*wrap("db"), *PYTHON, "db-role", "--listen", db_at,
                             "--db-latency", "5", *extra], tmp_path / "db.log", cwd=ROOT)
    server = Process("server role", [*wrap("server"), *PYTHON, "server-role", "--stack",
                                     "sync", "--workers", "2", "--listen", server_at,
                                     "--db", db_at, *extra], tmp_path / "server.log",
                     cwd=ROOT)
    with db:
        _ready(db)
        with server:
            _ready(server)
            yield db, server


def _load(tmp_path, db_at, server_at, wrap=lambda role: [], extra=()):
    return subprocess.run([*wrap("load"), *PYTHON, "load-role", "--server", server_at, "--db",
                           db_at, "--duration", "3s", "--vus", "4", "--results-dir",
                           str(tmp_path / "runs"), *extra], cwd=ROOT, capture_output=True,
                          text=True, timeout=90, check=False)


def _drive(tmp_path, db_at, server_at, wrap=lambda role: [], extra=()) -> dict:
    results = tmp_path / "runs"
    done = _load(tmp_path, db_at, server_at, wrap, extra)
    assert done.returncode == 0, done.stderr
    [path] = results.glob("*.json")
    return json.loads(path.read_text())


def _check(record: dict, db_at: str, server_at: str) -> None:
    assert record["ok"], record["error"]
    assert record["stack"] == "sync" and record["db_latency_ms"] == 5
    assert record["roles"]["server"]["listen"] == server_at
    assert record["roles"]["db"]["listen"] == db_at
    assert {r["host"]["id"] for r in record["roles"].values()} == {record["host"]["id"]}
    assert record["probe"]["workers_running"] == 2 and not record["probe"]["contradictions"]
    assert record["usage"]["server"]["cpu_s"] > 0 and record["usage"]["fakedb"]["cpu_s"] > 0
    counted = sum(w["requests"] for w in record["probe"]["workers"])
    assert abs(counted - record["metrics"]["requests"]) <= record["vus"]


@pytest.mark.processes
def test_the_three_roles_on_loopback_make_one_record_naming_each(tmp_path):
    db_port, server_port = _role_ports()
    db_at, server_at = f"127.0.0.1:{db_port}", f"127.0.0.1:{server_port}"
    with _roles(tmp_path, db_at, server_at):
        record = _drive(tmp_path, db_at, server_at)
    _check(record, db_at, server_at)
    assert record["roles"]["load"]["listen"] == "127.0.0.1"


def _ip(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30,
                          check=False)


@pytest.fixture
def namespaces():
    """Three network namespaces (load, server, db), each with a veth link to a bridge in
    a fourth; yields {role: (namespace, address)}. All deleted after."""
    tag = secrets.token_hex(3)
    names = {role: f"pysb-{tag}-{role}" for role in ("bridge", "load", "server", "db")}
    try:
        made = _ip("netns", "add", names["bridge"])
    except FileNotFoundError:
        pytest.skip("no `ip` command (iproute2) to make network namespaces")
    if made.returncode != 0:
        pytest.skip(f"cannot make network namespaces here: {made.stderr.strip()}")
    hosts = {}
    try:
        bridge = ["-n", names["bridge"]]
        steps = [[*bridge, "link", "add", "br0", "type", "bridge"],
                 [*bridge, "link", "set", "br0", "up"]]
        for number, role in enumerate(("load", "server", "db"), start=1):
            ns, ip = names[role], f"10.231.7.{number}"
            assert _ip("netns", "add", ns).returncode == 0
            steps += [[*bridge, "link", "add", f"v{number}", "type", "veth", "peer", "name",
                       "eth0", "netns", ns],
                      [*bridge, "link", "set", f"v{number}", "master", "br0", "up"],
                      ["-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0"],
                      ["-n", ns, "link", "set", "eth0", "up"],
                      ["-n", ns, "link", "set", "lo", "up"]]
            hosts[role] = (ns, ip)
        for step in steps:
            done = _ip(*step)
            assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr}"
        yield hosts
    finally:
        for ns in names.values():
            _ip("netns", "del", ns)


@pytest.mark.processes
def test_the_three_roles_in_their_own_network_namespaces(tmp_path, namespaces):
    db_at, server_at = f"{namespaces['db'][1]}:8100", f"{namespaces['server'][1]}:8000"

    def wrap(role):
        return ["ip", "netns", "exec", namespaces[role][0]]

    token = tmp_path / "token"
    token.write_text(secrets.token_urlsafe(24) + "\n")
    given = ("--token-file", str(token))
    # nothing listens on these addresses outside the namespaces
    with _roles(tmp_path, db_at, server_at, wrap, given):
        refused = _load(tmp_path, db_at, server_at, wrap)  # beyond loopback: no token, no run
        assert refused.returncode == 2 and "401 Unauthorized" in refused.stderr
        started = time.monotonic()
        record = _drive(tmp_path, db_at, server_at, wrap, given)
    assert time.monotonic() - started < 60
    _check(record, db_at, server_at)
    assert record["roles"]["load"]["listen"] == namespaces["load"][1]
    assert record["placement"]["roles"]["db"].endswith(db_at)


@pytest.mark.processes
@pytest.mark.parametrize(("role", "signum"), [("server", signal.SIGTERM),
                                              ("db", signal.SIGINT)])
def test_a_role_stopped_by_a_signal_stops_what_it_started(tmp_path, role, signum):
    db_port, server_port = _role_ports()
    ports = {"db": db_port, "server": server_port}
    with _roles(tmp_path, f"127.0.0.1:{db_port}", f"127.0.0.1:{server_port}") as procs:
        proc = dict(zip(("db", "server"), procs, strict=True))[role]
        started = psutil.Process(proc.pid).children(recursive=True)
        assert started  # the fake DB, or the server and its workers
        os.kill(proc.pid, signum)  # the role alone, as Ctrl-C or a service manager would
        assert proc.popen.wait(timeout=30) == 0
        _, alive = psutil.wait_procs(started, timeout=10)
        assert alive == []
        assert f"{role} role stopped (interrupted by SIG" in proc.log_path.read_text()
        assert port_is_free(ports[role]) and port_is_free(ports[role] + 1)
