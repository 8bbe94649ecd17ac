"""WSGI app: `/api` makes a blocking call on a shared httpx.Client."""

import httpx
from werkzeug.wrappers import Request, Response

from apps.common import DB_URL, api_body
from apps.wsgi import make_app

client = httpx.Client()


def api(request: Request) -> Response:
    answer = client.get(DB_URL)
    answer.raise_for_status()
    return Response(api_body(answer.json()), mimetype="application/json")


app = make_app(api)
