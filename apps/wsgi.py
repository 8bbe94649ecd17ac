"""A tiny Werkzeug routing shell shared by the two WSGI apps."""

from __future__ import annotations

from collections.abc import Callable

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from apps import probe
from apps.common import render_page


def index(request: Request) -> Response:
    return Response(render_page(), mimetype="text/html")


def make_app(api: Callable[[Request], Response]) -> Callable:
    """Return a WSGI app serving `/` and the given `/api` view; 404 elsewhere."""
    urls = Map([Rule("/", endpoint=index), Rule("/api", endpoint=api)])

    @Request.application
    def app(request: Request) -> Response:
        try:
            view, _ = urls.bind_to_environ(request.environ).match()
        except HTTPException as error:
            return error  # type: ignore[return-value]
        return view(request)

    return probe.wsgi(app)
