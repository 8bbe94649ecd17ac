"""Before the load: check that the server answers what every app must answer.

Every request here ignores the caller's proxy variables (`trust_env=False`): it must
reach the process on 127.0.0.1 that we started, nothing else."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from pyserverbench.harness.procs import log_tail

LOG_LINES = 6  # lines of the server's log shown with a path that did not answer 2xx

PAGE_MARKERS = ("<h1>pyserverbench</h1>", "Servers &lt;compared&gt; &amp; measured")


class CheckError(RuntimeError):
    """The app answered something other than what the apps must answer."""


def answers(url: str) -> bool:
    """True once something answers HTTP at url (any status)."""
    try:
        httpx.get(url, timeout=2.0, trust_env=False)
    except httpx.HTTPError:
        return False
    return True


def check_app(base_url: str) -> None:
    """Check `/`, `/api`, `/page`, `/fanout` and an unknown path; raise CheckError on the
    first mismatch."""
    with httpx.Client(base_url=base_url, timeout=10.0, trust_env=False) as client:
        page = _get(client, "/", 200, "text/html")
        for marker in PAGE_MARKERS:
            if marker not in page.text:
                raise CheckError(f"GET / lacks {marker!r}")
        api = _get(client, "/api", 200, "application/json")
        try:
            body = api.json()
        except ValueError:
            raise CheckError(f"GET /api is not JSON: {api.text[:80]!r}") from None
        if body.get("message") != "success" or not isinstance(body.get("number"), int):
            raise CheckError(f"GET /api answered {body!r}, not a success message and a number")
        table = _get(client, "/page?rows=3", 200, "text/html")
        if table.text.count("<tr><td>") != 3 or "row &lt;3&gt;" not in table.text:
            raise CheckError("GET /page?rows=3 lacks its table of 3 escaped rows")
        fanout = _get(client, "/fanout?calls=2", 200, "application/json")
        try:
            body = fanout.json()
            numbers = body.get("numbers") if isinstance(body, dict) else None
        except ValueError:
            raise CheckError(f"GET /fanout is not JSON: {fanout.text[:80]!r}") from None
        if not (isinstance(numbers, list) and len(numbers) == 2
                and all(isinstance(n, int) for n in numbers)):
            raise CheckError(f"GET /fanout?calls=2 answered {fanout.text[:80]!r}, not 2 numbers")
        _get(client, "/no-such-page", 404, None)


def check_paths(base_url: str, requests: list[tuple[str, str, Path | None]],
                log: Path) -> None:
    """Check that every request (method, path, JSON body file or None) of a user's app
    answers 2xx; on the first that does not, raise CheckError with its status and the
    lines the server logged for it."""
    with httpx.Client(base_url=base_url, timeout=30.0, trust_env=False) as client:
        for method, path, body in requests:
            offset = log.stat().st_size if log.exists() else 0
            sent = {} if body is None else {
                "content": body.read_bytes(), "headers": {"Content-Type": "application/json"}}
            try:
                answer = client.request(method, path, **sent)
            except httpx.HTTPError as exc:
                raise CheckError(f"{method} {path} failed: {exc!r}; server log: "
                                 f"{logged_since(log, offset)}") from None
            if not 200 <= answer.status_code < 300:
                raise CheckError(f"{method} {path} answered {answer.status_code}, not 2xx; "
                                 f"server log: {logged_since(log, offset)}")


def logged_since(log: Path, offset: int, settle_s: float = 0.3) -> str:
    """The first lines the server logged after `offset` (after a moment for it to
    write them), joined to fit one line; else the log's last lines."""
    time.sleep(settle_s)
    try:
        with open(log, errors="replace") as text:
            text.seek(offset)
            lines = [line.strip() for line in text if line.strip()]
    except OSError:
        lines = []
    if len(lines) > LOG_LINES:  # a traceback: where it starts, and how it ends
        lines = [*lines[:LOG_LINES - 2], "...", *lines[-2:]]
    if lines:
        return " | ".join(lines)
    return f"nothing new; its last lines: {log_tail(log, LOG_LINES) or '(empty)'}"


def check_db(url: str) -> None:
    """Check that the fake DB answers JSON with a number."""
    try:
        answer = httpx.get(url, timeout=10.0, trust_env=False)
        number = answer.json()["number"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise CheckError(f"fake DB at {url} did not answer a number: {exc}") from None
    if answer.status_code != 200 or not isinstance(number, int):
        raise CheckError(f"fake DB at {url} answered {answer.status_code} {answer.text[:80]!r}")


def _get(client: httpx.Client, path: str, status: int, content_type: str | None) -> httpx.Response:
    try:
        answer = client.get(path)
    except httpx.HTTPError as exc:
        raise CheckError(f"GET {path} failed: {exc!r}") from None
    if answer.status_code != status:
        raise CheckError(f"GET {path} answered {answer.status_code}, expected {status}: "
                         f"{answer.text[:80]!r}")
    kind = answer.headers.get("content-type", "")
    if content_type and not kind.startswith(content_type):
        raise CheckError(f"GET {path} has content-type {kind!r}, expected {content_type}")
    return answer
