"""Every term a reader of the report meets, defined once; table headers link here."""

from __future__ import annotations

import re

TERMS: dict[str, str] = {
    "A/A pair": "one cell of a sitting measured twice in the same round, half a round "
                "apart; the gap between the two is noise, not a difference between stacks.",
    "App": "which of the four equal apps served: `sync` (WSGI), `async` (ASGI), "
           "`blocking-async` (a blocking call inside `async def`) or "
           "`asyncio.run-per-request` (a WSGI app that starts an event loop per request).",
    "Blocked (p95)": "the 95th percentile of k6's `http_req_blocked`: time a request waited "
                     "for a connection before it was sent.",
    "Bound (req/s)": "what theory allows from the search's own measurements: the server's "
                     "CPUs over the CPU cost of a request and, for a stack that holds one "
                     "request per worker or thread, its slots over the time each request "
                     "holds one (the mix's mean DB wait plus its CPU cost); the lower of "
                     "the two.",
    "Capacity (req/s)": "the highest arrival rate (open loop) at which p99 latency stays "
                        "within the latency goal, no request fails and no arrival is "
                        "dropped; the median of a stack's searches.",
    "Ceiling": "the most requests per second a closed loop can produce: its users over the "
               "time an iteration takes at least (think time plus DB waits).",
    "Closed loop": "a fixed number of k6 users, each sending its next request when the "
                   "last one answered: a slow server is sent less.",
    "CPU ms/req": "CPU milliseconds of the whole server process tree (user + system) per "
                  "request; lower is cheaper.",
    "Group": "the tie group: stacks whose intervals overlap, or whose estimates differ by "
             "less than the noise floor, share a group; only groups are ranked (1 is "
             "best), and a stack of fewer than 3 repeats is in none (—).",
    "Interval": "from the lowest to the highest repeat (for 3 to 5 repeats), with the "
                "confidence that it holds the true median, by order statistics; a "
                "capacity interval runs up to the searches' failing rates.",
    "Interval (req/s)": "the interval of a closed-loop row, in requests per second.",
    "Latency goal": "the p99 a capacity search must stay within: the request's DB waits "
                    "plus a margin (50 ms unless set otherwise).",
    "Loop": "the event loop the running server reported (`none` for a thread per "
            "request).",
    "Noise floor": "the median gap within a section's A/A pairs (another stack in each "
                   "round); a difference below it is not a difference.",
    "Notes": "what to know before trusting a row: repeats far from their median (and how "
             "far the server CPU's speed moved between them), a p99 near the goal even "
             "under light load, a client that may have been the limit, a search that "
             "reached its highest rate, an uneven split over workers, TCP_NODELAY off.",
    "Of Bound": "capacity as a share of the bound; near 100% the stack does all that its "
                "CPU or slots allow.",
    "Of Ceiling": "requests handled as a share of the closed loop's ceiling; at 90% or more "
                  "the scenario, not the server, is the limit (\"bounded by the "
                  "scenario\").",
    "Open loop": "requests sent at a set rate whether or not earlier ones answered (k6's "
                 "`constant-arrival-rate`), as real users arrive.",
    "p95": "the 95th percentile of k6's `http_req_duration` (median over the runs); lower "
           "is better.",
    "Parser": "the HTTP parser the running server reported.",
    "Peak MB": "the server process tree's peak resident memory; lower is cheaper.",
    "Placement": "which CPUs the server, k6 and the fake DB ran on: pinned apart, shared, "
                 "or on separate hosts.",
    "Repeats": "the furthest search from the median, relative to it.",
    "Req/s": "requests handled per second in a closed loop (the median run); higher is "
             "better unless Of Ceiling is 90% or more, where rows tie.",
    "Requests": "requests handled in one closed-loop run (the median run).",
    "Runs": "the closed-loop runs in a row.",
    "Searches": "the capacity searches in a row.",
    "Server": "the server and worker class as installed, with its threads.",
    "Server CPU s": "user + system CPU seconds of the whole server process tree during the "
                    "load (the median run).",
    "Sitting": "a set of cells measured in one go, each round in a fresh random order, so "
               "a machine that drifts slows every stack alike; a report section holds one.",
    "Slots": "requests a blocking stack can hold at once: workers × threads. Each is held "
             "for the whole DB wait.",
    "Stack": "a server, its worker model and one of the apps, installed as one of our "
             "pinned environments (see docs/stacks.md).",
    "Worker model": "whether a worker (or thread) holds one request until it is answered, "
                    "DB wait included, or interleaves many.",
}


def anchor(term: str) -> str:
    """The glossary anchor of a term: `term-cpu-ms-req`."""
    return "term-" + re.sub(r"[^a-z0-9]+", "-", term.lower()).strip("-")


def linked(columns: tuple[str, ...]) -> list[str]:
    """Table headers that link to their glossary entry."""
    return [f"[{name}](#{anchor(name)})" if name in TERMS else name for name in columns]


def glossary() -> str:
    """The glossary section, terms in alphabetical order."""
    lines = ["## Glossary", ""]
    for term in sorted(TERMS, key=str.lower):
        lines.append(f'- <a id="{anchor(term)}"></a>**{term}**: {TERMS[term]}')
    return "\n".join(lines) + "\n"
