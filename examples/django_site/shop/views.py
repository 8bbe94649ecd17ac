"""Three views: a template page, a JSON list (both sync) and Django's own async view,
which waits 10 ms on a stand-in for a remote call."""

import asyncio

from django.http import JsonResponse
from django.shortcuts import render

ITEMS = [{"id": n, "name": f"item <{n}>", "price": n * 3} for n in range(20)]


def index(request):
    return render(request, "shop/index.html", {"items": ITEMS})


def items(request):
    return JsonResponse({"items": ITEMS})


async def stock(request):
    await asyncio.sleep(0.01)  # a remote call an async view would await
    return JsonResponse({"in_stock": len(ITEMS)})
