"""A role's control endpoint (GET /facts, POST /start, POST /stop, as JSON), answered
to the load role only. Beyond loopback every request carries the role's token; always,
the Host header must name the endpoint and a browser's request (one with an Origin) is
refused, so a web page cannot drive a role. Reads time out, connections and bodies are
bounded, and a start or stop under way makes another wait its turn or get a 409."""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TOKEN_VARIABLE = "PYSERVERBENCH_ROLE_TOKEN"  # noqa: S105 (a name, not a token)
READ_TIMEOUT_S = 5.0
MAX_CONNECTIONS = 8
MAX_BODY = 1024


class TokenError(ValueError):
    """A token that cannot be used, in one line."""


def read_token(token_file: Path | None) -> str | None:
    """The token given: the first line of token_file, else $PYSERVERBENCH_ROLE_TOKEN,
    else None. Never from a command line, which every user of the host can read."""
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise TokenError(f"--token-file {token_file} cannot be read "
                             f"({type(exc).__name__})") from None
        if len(token) < 16:
            raise TokenError(f"--token-file {token_file} holds no token of 16 characters "
                             f"or more")
        return token
    return os.environ.get(TOKEN_VARIABLE) or None


def role_token(host: str, token_file: Path | None) -> tuple[str | None, bool]:
    """(the token this role requires, whether it was made here). One given is required
    anywhere; beyond loopback, one is made if none is given."""
    given = read_token(token_file)
    if given or ipaddress.ip_address(host).is_loopback:
        return given, False
    return secrets.token_urlsafe(24), True


def host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class BoundedServer(ThreadingHTTPServer):
    """A threading HTTP server that drops connections past MAX_CONNECTIONS at once."""

    daemon_threads = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.slots = threading.BoundedSemaphore(MAX_CONNECTIONS)

    def process_request(self, request: object, client_address: object) -> None:
        if not self.slots.acquire(blocking=False):
            self.shutdown_request(request)  # type: ignore[arg-type]
            return
        super().process_request(request, client_address)  # type: ignore[arg-type]

    def process_request_thread(self, request: object, client_address: object) -> None:
        try:
            super().process_request_thread(request, client_address)  # type: ignore[arg-type]
        finally:
            self.slots.release()


def control_server(host: str, port: int, routes: dict[tuple[str, str], Callable[[], dict]],
                   token: str | None, busy: threading.Lock) -> BoundedServer:
    """The endpoint on host:port for routes {(method, path): answer}; routes other than
    GET take `busy` while they run (a second at once gets 409)."""

    class Handler(BaseHTTPRequestHandler):
        timeout = READ_TIMEOUT_S  # a client that sends nothing loses its connection

        def _refusal(self) -> tuple[int, str] | None:
            length = self.headers.get("Content-Length", "0")
            if not length.isdigit() or int(length) > MAX_BODY or \
                    self.headers.get("Transfer-Encoding"):
                return 413, f"a body of at most {MAX_BODY} bytes, with a Content-Length"
            self.rfile.read(int(length))
            if self.headers.get("Origin") is not None:
                return 403, "a browser's request (it has an Origin) is refused"
            expected = host_header(host, self.server.server_address[1])
            if self.headers.get("Host") != expected:
                return 421, f"the Host header must be {expected}"
            if token is not None:
                given = self.headers.get("Authorization", "")
                if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                    return 401, "this role needs its token (Authorization: Bearer ...)"
            return None

        def _answer(self, method: str) -> None:
            refused = self._refusal()
            route = routes.get((method, self.path))
            if refused:
                status, body = refused[0], {"error": refused[1]}
            elif route is None:
                status, body = 404, {"error": "no such route"}
            else:
                status, body = self._run(method, route)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if refused:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def _run(self, method: str, route: Callable[[], dict]) -> tuple[int, dict]:
            if method == "GET":
                return 200, route()
            if not busy.acquire(blocking=False):
                return 409, {"error": "a start or stop is under way: ask again after it"}
            try:
                return 200, route()
            except ValueError as exc:
                return 409, {"error": str(exc)}
            finally:
                busy.release()

        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            self._answer("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._answer("POST")

        def log_message(self, *args: object) -> None:
            pass

    return BoundedServer((host, port), Handler)
