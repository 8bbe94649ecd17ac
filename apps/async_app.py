"""ASGI app: `/api` awaits a shared httpx.AsyncClient, opened and closed by the lifespan."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from apps.asgi import json_response, make_app
from apps.common import DB_URL, api_body


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[dict]:
    async with httpx.AsyncClient() as client:
        yield {"db": client}


async def api(request: Request) -> Response:
    answer = await request.state.db.get(DB_URL)
    answer.raise_for_status()
    return json_response(api_body(answer.json()))


app = make_app(api, lifespan=lifespan)
