"""WSGI app: `/api` runs async code with a fresh event loop per request.

This is how WSGI frameworks (Flask, Django under WSGI) run `async def` views. `/fanout`
gathers its calls inside its one `asyncio.run`, so they overlap: the case the study
says this pattern is for. On PostgreSQL each call opens its own connection (a pool
cannot outlive the loop it was made in), as such code must.
"""

import asyncio

import httpx
from werkzeug.wrappers import Request, Response

from apps import pg
from apps.common import DB_URL, api_body
from apps.wsgi import make_app


async def query_db(client: httpx.AsyncClient) -> dict:
    answer = await client.get(DB_URL)
    answer.raise_for_status()
    return answer.json()


async def fetch(calls: int) -> list[dict]:
    if pg.ON_POSTGRES:
        return list(await asyncio.gather(*(pg.fresh_query() for _ in range(calls))))
    async with httpx.AsyncClient() as client:
        return list(await asyncio.gather(*(query_db(client) for _ in range(calls))))


def api(request: Request) -> Response:
    [answer] = asyncio.run(fetch(1))
    return Response(api_body(answer), mimetype="application/json")


def fanout(calls: int) -> list[dict]:
    return asyncio.run(fetch(calls))


app = make_app(api, fanout)
