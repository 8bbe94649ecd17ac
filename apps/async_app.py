"""ASGI app: `/api` awaits a shared httpx.AsyncClient, opened and closed by the lifespan
(on PostgreSQL: a query on psycopg's AsyncConnectionPool, opened there too); `/fanout`
awaits its calls concurrently (asyncio.gather)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from apps import pg
from apps.asgi import json_response, make_app
from apps.common import DB_URL, api_body


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict]:
    if pg.ON_POSTGRES:
        async with pg.async_pool() as pool:
            yield {"db": pool}
        return
    async with httpx.AsyncClient() as client:
        yield {"db": client}


async def query_db(client) -> dict:  # noqa: ANN001 (an httpx client or a psycopg pool)
    if pg.ON_POSTGRES:
        return await pg.async_query(client)
    answer = await client.get(DB_URL)
    answer.raise_for_status()
    return answer.json()


async def api(request: Request) -> Response:
    return json_response(api_body(await query_db(request.state.db)))


async def fanout(request: Request, calls: int) -> list[dict]:
    return list(await asyncio.gather(*(query_db(request.state.db) for _ in range(calls))))


app = make_app(api, fanout, lifespan=lifespan)
