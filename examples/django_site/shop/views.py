"""The shop's views, as a Django app makes its calls. Two pages need no database (a
template, a JSON list); `/api/order` is a sync view that makes three database calls in
turn, `/api/dashboard` an async view that makes its three at once, and `/api/stock` an
async view that awaits 10 ms. Their "database" is the benchmark's fake DB at
$PYSERVERBENCH_DB_URL: each call waits `--db-latency` ms, as a query would. With
`--db postgres --db-setup setup.sql`, `/api/products` (sync) and `/api/in-stock` (async)
query a real PostgreSQL through Django's ORM."""

import asyncio
import os
import ssl

import httpx
from django.http import JsonResponse
from django.shortcuts import render

ITEMS = [{"id": n, "name": f"item <{n}>", "price": n * 3} for n in range(20)]
DB_URL = os.environ.get("PYSERVERBENCH_DB_URL", "http://127.0.0.1:6161/")
CALLS = ("customer", "basket", "stock")

# One client for the process's threads, kept alive between requests, as a sync view's
# database connection is.
client = httpx.Client()
# Django has no ASGI lifespan to keep an async client in, so each async request opens
# its own; it shares one TLS context, which costs about 30 ms to build.
TLS = ssl.create_default_context()


def index(request):
    return render(request, "shop/index.html", {"items": ITEMS})


def items(request):
    return JsonResponse({"items": ITEMS})


def order(request):
    found = {name: client.get(DB_URL).raise_for_status().json()["number"]
             for name in CALLS}
    return JsonResponse(found)


async def dashboard(request):
    async with httpx.AsyncClient(verify=TLS) as session:
        answers = await asyncio.gather(*(session.get(DB_URL) for _ in CALLS))
    return JsonResponse({name: answer.raise_for_status().json()["number"]
                         for name, answer in zip(CALLS, answers, strict=True)})


async def stock(request):
    await asyncio.sleep(0.01)  # a remote call an async view would await
    return JsonResponse({"in_stock": len(ITEMS)})


# On PostgreSQL (`--db postgres --db-setup setup.sql`): real queries through the ORM.
LATENCY_S = float(os.environ.get("PYSERVERBENCH_DB_LATENCY_MS", "0")) / 1000


def products(request):
    """A sync view: a slow report query (pg_sleep stands in for its cost), then a page
    of products, on this thread's connection."""
    from django.db import connection

    from shop.models import Product

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(%s)", [LATENCY_S])
    cheap = Product.objects.filter(price__lt=60).order_by("price")[:10]
    return JsonResponse({"products": [{"name": p.name, "price": p.price} for p in cheap]})


async def in_stock(request):
    """An async view: the async ORM counts and lists what is in stock."""
    from shop.models import Product

    count = await Product.objects.filter(stock__gt=0).acount()
    first = [p.name async for p in Product.objects.filter(stock__gt=0).order_by("id")[:5]]
    return JsonResponse({"in_stock": count, "first": first})
