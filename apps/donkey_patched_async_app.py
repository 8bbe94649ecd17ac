"""WSGI app: `/api` runs async code with a fresh event loop per request.

This is how WSGI frameworks (Flask, Django under WSGI) run `async def` views.
"""

import asyncio

import httpx
from werkzeug.wrappers import Request, Response

from apps.common import DB_URL, api_body
from apps.wsgi import make_app


async def fetch() -> dict:
    async with httpx.AsyncClient() as client:
        answer = await client.get(DB_URL)
        answer.raise_for_status()
        return answer.json()


def api(request: Request) -> Response:
    return Response(api_body(asyncio.run(fetch())), mimetype="application/json")


app = make_app(api)
