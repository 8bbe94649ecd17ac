"""What the closed-loop scenario in load.js allows, whatever the server."""

from __future__ import annotations

THINK_TIME_S = 0.1  # the sleep between `GET /` and `GET /api` in load.js
REQUESTS_PER_ITERATION = 3  # GET /, GET /api, GET /
BOUNDED_FRACTION = 0.9  # at or above this share of the ceiling, a row is not ranked


def ceiling(vus: int, duration_s: float, db_latency_ms: float) -> float:
    """The most requests the scenario can produce: each iteration takes at least the
    think time plus the database latency, and makes three requests."""
    iteration_s = THINK_TIME_S + db_latency_ms / 1000
    return vus * REQUESTS_PER_ITERATION * duration_s / iteration_s


def ceiling_facts(requests: int, vus: int, duration_s: float, db_latency_ms: float) -> dict:
    """The ceiling, the fraction of it reached, and whether the scenario was the bound."""
    most = ceiling(vus, duration_s, db_latency_ms)
    fraction = requests / most
    return {"requests": round(most), "fraction": round(fraction, 4),
            "bounded": fraction >= BOUNDED_FRACTION}
