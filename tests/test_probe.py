"""The probe: what the workers write about themselves, what we read from outside, and the
verdict on a run whose server contradicts its stack."""

import os
import socket

import pytest
from starlette.testclient import TestClient
from werkzeug.test import Client

import apps.probe
from apps.async_app import app as async_app
from apps.sync_app import app as sync_app
from pyserverbench.probe import judge, probe_facts, read_workers, running, tcp_nodelay


@pytest.fixture
def probe_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(apps.probe.PROBE_DIR_VARIABLE, str(tmp_path))
    monkeypatch.setattr(apps.probe, "_worker", None)
    return tmp_path


def test_a_wsgi_worker_counts_its_requests_and_states_its_facts(probe_dir):
    client = Client(sync_app)
    for _ in range(3):
        assert client.get("/").status_code == 200
    [(pid, worker)] = read_workers(probe_dir).items()
    assert worker["requests"] == 3
    assert worker["pid"] == pid
    assert worker["loop"] == "none"  # plain WSGI: no event loop drives the request
    assert worker["parser"] == "unknown"  # no server on the stack, only the test client


def test_an_asgi_worker_reports_the_running_loop(probe_dir):
    with TestClient(async_app) as client:
        assert client.get("/").status_code == 200
        assert client.get("/nowhere").status_code == 404
    [worker] = read_workers(probe_dir).values()
    assert worker["requests"] == 2
    assert (worker["loop"], worker["loop_class"].split(".")[0]) == ("asyncio", "asyncio")


def test_without_the_variable_the_probe_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(apps.probe.PROBE_DIR_VARIABLE, raising=False)
    monkeypatch.setattr(apps.probe, "_worker", None)
    assert Client(sync_app).get("/").status_code == 200
    assert apps.probe._worker is None


def test_the_parser_is_named_by_the_server_frames_on_the_stack():
    # a frame's module is its globals' __name__: make a frame that claims uvicorn's h11 code
    frame_globals = {"__name__": "uvicorn.protocols.http.h11_impl",
                     "parser_on_stack": apps.probe.parser_on_stack}
    exec("def serve():\n    return parser_on_stack()\n", frame_globals)  # noqa: S102
    parser, modules = frame_globals["serve"]()
    assert parser == "h11"
    assert "uvicorn.protocols.http.h11_impl" in modules


def test_a_worker_that_died_is_not_running():
    workers = {10: {"pid": 10, "requests": 5}, 11: {"pid": 11, "requests": 4}}
    assert running(workers, {1, 10}) == [10]


def _probe(workers=None, loop="uvloop", parser="httptools", requests=(50, 50)):
    entries = {100 + i: {"pid": 100 + i, "requests": n, "loop": loop, "parser": parser,
                         "gil_enabled": None} for i, n in enumerate(requests)}
    alive = sorted(entries)[:workers] if workers else sorted(entries)
    return probe_facts(2, {}, entries, alive, {}, {}, None)


def test_a_probe_that_matches_the_stack_has_no_contradiction():
    assert judge("uvloop", "httptools", 2, _probe(), 100, 10) == []


@pytest.mark.parametrize(("probe", "k6", "found"), [
    (_probe(workers=1), 100, "1 of 2 worker processes running"),
    (_probe(requests=(50, 50, 0)), 100, "3 of 2 worker processes running"),
    (_probe(loop="asyncio"), 100, "runs loop asyncio, the stack declares uvloop"),
    (_probe(parser="h11"), 100, "runs parser h11, the stack declares httptools"),
    (_probe(), 200, "counted 100 requests during the load, k6 counted 200"),
])
def test_a_probe_that_contradicts_the_stack_is_named(probe, k6, found):
    problems = judge("uvloop", "httptools", 2, probe, k6, 10)
    assert any(found in p for p in problems), problems


def test_a_server_where_no_worker_stated_its_facts_is_a_contradiction():
    probe = probe_facts(1, {}, {7: {"pid": 7, "requests": 0}}, [7], {}, {}, None)
    assert "no worker process stated" in judge("none", "gunicorn", 1, probe, 0, 1)[0]


def test_requests_are_those_of_the_load_and_their_spread_is_reported():
    before = {1: {"pid": 1, "requests": 3}, 2: {"pid": 2, "requests": 0}}
    after = {1: {"pid": 1, "requests": 83, "loop": "none", "parser": "gunicorn",
                 "gil_enabled": True},
             2: {"pid": 2, "requests": 20, "loop": "none", "parser": "gunicorn",
                 "gil_enabled": True}}
    probe = probe_facts(2, before, after, [1, 2], {1: 3, 2: 2}, {1: True, 2: None}, None)
    assert [w["requests"] for w in probe["workers"]] == [80, 20]
    assert probe["spread"] == {"shares": [0.8, 0.2], "uneven": True}
    assert [w["threads_peak"] for w in probe["workers"]] == [3, 2]
    assert (probe["loop"], probe["parser"], probe["gil_enabled"]) == ("none", "gunicorn", True)
    assert probe["tcp_nodelay"] is True


@pytest.mark.parametrize("nodelay", [0, 1])
def test_tcp_nodelay_is_read_from_the_accepted_side_of_a_live_connection(nodelay):
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1 - nodelay)
            accepted, _ = listener.accept()
            with accepted:
                accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, nodelay)
                assert tcp_nodelay(os.getpid(), port) is bool(nodelay)
        assert tcp_nodelay(os.getpid(), port) is None  # no connection left


def test_a_connection_that_closes_while_being_read_is_skipped_not_an_error(monkeypatch):
    import errno

    import pyserverbench.probe as probe_module

    class ClosedMeanwhile(socket.socket):  # what a copy of a just-closed connection does
        def getpeername(self):
            raise OSError(errno.ENOTCONN, "Transport endpoint is not connected")

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)), listener.accept()[0]:
            monkeypatch.setattr(probe_module, "_grab_socket",
                                lambda pid, fd: ClosedMeanwhile(fileno=os.dup(fd)))
            assert tcp_nodelay(os.getpid(), port) is None
