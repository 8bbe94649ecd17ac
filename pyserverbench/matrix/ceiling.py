"""What the closed-loop scenario in load.js allows, whatever the server."""

from __future__ import annotations

from pyserverbench.matrix.workloads import Workload, db_waits

THINK_TIME_S = 0.1  # the sleep between `GET /` and `GET /api` in load.js (the mix only)
REQUESTS_PER_ITERATION = 3  # the mix: GET /, GET /api, GET /
BOUNDED_FRACTION = 0.9  # at or above this share of the ceiling, a row is not ranked
STUDY = Workload()  # the study's mix


def ceiling(vus: int, duration_s: float, db_latency_ms: float,
            workload: Workload = STUDY, app: str = "sync") -> float | None:
    """The most requests the scenario can produce, None if nothing bounds it.

    The mix: each iteration takes at least the think time plus the database latency,
    and makes three requests. Other workloads: an iteration is one request, with no
    think time, and takes at least the DB waits that request makes in `app`."""
    latency_s = db_latency_ms / 1000
    if workload.request() is None:
        return vus * REQUESTS_PER_ITERATION * duration_s / (THINK_TIME_S + latency_s)
    iteration_s = db_waits([(workload.request(), 1)], app) * latency_s
    return vus * duration_s / iteration_s if iteration_s > 0 else None


def ceiling_facts(requests: int, vus: int, duration_s: float, db_latency_ms: float,
                  workload: Workload = STUDY, app: str = "sync") -> dict:
    """The ceiling, the fraction of it reached, and whether the scenario was the bound."""
    most = ceiling(vus, duration_s, db_latency_ms, workload, app)
    if most is None:
        return {"requests": None, "fraction": None, "bounded": False}
    fraction = requests / most
    return {"requests": round(most), "fraction": round(fraction, 4),
            "bounded": fraction >= BOUNDED_FRACTION}


CLIENT_BUSY = 0.8  # below this share of its CPUs busy, a server had room to serve more


def client_facts(vus: int, slots: int | None, server_cpu_s: float, window_s: float,
                 server_cores: int) -> dict:
    """Whether a closed loop's virtual users, not the server, set its rate: the server's
    CPUs were under CLIENT_BUSY busy and no user waited for a slot (VUs at most the
    slots of a blocking server; a non-blocking one has none to wait for). By Little's
    law the users' rate is VUs over the mean latency; with the server idle part of the
    time, more users would have been served."""
    busy = server_cpu_s / (window_s * server_cores) if window_s > 0 and server_cores else 0.0
    bound = busy < CLIENT_BUSY and (slots is None or vus <= slots)
    return {"vus": vus, "slots": slots, "server_busy": round(busy, 4), "bound": bound}
