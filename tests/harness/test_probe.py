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
from pyserverbench.harness.probe import (
    NodelayReader,
    judge,
    probe_facts,
    read_workers,
    running,
    tcp_nodelay,
)


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


def _probe(workers=None, loop="uvloop", parser="httptools", requests=(50, 50), gil=None):
    entries = {100 + i: {"pid": 100 + i, "requests": n, "loop": loop, "parser": parser,
                         "gil_enabled": gil} for i, n in enumerate(requests)}
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


def test_on_a_free_threaded_python_a_worker_with_the_gil_on_is_a_contradiction():
    assert judge("uvloop", "httptools", 2, _probe(gil=False), 100, 10, True) == []
    for gil in (True, None):
        problems = judge("uvloop", "httptools", 2, _probe(gil=gil), 100, 10, True)
        assert len(problems) == 2 and "runs with the GIL enabled on a free-threaded" in \
            problems[0]
    assert judge("uvloop", "httptools", 2, _probe(gil=True), 100, 10) == []  # a GIL build


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


@pytest.mark.parametrize("copy", ["closed", "reused"])
def test_a_connection_that_closes_or_whose_descriptor_is_reused_is_skipped(monkeypatch, copy):
    import errno

    import pyserverbench.harness.probe as probe_module

    def closed(pid, fd):  # the descriptor was closed between the listing and the copy
        raise OSError(errno.EBADF, "Bad file descriptor")

    def reused(pid, fd):  # the number now names another socket
        return socket.socket()

    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)), listener.accept()[0]:
            monkeypatch.setattr(probe_module, "_grab_socket",
                                closed if copy == "closed" else reused)
            assert tcp_nodelay(os.getpid(), port) is None


def test_the_nodelay_reader_gives_up_after_its_tries(monkeypatch):
    import pyserverbench.harness.probe as probe_module

    calls = []
    monkeypatch.setattr(probe_module, "tcp_nodelay", lambda pid, *_: calls.append(pid))
    reader = NodelayReader([41], 8000, interval_s=0.0, tries=3)
    for _ in range(5):
        reader.tick()
    assert calls == [41, 41, 41] and reader.readings == {41: None}


def test_the_probe_part_of_a_record_has_every_field():
    before = {}
    after = {5: {"pid": 5, "requests": 7, "loop": "uvloop", "parser": "h11",
                 "gil_enabled": False},
             6: {"pid": 6, "requests": 3, "loop": "asyncio", "parser": "h11",
                 "gil_enabled": False}}
    probe = probe_facts(3, before, after, [6], {5: 1}, {5: False, 6: False}, "no pidfd")
    assert probe == {
        "workers_asked": 3, "workers_running": 1,
        "workers": [
            {**after[5], "requests": 7, "alive": False, "threads_peak": 1, "tcp_nodelay": False},
            {**after[6], "requests": 3, "alive": True, "threads_peak": None,
             "tcp_nodelay": False}],
        "spread": {"shares": [0.7, 0.3], "uneven": True},
        "loop": "mixed", "parser": "h11", "gil_enabled": False, "tcp_nodelay": False,
        "tcp_nodelay_error": "no pidfd"}
    assert probe_facts(1, {}, {}, [], {}, {}, None)["loop"] is None  # nobody stated it


def test_requests_in_flight_may_differ_by_one_per_user_not_more():
    probe = _probe(requests=(50, 50))
    assert judge("uvloop", "httptools", 2, probe, 110, 10) == []
    assert judge("uvloop", "httptools", 2, probe, 111, 10) == [
        "the server's workers counted 100 requests during the load, k6 counted 111"]
    assert judge("uvloop", "httptools", 2, probe, None, 10) == []  # k6 measured nothing
    silent = probe_facts(1, {}, {7: {"pid": 7, "requests": 0}}, [7], {}, {}, None)
    assert judge("none", "gunicorn", 1, silent, 0, 1) == [
        "no worker process stated what it runs on"]


def test_worker_files_being_written_are_skipped(tmp_path):
    (tmp_path / "10.count").write_bytes(b"\x05")  # a counter still being created
    (tmp_path / "11.count").write_bytes((9).to_bytes(8, "little"))
    (tmp_path / "11.json").write_text("{half")  # facts still being written
    (tmp_path / "12.count").write_bytes((4).to_bytes(8, "little"))
    (tmp_path / "12.json").write_text('{"loop": "none"}')
    assert read_workers(tmp_path) == {11: {"pid": 11, "requests": 9},
                                      12: {"pid": 12, "requests": 4, "loop": "none"}}


def test_the_nodelay_reader_reads_each_worker_once_then_stops_looking():
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        reader = NodelayReader([os.getpid()], port, interval_s=0.0)
        reader.tick()
        assert reader.readings == {os.getpid(): None}  # no connection yet
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = listener.accept()
            with accepted:
                accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                reader.tick()
                assert reader.readings == {os.getpid(): True}
                accepted.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
                reader.tick()
                assert reader.readings == {os.getpid(): True}  # read once, kept
    assert reader.error is None


def test_the_nodelay_reader_waits_its_interval_and_stops_at_an_error(monkeypatch):
    import pyserverbench.harness.probe as probe_module

    calls = []

    def failing(pid, port, found=None):
        calls.append((pid, port))
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(probe_module, "tcp_nodelay", failing)
    reader = NodelayReader([41, 42], 8000, interval_s=3600)
    reader.tick()
    assert calls == [(41, 8000)]  # stopped at the first error
    assert reader.error == "cannot read another process's socket: [Errno 1] Operation not permitted"
    reader.tick()
    assert len(calls) == 1
    quiet = NodelayReader([43], 8000, interval_s=3600)
    monkeypatch.setattr(probe_module, "tcp_nodelay", lambda pid, *_: calls.append(pid))
    quiet.tick()
    quiet.tick()  # within the interval: not read again
    assert calls[1:] == [43]


def test_workers_already_read_are_skipped_and_the_others_still_read(monkeypatch):
    import pyserverbench.harness.probe as probe_module

    calls = []
    monkeypatch.setattr(probe_module, "tcp_nodelay", lambda pid, *_: calls.append(pid))
    reader = NodelayReader([41, 42, 43], 8000, interval_s=0.0)
    reader.readings[41] = True
    reader.tick()
    assert calls == [42, 43]


def test_a_gone_process_holds_no_connection(tmp_path):
    gone = 2**22 + 12345  # above the kernel's pid limit
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)), listener.accept()[0]:
            assert tcp_nodelay(os.getpid(), port) is not None  # this process holds one
            assert tcp_nodelay(gone, port) is None


def test_unreadable_worker_facts_leave_the_count(tmp_path):
    (tmp_path / "13.count").write_bytes((2).to_bytes(8, "little"))
    (tmp_path / "13.json").mkdir()  # cannot be read as a file
    assert read_workers(tmp_path) == {13: {"pid": 13, "requests": 2}}
