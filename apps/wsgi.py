"""A tiny Werkzeug routing shell shared by the two WSGI apps."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from apps import probe
from apps.common import (
    DEFAULT_CALLS,
    MAX_CALLS,
    MAX_ROWS,
    fanout_body,
    query_count,
    render_page,
    render_table_page,
)


def index(request: Request) -> Response:
    return Response(render_page(), mimetype="text/html")


def page(request: Request) -> Response:
    rows = query_count(request.args.get("rows"), 0, MAX_ROWS, 0)
    if rows is None:
        return Response(f"rows must be 0 to {MAX_ROWS}", status=400)
    return Response(render_table_page(rows), mimetype="text/html")


def make_app(api: Callable[[Request], Response],
             fanout: Callable[[int], list[dict]]) -> Callable:
    """Return a WSGI app serving `/`, `/page`, the given `/api` view and `/fanout`
    (whose `fanout(calls)` returns the fake DB's answers); 404 elsewhere."""

    def fanout_view(request: Request) -> Response:
        calls = query_count(request.args.get("calls"), 1, MAX_CALLS, DEFAULT_CALLS)
        if calls is None:
            return Response(f"calls must be 1 to {MAX_CALLS}", status=400)
        return Response(fanout_body(fanout(calls)), mimetype="application/json")

    urls = Map([Rule("/", endpoint=index), Rule("/page", endpoint=page),
                Rule("/api", endpoint=api), Rule("/fanout", endpoint=fanout_view)])

    @Request.application
    def app(request: Request) -> Response:
        try:
            view, _ = urls.bind_to_environ(request.environ).match()
        except HTTPException as error:
            return error  # type: ignore[return-value]
        return view(request)

    return probe.wsgi(app)
