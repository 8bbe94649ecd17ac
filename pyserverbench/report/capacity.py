"""The capacity part of the report: a section per setup (machine, Python, workers, mix,
goal, step), a table per DB latency, and the names of its charts. Pure functions."""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict

from tabulate import tabulate

from pyserverbench.records import CapacityKey
from pyserverbench.report.rows import NOISE, NONE, _cell, _probed, _server

COLUMNS = ("Stack", "Server", "App", "Loop", "Parser", "Runs", "Capacity (req/s)", "Spread",
           "Bound (req/s)", "Of Bound", "CPU s / 1k req", "Peak MB", "Notes")
ALIGN = ("left", "left", "left", "left", "left", "right", "right", "right", "right", "right",
         "right", "right", "left")

INTRO = """\
## Capacity at a latency goal (open loop)

Generated from the records of `nox -s capacity...` and `nox -s capacity_map`. A capacity
search offers requests at a constant arrival rate (k6's `constant-arrival-rate`, evenly
spaced, sent whether or not earlier ones answered) and finds the highest rate at which
p99 latency stays within the goal, no request fails, no arrival is dropped for want of a
free virtual user, and at least 99% of the offered rate is achieved. Each step has an
uncounted warm-up. The search doubles the rate until a step fails, then halves the gap
between the highest passing and the lowest failing rate until it is within the
resolution; *Capacity* is the highest passing rate (median over the searches, *Runs*),
*Spread* their min-max and (max - min) / median. *Bound* is what theory allows from the
search's own measurements: the server's CPUs over the CPU cost of a request and, for a
server that holds one request per worker or thread (sync, gthread, stupid-async,
donkey-patched), its slots over the time each request holds one (the mix's mean DB wait
plus its CPU cost). *CPU s / 1k req* is server CPU seconds per 1,000 requests at the
capacity step; *Peak MB* the server tree's peak memory during the search. Notes flag a
capacity that is a lower bound (the load side's CPUs were busy at the deciding step), a
search that reached its highest rate, steps inconsistent with Little's law (requests in
flight = rate x mean latency, against k6's virtual users and the server's slots), and
spreads over 10%.
"""


def _median_record(runs: list[dict]) -> dict:
    """The search whose capacity is the median (the lower one for an even count)."""
    ordered = sorted(runs, key=lambda r: (r["capacity"]["rps"], r["id"]))
    return ordered[(len(ordered) - 1) // 2]


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _notes(runs: list[dict], spread: float) -> str:
    notes = []
    if spread > NOISE:
        notes.append("noisy")
    lower = sum(r["capacity"]["lower_bound"] for r in runs)
    if lower:
        notes.append(f"lower bound in {lower} of {len(runs)}: load side busy")
    if any(r["capacity"]["at_max"] for r in runs):
        notes.append("reached the highest rate tried")
    odd = sum(r["capacity"]["inconsistent_steps"] for r in runs)
    if odd:
        notes.append(f"{odd} steps inconsistent with Little's law")
    if any((r.get("probe") or {}).get("tcp_nodelay") is False for r in runs):
        notes.append("TCP_NODELAY off")
    return "; ".join(notes)


def ok_row(runs: list[dict]) -> list[str]:
    first = runs[0]
    found = [r["capacity"]["rps"] for r in runs]
    middle = _median(found)
    spread = (max(found) - min(found)) / middle if len(found) > 1 and middle else 0.0
    shown = (f"{min(found):,.0f}–{max(found):,.0f} ({spread:.0%})" if len(found) > 1
             else "one run")
    bound = [r["capacity"]["bounds"]["rps"] for r in runs
             if r["capacity"]["bounds"]["rps"] is not None]
    cost = [r["capacity"]["cpu_s_per_1000"] for r in runs
            if r["capacity"]["cpu_s_per_1000"] is not None]
    peak = _median([r["capacity"]["peak_rss_bytes"] for r in runs]) / 2**20
    return [first["stack"], _server(first), first["app"], _probed(first, "loop"),
            _probed(first, "parser"), str(len(runs)), f"{middle:,.0f}", shown,
            f"{_median(bound):,.0f}" if bound else NONE,
            f"{middle / _median(bound):.0%}" if bound else NONE,
            f"{_median(cost):.3f}" if cost else NONE, f"{peak:,.0f}",
            _cell(_notes(runs, spread))]


def failed_row(record: dict) -> list[str]:
    return [record["stack"], _server(record), record["app"], NONE, NONE, "1", "**failed**",
            NONE, NONE, NONE, NONE, NONE, _cell(str(record.get("error")))]


def latency_rows(records: list[dict]) -> list[list[str]]:
    """One row per stack (its finished searches), one per failed search; by capacity."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    failed = []
    for record in records:
        if record["ok"]:
            groups[(record["stack"], record.get("threads"))].append(record)
        else:
            failed.append(record)
    ranked = sorted(groups.values(),
                    key=lambda runs: (-_median([r["capacity"]["rps"] for r in runs]),
                                      runs[0]["stack"]))
    rows = [ok_row(sorted(runs, key=lambda r: r["id"])) for runs in ranked]
    return rows + [failed_row(r) for r in sorted(failed, key=lambda r: r["id"])]


def chart_names(key: CapacityKey, latencies: list[int]) -> dict:
    """File names of a section's charts, stable for the same section: a digest of the
    key as a plain tuple, without the user app's part for our own apps (as before user
    apps came)."""
    named = tuple(key) if key.user_app else tuple(key)[:-1]
    digest = hashlib.sha256(repr(named).encode()).hexdigest()[:10]
    return {"map": f"capacity-{digest}.svg",
            **{latency: f"p99-{digest}-{latency}ms.svg" for latency in latencies}}


def render_section(key: CapacityKey, records: list[dict], heading: str,
                   facts: list[str]) -> str:
    """A section: heading, facts, the capacity chart, and per latency a table and chart."""
    by_latency: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        by_latency[record["db_latency_ms"]].append(record)
    names = chart_names(key, sorted(by_latency))
    first = records[0]["capacity"]
    lines = [heading, "", *facts,
             f"- Goal: p99 within {goal_text(key)}; mix "
             f"`{first['mix']}`; steps of {first['step_s']} s after {first['warmup_s']} s "
             f"of warm-up; resolution {first['resolution']:.0%}.", "",
             f"![Capacity against DB latency]({names['map']})", ""]
    for latency in sorted(by_latency):
        members = sorted(by_latency[latency], key=lambda r: r["id"])
        goal = members[0]["capacity"]["goal_ms"]
        table = tabulate(latency_rows(members), headers=COLUMNS, tablefmt="pipe",
                         colalign=ALIGN, disable_numparse=True)
        lines += [f"### {latency} ms DB latency: goal p99 <= {goal:g} ms", "", table, "",
                  f"![p99 against offered rate at {latency} ms]({names[latency]})", ""]
    return "\n".join(lines)


def goal_text(key: CapacityKey) -> str:
    """The goal in words: `DB latency + 50 ms`, `3 × DB latency + 50 ms`, `50 ms`."""
    calls = key.calls()
    if calls == 0:
        return f"{key.margin_ms:g} ms"
    return f"{f'{calls} × ' if calls > 1 else ''}DB latency + {key.margin_ms:g} ms"
