"""ASGI app done wrong on purpose: `/api` is `async def` but makes a blocking call,
which stalls the event loop for the whole database wait (on PostgreSQL: a blocking
psycopg query from a ConnectionPool); `/fanout` makes its blocking calls one after
another, stalling the loop for all of them."""

import httpx
from starlette.requests import Request
from starlette.responses import Response

from apps import pg
from apps.asgi import json_response, make_app
from apps.common import DB_URL, api_body

client = httpx.Client()
pool = pg.SyncPool()


def query_db() -> dict:
    if pg.ON_POSTGRES:
        return pool.query()
    answer = client.get(DB_URL)
    answer.raise_for_status()
    return answer.json()


async def api(request: Request) -> Response:
    return json_response(api_body(query_db()))


async def fanout(request: Request, calls: int) -> list[dict]:
    return [query_db() for _ in range(calls)]


app = make_app(api, fanout)
