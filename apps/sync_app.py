"""WSGI app: `/api` makes a blocking call on a shared httpx.Client (on PostgreSQL: a
query on a connection of the worker's psycopg ConnectionPool); `/fanout` makes its calls
one after another, as plain sync code does."""

import httpx
from werkzeug.wrappers import Request, Response

from apps import pg
from apps.common import DB_URL, api_body
from apps.wsgi import make_app

client = httpx.Client()
pool = pg.SyncPool()


def query_db() -> dict:
    if pg.ON_POSTGRES:
        return pool.query()
    answer = client.get(DB_URL)
    answer.raise_for_status()
    return answer.json()


def api(request: Request) -> Response:
    return Response(api_body(query_db()), mimetype="application/json")


def fanout(calls: int) -> list[dict]:
    return [query_db() for _ in range(calls)]


app = make_app(api, fanout)
