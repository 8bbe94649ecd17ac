"""A tiny Starlette shell shared by the two ASGI apps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from apps import probe
from apps.common import render_page


async def index(request: Request) -> Response:
    return HTMLResponse(render_page())


def json_response(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def make_app(api: Callable[[Request], Awaitable[Response]], lifespan=None) -> Callable:
    """Return an ASGI app serving `/` and the given `/api` view; 404 elsewhere."""
    return probe.asgi(Starlette(routes=[Route("/", index), Route("/api", api)],
                                lifespan=lifespan))
