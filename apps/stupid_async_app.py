"""ASGI app done wrong on purpose: `/api` is `async def` but makes a blocking call,
which stalls the event loop for the whole database wait."""

import httpx
from starlette.requests import Request
from starlette.responses import Response

from apps.asgi import json_response, make_app
from apps.common import DB_URL, api_body

client = httpx.Client()


async def api(request: Request) -> Response:
    answer = client.get(DB_URL)
    answer.raise_for_status()
    return json_response(api_body(answer.json()))


app = make_app(api)
