"""A tiny Starlette shell shared by the two ASGI apps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

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


async def index(request: Request) -> Response:
    return HTMLResponse(render_page())


async def page(request: Request) -> Response:
    rows = query_count(request.query_params.get("rows"), 0, MAX_ROWS, 0)
    if rows is None:
        return PlainTextResponse(f"rows must be 0 to {MAX_ROWS}", status_code=400)
    return HTMLResponse(render_table_page(rows))


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def make_app(api: Callable[[Request], Awaitable[Response]],
             fanout: Callable[[Request, int], Awaitable[list[dict]]], lifespan=None) -> Callable:
    """Return an ASGI app serving `/`, `/page`, the given `/api` view and `/fanout`
    (whose `fanout(request, calls)` returns the fake DB's answers); 404 elsewhere."""

    async def fanout_view(request: Request) -> Response:
        calls = query_count(request.query_params.get("calls"), 1, MAX_CALLS, DEFAULT_CALLS)
        if calls is None:
            return PlainTextResponse(f"calls must be 1 to {MAX_CALLS}", status_code=400)
        return json_response(fanout_body(await fanout(request, calls)))

    routes = [Route("/", index), Route("/page", page), Route("/api", api),
              Route("/fanout", fanout_view)]
    return probe.asgi(Starlette(routes=routes, lifespan=lifespan))
