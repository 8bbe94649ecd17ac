"""The four apps in-process (Werkzeug and Starlette test clients, real fake DB), then
each stack's real server started from the stack table."""

import asyncio
import importlib
import json
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers import ROOT
from starlette.testclient import TestClient
from werkzeug.test import Client

from pyserverbench.harness.checks import PAGE_MARKERS, answers, check_app
from pyserverbench.harness.cleanroom import environment
from pyserverbench.harness.probe import read_workers
from pyserverbench.harness.procs import Process, free_port
from pyserverbench.matrix.stacks import STACKS

# Every test here talks to the session's fake DB or starts a server.
pytestmark = pytest.mark.processes

WSGI_APPS = ["apps.sync_app", "apps.donkey_patched_async_app"]
ASGI_APPS = ["apps.async_app", "apps.stupid_async_app"]


def _client(module_name: str):
    app = importlib.import_module(module_name).app
    if module_name in WSGI_APPS:
        return Client(app)
    return TestClient(app)


@pytest.fixture(params=WSGI_APPS + ASGI_APPS)
def client(request, session_db):
    client = _client(request.param)
    if isinstance(client, TestClient):
        with client:  # runs the lifespan, which opens the shared AsyncClient
            yield client
    else:
        yield client


def _text(response) -> str:
    return response.get_data(as_text=True) if hasattr(response, "get_data") else response.text


def test_index_renders_the_escaped_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = _text(response)
    for marker in PAGE_MARKERS:
        assert marker in page
    assert "<compared>" not in page


def test_api_returns_the_fake_db_number_with_a_success_message(client):
    response = client.get("/api")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = json.loads(_text(response))
    assert body["message"] == "success"
    assert isinstance(body["number"], int)
    assert set(body) == {"message", "number"}


def test_page_renders_a_table_of_the_rows_asked_for(client):
    page = _text(client.get("/page?rows=25"))
    assert page.count("<tr><td>") == 25 and "row &lt;25&gt;" in page
    assert _text(client.get("/page")) == _text(client.get("/"))  # no rows: the study's page
    assert _text(client.get("/page?rows=0")) == _text(client.get("/"))
    for bad in ("-1", "ten", "10001"):
        assert client.get(f"/page?rows={bad}").status_code == 400


def test_fanout_answers_one_number_per_fake_db_call(client):
    for calls, path in ((3, "/fanout"), (1, "/fanout?calls=1"), (7, "/fanout?calls=7")):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        body = json.loads(_text(response))
        assert body["message"] == "success" and len(body["numbers"]) == calls
        assert all(isinstance(n, int) for n in body["numbers"])
    for bad in ("0", "51", "x"):
        assert client.get(f"/fanout?calls={bad}").status_code == 400


def test_unknown_paths_are_404(client):
    assert client.get("/nope").status_code == 404


def test_all_apps_answer_the_same_page_and_payload_shape(session_db):
    pages, keys = set(), set()
    for name in WSGI_APPS + ASGI_APPS:
        client = _client(name)
        if isinstance(client, TestClient):
            with client:
                pages.add(client.get("/").text)
                keys.add(tuple(client.get("/api").json()))
        else:
            pages.add(client.get("/").get_data(as_text=True))
            keys.add(tuple(json.loads(client.get("/api").get_data(as_text=True))))
    assert len(pages) == 1
    assert keys == {("message", "number")}


@pytest.mark.parametrize("name", list(STACKS))
def test_each_stack_serves_the_apps_routes_on_what_it_declares(name, tmp_path, session_db):
    port = free_port()
    stack = STACKS[name]
    argv = stack.argv(sys.executable, "127.0.0.1", port, 1)
    probe_dir, room = tmp_path / "probe", tmp_path / "room"
    probe_dir.mkdir()
    room.mkdir()
    env = environment(room, ROOT, PYSERVERBENCH_DB_URL=session_db,
                      PYSERVERBENCH_PROBE_DIR=str(probe_dir))
    with Process(name, argv, tmp_path / "server.log", env=env, cwd=room) as server:
        server.wait_until(lambda: answers(f"http://127.0.0.1:{port}/"), 60, "answering")
        check_app(f"http://127.0.0.1:{port}")
        server.check_alive()
    [worker] = [w for w in read_workers(probe_dir).values() if "loop" in w]
    assert (worker["loop"], worker["parser"]) == (stack.loop, stack.parser)


def _time_concurrent_api_calls(stack_name: str, db_url: str, tmp_path: Path, calls: int,
                               path: str = "/api") -> float:
    """Seconds for `calls` concurrent GET path (default /api) on one worker of the stack."""
    port = free_port()
    room = tmp_path / stack_name
    room.mkdir()
    argv = STACKS[stack_name].argv(sys.executable, "127.0.0.1", port, 1)
    env = environment(room, ROOT, PYSERVERBENCH_DB_URL=db_url)
    with Process(stack_name, argv, tmp_path / f"{stack_name}.log", env=env, cwd=room) as server:
        server.wait_until(lambda: answers(f"http://127.0.0.1:{port}/"), 60, "answering")

        async def all_calls() -> list[int]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60,
                                         trust_env=False) as client:
                answers_ = await asyncio.gather(*(client.get(path) for _ in range(calls)))
            return [a.status_code for a in answers_]

        # one request first: a worker's first request pays for lazy imports and, in the
        # asyncio.run-per-request app, certificate loading, which is not what is timed
        assert httpx.get(f"http://127.0.0.1:{port}{path}", timeout=60,
                         trust_env=False).status_code == 200
        start = time.perf_counter()
        statuses = asyncio.run(all_calls())
        elapsed = time.perf_counter() - start
        server.check_alive()
    assert statuses == [200] * calls
    return elapsed


def test_the_async_apps_db_calls_overlap_and_the_blocking_ones_do_not(tmp_path,
                                                                        fakedb_factory):
    db_url = fakedb_factory(200)
    calls, serial = 10, 10 * 0.200
    overlapping = _time_concurrent_api_calls("uvicorn", db_url, tmp_path, calls)
    blocking = _time_concurrent_api_calls("stupid-async", db_url, tmp_path, calls)
    # Overlapping waits take about one wait (0.2 s); half the serial time leaves a wide
    # margin for a loaded machine. A blocking call cannot beat serial, however idle.
    assert overlapping < serial / 2, (overlapping, blocking)
    assert blocking >= serial * 0.95, (overlapping, blocking)


@pytest.mark.parametrize(("stack_name", "in_turn"), [
    ("sync", True), ("stupid-async", True), ("uvicorn", False), ("donkey-patched", False)])
def test_fanout_calls_overlap_only_where_the_app_awaits_them_together(stack_name, in_turn,
                                                                      tmp_path, fakedb_factory):
    db_url = fakedb_factory(200)
    elapsed = _time_concurrent_api_calls(stack_name, db_url, tmp_path, 1, "/fanout?calls=3")
    # Three calls in turn cannot take less than three waits (0.6 s); three overlapping
    # calls take about one (0.2 s), and 0.45 s leaves a wide margin for a loaded machine.
    if in_turn:
        assert elapsed >= 0.6, elapsed
    else:
        assert elapsed < 0.45, elapsed
