"""The checks before the load, against a real HTTP server on 127.0.0.1 in this process
whose answers each test chooses."""

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from helpers import serving

from pyserverbench.harness.checks import PAGE_MARKERS, CheckError, answers, check_app, check_db
from pyserverbench.harness.procs import free_port

PAGE = f"<html>{PAGE_MARKERS[0]}<p>{PAGE_MARKERS[1]}</p></html>"
GOOD = {
    "/": (200, "text/html; charset=utf-8", PAGE),
    "/api": (200, "application/json", json.dumps({"message": "success", "number": 7})),
    "/page?rows=3": (200, "text/html", PAGE + "<tr><td>1<tr><td>2<tr><td>3 row &lt;3&gt;"),
    "/fanout?calls=2": (200, "application/json", '{"message": "success", "numbers": [4, 5]}'),
}
TABLE, FANOUT = "/page?rows=3", "/fanout?calls=2"


class _Handler(BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        status, kind, body = self.routes.get(self.path, (404, "text/plain", "not found"))
        data = body.encode()
        self.send_response(status)
        if kind:
            self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator:
    """Serve the given routes on 127.0.0.1; returns a function that sets them."""
    handler = type("Handler", (_Handler,), {"routes": dict(GOOD)})
    with serving(handler) as base_url:

        def serve(paths: dict | None = None, **changes: tuple) -> str:
            handler.routes = {**GOOD, **{"/" + k.replace("root", "").replace("_", "-"): v
                                         for k, v in changes.items()}, **(paths or {})}
            return base_url

        yield serve


def test_an_app_that_answers_as_the_apps_must_passes(site, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # ignored: we talk to our server
    monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")
    check_app(site())


@pytest.mark.parametrize(("changes", "message"), [
    ({"root": (500, "text/html", PAGE)}, "GET / answered 500, expected 200: '<html>"),
    ({"api": (503, "application/json", '{"message": "success", "number": 1}')},
     "GET /api answered 503, expected 200"),
    ({"api": (502, "text/plain", "bad gateway")}, "GET /api answered 502"),
    ({"root": (200, "text/plain", PAGE)},
     "GET / has content-type 'text/plain', expected text/html"),
    ({"root": (200, "text/html", PAGE.replace(PAGE_MARKERS[1], ""))},
     f"GET / lacks {PAGE_MARKERS[1]!r}"),
    ({"root": (200, "text/html", PAGE.replace(PAGE_MARKERS[0], ""))},
     f"GET / lacks {PAGE_MARKERS[0]!r}"),
    ({"api": (200, "application/json", "<h1>oops</h1>")},
     "GET /api is not JSON: '<h1>oops</h1>'"),
    ({"api": (200, "text/html", '{"message": "success", "number": 1}')},
     "GET /api has content-type 'text/html', expected application/json"),
    ({"api": (200, "application/json", '{"message": "failure", "number": 1}')},
     "GET /api answered {'message': 'failure', 'number': 1}, not a success message"),
    ({"api": (200, "application/json", '{"message": "success", "number": "1"}')},
     "not a success message and a number"),
    ({"root": (200, None, PAGE)}, "GET / has content-type '', expected text/html"),
    ({"api": (500, "text/plain", "z" * 200)},
     "GET /api answered 500, expected 200: '" + "z" * 80 + "'"),
    ({"api": (200, "application/json", "z" * 200)}, "is not JSON: '" + "z" * 80 + "'"),
    ({"no_such_page": (200, "text/html", PAGE)},
     "GET /no-such-page answered 200, expected 404"),
])
def test_an_app_that_answers_otherwise_is_refused_naming_what(site, changes, message):
    with pytest.raises(CheckError) as caught:
        check_app(site(**changes))
    assert message in str(caught.value)
    assert "z" * 81 not in str(caught.value)  # a long answer is cut to its first 80 characters


@pytest.mark.parametrize(("paths", "message"), [
    ({TABLE: (200, "text/html", PAGE + "<tr><td>1<tr><td>2 row &lt;3&gt;")},
     "GET /page?rows=3 lacks its table of 3 escaped rows"),
    ({TABLE: (200, "text/html", PAGE + "<tr><td>1<tr><td>2<tr><td>3 row <3>")},
     "lacks its table of 3 escaped rows"),
    ({TABLE: (404, "text/plain", "not found")}, "GET /page?rows=3 answered 404, expected 200"),
    ({FANOUT: (200, "application/json", '{"message": "success", "numbers": [4]}')},
     "GET /fanout?calls=2 answered"),
    ({FANOUT: (200, "application/json", '{"numbers": [4, "5"]}')}, "not 2 numbers"),
    ({FANOUT: (200, "application/json", "[4, 5]")}, "answered '[4, 5]', not 2 numbers"),
    ({FANOUT: (200, "application/json", "oops")}, "GET /fanout is not JSON: 'oops'"),
])
def test_the_page_table_and_the_fanout_are_checked_too(site, paths, message):
    with pytest.raises(CheckError) as caught:
        check_app(site(paths))
    assert message in str(caught.value)


def test_an_app_that_does_not_answer_is_refused():
    with pytest.raises(CheckError, match=r"GET / failed: ConnectError"):
        check_app(f"http://127.0.0.1:{free_port()}")


def test_answers_is_true_for_any_http_status_and_false_without_a_server(site, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    assert answers(site(root=(500, "text/plain", "error")) + "/")
    assert not answers(f"http://127.0.0.1:{free_port()}/")


def test_the_fake_db_check_wants_a_200_with_a_number(site, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    check_db(site(root=(200, "application/json", '{"number": 5}')) + "/")
    bad = [
        ((500, "application/json", '{"number": 5}'), "answered 500 '{\"number\": 5}'"),
        ((503, "application/json", '{"number": 5, "pad": "' + "z" * 200 + '"}'),
         "z" * 58 + "'"),  # the first 80 characters
        ((200, "application/json", '{"number": "5"}'), "answered 200"),
        ((200, "application/json", "[5]"), "did not answer a number"),
        ((200, "application/json", "{}"), "did not answer a number"),
        ((200, "text/plain", "five"), "did not answer a number"),
    ]
    for answer, message in bad:
        url = site(root=answer) + "/"
        with pytest.raises(CheckError) as caught:
            check_db(url)
        assert f"fake DB at {url}" in str(caught.value) and message in str(caught.value)
        assert "z" * 59 not in str(caught.value)
    url = f"http://127.0.0.1:{free_port()}/"
    with pytest.raises(CheckError, match="did not answer a number"):
        check_db(url)
