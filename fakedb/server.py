"""The fake database server.

Each request waits `--sleep` milliseconds on an event-loop timer (so waits
overlap), then gets a small JSON body with a random number. Keep-alive and
pipelining are supported; malformed or oversized requests get 400 and the
connection is closed. Standard library only, so it runs in any environment.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import selectors
import signal
import sys
from collections import deque
from collections.abc import Callable
from typing import NoReturn

MAX_HEAD = 8192
MAX_BODY = 65536
# Answers one connection may have waiting (pipelined, not yet written). Past this, or
# while the client does not read what was written, the connection is not read from: what
# a connection holds stays bounded, and the client's sends block instead.
MAX_PENDING = 64


def _response(status: bytes, body: bytes, keep_alive: bool) -> bytes:
    return b"".join((
        b"HTTP/1.1 ", status,
        b"\r\nContent-Type: application/json\r\nContent-Length: ", str(len(body)).encode(),
        b"\r\nConnection: ", b"keep-alive" if keep_alive else b"close",
        b"\r\n\r\n", body,
    ))


def parse_head(head: bytes) -> tuple[bytes, bool, int] | None:
    """Parse a request head into (method, keep_alive, body length); None if malformed."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    if not method.isalpha() or not target.startswith(b"/"):
        return None
    if version == b"HTTP/1.1":
        keep_alive = True
    elif version == b"HTTP/1.0":
        keep_alive = False
    else:
        return None
    length = 0
    for line in lines[1:]:
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            return None
        name = name.lower()
        value = value.strip().lower()
        if name == b"connection":
            if value == b"close":
                keep_alive = False
            elif value == b"keep-alive":
                keep_alive = True
        elif name == b"content-length":
            if not value.isdigit() or int(value) > MAX_BODY:
                return None
            length = int(value)
        elif name == b"transfer-encoding":
            return None
    return method, keep_alive, length


class FakeDB(asyncio.Protocol):
    """One connection: parse requests, answer each after the delay, in order."""

    def __init__(self, delay: float, open_now: set[FakeDB]) -> None:
        self.delay = delay
        self.open_now = open_now
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.pending: deque[list] = deque()
        self.done = False
        self.writing_paused = False  # the client is not reading what we wrote

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.open_now.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open_now.discard(self)
        self.done = True
        self.pending.clear()

    def pause_writing(self) -> None:
        self.writing_paused = True
        self._hold()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._parse()

    def _hold(self) -> None:
        """Stop reading while answers pile up or the client reads none (pausing and
        resuming a transport that already is, or is closing, does nothing)."""
        self.transport.pause_reading()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._parse()

    def _parse(self) -> None:
        """Take the buffered requests, as many as the connection may hold; then read on,
        or hold."""
        while not self.done:
            if self.writing_paused or len(self.pending) >= MAX_PENDING:
                self._hold()
                return
            end = self.buffer.find(b"\r\n\r\n")
            if end == -1 or end > MAX_HEAD:
                if end > MAX_HEAD or len(self.buffer) > MAX_HEAD:
                    self._reply_now(_response(b"400 Bad Request", b'{"error":"too large"}', False))
                    return
                break  # the rest of the head is still to come
            request = parse_head(self.buffer[:end])
            if request is None:
                self._reply_now(_response(b"400 Bad Request", b'{"error":"malformed"}', False))
                return
            method, keep_alive, length = request
            if len(self.buffer) < end + 4 + length:
                break  # the rest of the body is still to come
            self.buffer = self.buffer[end + 4 + length:]
            if method != b"GET":
                body = b'{"error":"method not allowed"}'
                self._reply_now(_response(b"405 Method Not Allowed", body, keep_alive))
                continue
            self._reply_later(keep_alive)
        if not self.done:
            self.transport.resume_reading()

    def _reply_later(self, keep_alive: bool) -> None:
        slot: list = [None, keep_alive]
        self.pending.append(slot)
        if not keep_alive:
            self.done = True
        if self.delay > 0:
            self.loop.call_at(self.loop.time() + self.delay, self._fill, slot)
        else:
            self._fill(slot)

    def _reply_now(self, response: bytes) -> None:
        keep_alive = b"Connection: keep-alive" in response
        self.pending.append([response, keep_alive])
        if not keep_alive:
            self.done = True
        self._flush()

    def _fill(self, slot: list) -> None:
        body = b'{"number":%d}' % random.getrandbits(20)
        slot[0] = _response(b"200 OK", body, slot[1])
        self._flush()

    def _flush(self) -> None:
        transport = self.transport
        while self.pending and self.pending[0][0] is not None:
            response, keep_alive = self.pending.popleft()
            if transport is None or transport.is_closing():
                return
            transport.write(response)
            if not keep_alive:
                transport.close()
                return
        if not transport.is_reading() and not transport.is_closing():  # held back
            self._parse()


async def serve(host: str, port: int, sleep_ms: float) -> None:
    """Serve until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    open_now: set[FakeDB] = set()
    server = await loop.create_server(
        lambda: FakeDB(sleep_ms / 1000, open_now), host, port, backlog=2048,
        reuse_address=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"fakedb: listening on http://{host}:{port}/ with {sleep_ms:g} ms latency", flush=True)
    async with server:
        await stop.wait()
        # From Python 3.12 on, leaving `async with server` waits for every connection to
        # close: a client's kept-alive connection would hold the stop forever.
        server.close()
        for connection in list(open_now):
            connection.transport.close()


class _Parser(argparse.ArgumentParser):
    """Errors in one line (the fake DB imports nothing of the harness)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def _number(kind: type, name: str, low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not low <= value <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"{text!r} is not a {name} from {low:g} to "
                                             f"{high:g}")
        return value
    return parse


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = _Parser(prog="python -m fakedb", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=_number(int, "whole number", 1, 65535), default=6161,
                        help="port to bind (default 6161)")
    parser.add_argument("--sleep", type=_number(float, "number", 0, 60_000), default=0.0,
                        help="latency per request in milliseconds (default 0 = none)")
    return parser.parse_args(argv)


class PreciseEpollSelector(selectors.EpollSelector):
    """epoll rounds its timeout up to whole milliseconds, so plain asyncio timers fire up
    to 1 ms late. This selector rounds down instead: the loop wakes early and polls
    without blocking for the sub-millisecond rest, so a timer fires within microseconds."""

    def select(self, timeout: float | None = None) -> list:
        if timeout is not None and timeout > 0:
            whole_ms = math.floor(timeout * 1000)
            timeout = max(0.0, (whole_ms - 0.01) / 1000)  # epoll's ceiling gives whole_ms
        return super().select(timeout)


def new_loop() -> asyncio.AbstractEventLoop:
    """An event loop with precise timers where epoll exists, else the default one."""
    if hasattr(selectors, "EpollSelector"):
        return asyncio.SelectorEventLoop(PreciseEpollSelector())
    return asyncio.new_event_loop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    loop = new_loop()
    try:
        loop.run_until_complete(serve(args.host, args.port, args.sleep))
    except OSError as exc:
        print(f"fakedb: error: cannot listen on {args.host}:{args.port}: {exc.strerror}",
              file=sys.stderr)
        return 1
    finally:
        loop.close()
    return 0
