import asyncio
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import httpx
import pytest
from helpers import ROOT, start_fakedb

from fakedb.server import parse_head

pytestmark = pytest.mark.processes  # every test here starts real processes



def _port(url: str) -> int:
    return urlsplit(url).port


def _raw(url: str, payload: bytes) -> bytes:
    """Send raw bytes, read until the server closes or 2 s pass."""
    with socket.create_connection(("127.0.0.1", _port(url)), timeout=2) as sock:
        sock.sendall(payload)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_answers_json_with_a_random_number(fakedb_factory):
    url = fakedb_factory(0)
    numbers = {httpx.get(url).json()["number"] for _ in range(5)}
    assert all(isinstance(n, int) for n in numbers)
    assert len(numbers) > 1


def test_waits_the_given_latency(fakedb_factory):
    url = fakedb_factory(50)
    with httpx.Client() as client:
        client.get(url)  # connect first, so only the wait is timed
        start = time.perf_counter()
        answer = client.get(url)
        elapsed = time.perf_counter() - start
    assert answer.status_code == 200
    assert elapsed >= 0.050


def test_the_added_latency_has_an_upper_bound(fakedb_factory):
    # The fastest of five waits: a loaded machine can delay some, not all five.
    url = fakedb_factory(200)
    with httpx.Client() as client:
        client.get(url)
        waits = []
        for _ in range(5):
            start = time.perf_counter()
            assert client.get(url).status_code == 200
            waits.append(time.perf_counter() - start)
    assert 0.200 <= min(waits) < 0.300, waits


def test_waits_overlap_for_100_concurrent_requests(fakedb_factory):
    url = fakedb_factory(50)

    async def fetch_all() -> list[int]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(limits=limits, timeout=10) as client:
            answers = await asyncio.gather(*(client.get(url) for _ in range(100)))
        return [a.status_code for a in answers]

    start = time.perf_counter()
    statuses = asyncio.run(fetch_all())
    elapsed = time.perf_counter() - start
    assert statuses == [200] * 100
    assert elapsed < 1.0  # serial waits would take 5 s


def test_keep_alive_and_pipelined_requests_answer_in_order(fakedb_factory):
    url = fakedb_factory(5)
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    closing = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = _raw(url, request * 2 + closing)
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.rstrip().endswith(b"}")
    assert b"Connection: close" in data.split(b"HTTP/1.1 200 OK")[-1]


@pytest.mark.parametrize("payload", [
    b"garbage\r\n\r\n",
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 10000 + b"\r\n\r\n",
])
def test_malformed_or_oversized_requests_get_400_and_others_are_still_served(
        fakedb_factory, payload):
    url = fakedb_factory(0)
    assert _raw(url, payload).startswith(b"HTTP/1.1 400 Bad Request")
    assert httpx.get(url).status_code == 200


def test_parse_head_reads_keep_alive_and_body_length():
    assert parse_head(b"GET /x HTTP/1.1\r\nHost: a") == (b"GET", True, 0)
    assert parse_head(b"GET / HTTP/1.0") == (b"GET", False, 0)
    assert parse_head(b"GET / HTTP/1.0\r\nConnection: keep-alive") == (b"GET", True, 0)
    assert parse_head(b"POST / HTTP/1.1\r\nContent-Length: 3") == (b"POST", True, 3)
    assert parse_head(b"GET / HTTP/1.1\r\nContent-Length: x") is None


def _fakedb(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fakedb", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=20)


@pytest.mark.parametrize(("args", "named"), [
    (["--sleep", "-5"], "--sleep"), (["--sleep", "soon"], "--sleep"),
    (["--sleep", "1e12"], "--sleep"), (["--port", "0"], "--port"),
    (["--port", "70000"], "--port"),
])
def test_bad_options_fail_in_one_line(args, named):
    done = _fakedb(*args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert named in done.stderr


def test_a_taken_port_fails_in_one_line_naming_it(fakedb_factory):
    port = str(_port(fakedb_factory(0)))
    done = _fakedb("--port", port)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert port in done.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_ends_it_while_clients_keep_connections_open(tmp_path, signum):
    """A server under test holds kept-alive connections to the fake DB when we stop it
    (separate roles, the session's DB): the signal alone must end it, with exit code 0."""
    proc, url = start_fakedb(tmp_path, sleep_ms=50)
    address = ("127.0.0.1", _port(url))
    try:
        with socket.create_connection(address, timeout=2) as idle, \
                socket.create_connection(address, timeout=2) as waiting:
            idle.sendall(b"GET / HTTP/1.1\r\nHost: db\r\n\r\n")
            assert idle.recv(65536).startswith(b"HTTP/1.1 200")
            waiting.sendall(b"GET / HTTP/1.1\r\nHost: db\r\n\r\n")  # answered 50 ms later
            proc.popen.send_signal(signum)
            assert proc.popen.wait(timeout=8) == 0  # not the SIGKILL of our stop's grace
    finally:
        proc.stop()


def _rss(url: str) -> int:
    import psutil

    port = _port(url)
    [pid] = {c.pid for c in psutil.net_connections("tcp")
             if c.laddr and c.laddr.port == port and c.status == psutil.CONN_LISTEN}
    return psutil.Process(pid).memory_info().rss


def test_a_client_that_pipelines_and_never_reads_is_held_back_not_buffered(fakedb_factory):
    """Before back-pressure, 15 MB of such requests grew the fake DB by 90 MB."""
    url = fakedb_factory(0)
    before = _rss(url)
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    sent = 0
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # set before connect
        sock.connect(("127.0.0.1", _port(url)))
        sock.settimeout(1)
        chunk = request * 4096  # about 110 KB
        try:
            while sent < 15 * 2**20:
                sent += sock.send(chunk)
        except TimeoutError:
            pass  # the server stopped reading: our sends block, as they should
        grown = _rss(url) - before
        assert sent < 15 * 2**20, "every byte was taken: nothing held the client back"
        assert grown < 10 * 2**20, f"the fake DB grew by {grown / 2**20:.0f} MB"
        sock.settimeout(5)
        first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 OK")
    assert httpx.get(url).json()["number"] >= 0  # others are served meanwhile
