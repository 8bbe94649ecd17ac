"""The capacity part of the report: a section per setup (machine, Python, workers, mix,
goal, step), a table per DB latency, and the names of its charts. Pure functions."""

from __future__ import annotations

import hashlib
import statistics
from collections import defaultdict

from pyserverbench.records import CapacityKey, db_key
from pyserverbench.report.glossary import linked
from pyserverbench.report.markdown import pipe_table
from pyserverbench.report.rows import NONE, _cell, _head, stack_cell
from pyserverbench.report.ties import (
    Estimate,
    Ranking,
    counted,
    estimate,
    floor_of,
    ranking,
    sitting_facts,
)

COLUMNS = ("Group", "Stack", "Capacity (req/s)", "Interval", "Of Bound", "CPU ms/req",
           "Peak MB", "Notes")
ALIGN = ("right", "left", "right", "right", "right", "right", "right", "left")
DETAIL_COLUMNS = ("Stack", "Server", "App", "Worker model", "Loop", "Parser", "Searches",
                  "Repeats", "Bound (req/s)")
DETAIL_ALIGN = ("left", "left", "left", "left", "left", "left", "right", "right", "right")
SPREAD_GOAL = 0.05  # a repeat further than this from its cell's median is marked
SPEED_MOVED = 1.1  # a cell's repeats whose server CPU speeds differ by more moved with it
LIGHT = 0.8  # steps at this share of a search's capacity or less are its light load ...
FLAT = 0.8  # ... and a p99 at this share of the goal there is a latency tail, not a knee

INTRO = """\
## Capacity at a latency goal (open loop)

Generated from the records of `nox -s capacity...`, `nox -s capacity_map` and `nox -s
sitting`. A capacity search offers requests at a constant arrival rate (k6's
`constant-arrival-rate`, sent whether or not earlier ones answered) and finds the
highest rate at which p99 latency stays within the goal, no request fails, no arrival is
dropped for want of a free virtual user, and at least 99% of the offered rate is
achieved. Each step measures at least 1,000 requests after an uncounted warm-up. Near
the knee a server fails a step now and then and passes the next at the same rate, so the
failed rate that bounds the answer and the passing rate that is the answer are each run
again and the majority of up to three steps decides (a step that fell far behind, under
80% of its rate, decides alone). The search jumps towards what the CPU cost it measured
allows, climbs until a rate fails, then halves the gap to the resolution. Notes flag
repeats further than 5% from their median, a capacity that is a lower bound (the load
side's CPUs were busy at the deciding step), a search that reached its highest rate, and
steps inconsistent with Little's law.
"""


def _median_record(runs: list[dict]) -> dict:
    """The search whose capacity is the median (the lower one for an even count)."""
    ordered = sorted(runs, key=lambda r: (r["capacity"]["rps"], r["id"]))
    return ordered[(len(ordered) - 1) // 2]


def _median(values: list[float]) -> float:
    return statistics.median(values)


def deciding_steps(record: dict, passed: bool) -> list[dict]:
    """A search's steps at its answer (passed) or at its lowest failing rate (failed)."""
    found = record["capacity"]
    rate = found.get("rps" if passed else "failing_rps")
    return [step for step in found.get("steps", [])
            if bool(step.get("passed")) == passed and step.get("offered_rps") == rate]


def stopped_by_errors(record: dict) -> bool:
    """A search whose lowest failing rate failed because requests failed, not on latency."""
    return any(step.get("failed_requests", 0) > 0 for step in deciding_steps(record, False))


def _notes(runs: list[dict], spread: float) -> str:
    pools = pool_note(runs)
    notes = [pools] if pools else []
    errors = sum(stopped_by_errors(r) for r in runs)
    if errors:
        notes.append(f"stopped by failed requests, not latency, in {errors} of {len(runs)}")
    if spread > SPREAD_GOAL:
        notes.append(f"repeats over ±{SPREAD_GOAL:.0%}{speed_note(runs)}")
    flat = flat_share(runs)
    if flat is not None and flat >= FLAT:
        notes.append(f"p99 already {flat:.0%} of the goal at {LIGHT:.0%} of its capacity or "
                     f"less: the goal lies in its latency tail, not at a knee, so the "
                     f"capacity is loosely set")
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


def flat_share(runs: list[dict]) -> float | None:
    """The median p99, as a share of the goal, of a cell's passing steps (and warm steps)
    at LIGHT of their search's capacity or less; None without such a step. Near 1, p99
    barely rises with the rate (donkey-patched at 25 ms: 63–80 ms from 12 to 60/s)."""
    shares = [step["p99_ms"] / r["capacity"]["goal_ms"] for r in runs
              for step in [*r["capacity"]["steps"], *filter(None, [r["capacity"].get("warm")])]
              if r["capacity"].get("rps") and step.get("passed", True)
              and step["offered_rps"] <= LIGHT * r["capacity"]["rps"]]
    return statistics.median(shares) if shares else None


def speed_note(runs: list[dict]) -> str:
    """How far the server CPU's speed (the probe's median over a search's steps) moved
    between a cell's repeats: where it moved, their spread may be the machine's."""
    probed = [found["median_ms"] for r in runs
              if (found := r["capacity"].get("speed") or {}).get("median_ms")]
    if len(probed) < 2:
        return ""
    low, high = min(probed), max(probed)
    if high / low > SPEED_MOVED:
        return (f", and the server CPU's speed moved {high / low:.2f}-fold between them "
                f"(its fixed task {low:.2f}–{high:.2f} ms)")
    return f", with the server CPU's speed steady (within {high / low:.2f}-fold)"


def cell_estimate(runs: list[dict]) -> Estimate:
    """A stack's capacity at one latency: its searches' median, and an interval to each
    search's lowest failing rate."""
    return estimate([r["capacity"]["rps"] for r in runs],
                    [r["capacity"].get("failing_rps") for r in runs])


def interval_text(found: Estimate) -> str:
    if found.n == 1:
        return "one run"
    return f"{found.low:,.0f}–{found.high:,.0f} ({found.confidence:.0%})"


def ok_row(runs: list[dict], group: str) -> list[str]:
    found = cell_estimate(runs)
    bound = _bound(runs)
    cost = [r["capacity"]["cpu_s_per_1000"] for r in runs
            if r["capacity"]["cpu_s_per_1000"] is not None]
    peak = _median([r["capacity"]["peak_rss_bytes"] for r in runs]) / 2**20
    return [group, stack_cell(runs[0]), f"{found.value:,.0f}", interval_text(found),
            f"{found.value / bound:.0%}" if bound else NONE,
            f"{_median(cost):.2f}" if cost else NONE, f"{peak:,.0f}",
            _cell(_notes(runs, found.spread))]


def _bound(runs: list[dict]) -> float | None:
    """The cell's bound: the lowest of what its CPU cost and slots allow, and what its DB
    pools allow (P / L) on PostgreSQL."""
    bound = [min(b for b in (r["capacity"]["bounds"]["rps"], pool_rps(r)) if b is not None)
             for r in runs if r["capacity"]["bounds"]["rps"] is not None or pool_rps(r)]
    return _median(bound) if bound else None


def pool_rps(record: dict) -> float | None:
    """What a record's DB pools allow, None on the fake DB or without a pool."""
    return (record.get("db") or {}).get("pool_bound_rps")


def pool_note(runs: list[dict]) -> str:
    """On PostgreSQL: the pools, their bound and the most connections seen."""
    if not db_key(runs[0]):
        return ""
    db = runs[0]["db"]
    most = max(((r.get("db") or {}).get("connections_most") or 0 for r in runs), default=0)
    if db.get("pool_total") is None:
        return f"a connection per call, at most {most} open"
    bound = pool_rps(runs[0])
    return (f"pools of {db.get('pool_per_worker')} per worker ({db['pool_total']} in all"
            + (f", allow {bound:,.0f}/s" if bound else "") + f"), at most {most} open")


def detail_row(runs: list[dict]) -> list[str]:
    found = cell_estimate(runs)
    bound = _bound(runs)
    return [*_head(runs[0], len(runs)), f"±{found.spread:.0%}" if found.n > 1 else NONE,
            f"{bound:,.0f}" if bound else NONE]


def failed_row(record: dict) -> list[str]:
    return [NONE, stack_cell(record), "**failed**", NONE, NONE, NONE, NONE,
            _cell(str(record.get("error")))]


def failed_detail(record: dict) -> list[str]:
    return [*_head(record, 1), NONE, NONE]


def capacity_rps(record: dict) -> float:
    return record["capacity"]["rps"]


def section_floor(records: list[dict]) -> float | None:
    """The noise floor of one latency's searches, from their A/A pairs that both passed."""
    return floor_of(records, capacity_rps)


def latency_ranking(records: list[dict]) -> Ranking:
    """One latency's stacks ranked: a cell per stack and threads (its finished searches,
    named `stack/threads`), and the failed searches."""
    kept, _ = counted(records)
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in kept:
        if record["ok"]:
            groups[(record["stack"], record.get("threads"))].append(record)
    named = {f"{key[0]}/{key[1]}": sorted(runs, key=lambda r: r["id"])
             for key, runs in groups.items()}
    found = {name: cell_estimate(runs) for name, runs in named.items()}
    failed = sorted((r for r in kept if not r["ok"]), key=lambda r: r["id"])
    return ranking(named, found, failed, section_floor(records))


def latency_tables(records: list[dict]) -> tuple[list[list[str]], list[list[str]]]:
    """One row per stack (its finished searches), one per failed search; by tie group,
    then by capacity: the main rows and the detail rows, in the same order."""
    ranked = latency_ranking(records)
    order = ranked.order(NONE)
    main = [ok_row(ranked.runs[name], group) for name, group in order]
    details = [detail_row(ranked.runs[name]) for name, _ in order]
    return (main + [failed_row(r) for r in ranked.failed],
            details + [failed_detail(r) for r in ranked.failed])


def latency_facts(records: list[dict]) -> list[str]:
    """What a latency's table rests on: the noise floor, and runs disturbed and rerun."""
    return sitting_facts(records, capacity_rps, "searches")


def chart_names(key: CapacityKey, latencies: list[int]) -> dict:
    """File names of a section's charts, stable for the same section: a digest of the
    key as a plain tuple, without the parts that came later while they are empty (the
    user app's for our own apps, the sitting's for runs made alone)."""
    fields = [name for name in key._fields
              if not (name in ("user_app", "sitting", "db") and not getattr(key, name))]
    named = tuple(getattr(key, name) for name in fields)
    digest = hashlib.sha256(repr(named).encode()).hexdigest()[:10]
    return {"map": f"capacity-{digest}.svg",
            **{latency: f"p99-{digest}-{latency}ms.svg" for latency in latencies}}


def confirmed(records: list[dict]) -> bool:
    """Whether the searches confirmed their deciding steps (their steps say which vote
    each was); records from before that have one step per rate."""
    steps = [step for r in records for step in r["capacity"]["steps"]]
    return bool(steps) and all("vote" in step for step in steps)


def folded(tables: tuple[list[list[str]], list[list[str]]], columns: tuple[str, ...],
           align: tuple[str, ...], detail_columns: tuple[str, ...],
           detail_align: tuple[str, ...]) -> str:
    """A main table and, folded away under it, its proof columns (the detail rows)."""
    main_rows, detail_rows = tables
    table = pipe_table(main_rows, linked(columns), align)
    proof = pipe_table(detail_rows, linked(detail_columns), detail_align)
    return (f"{table}\n\n<details><summary>How each row was measured</summary>\n\n{proof}"
            f"\n\n</details>\n")


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
             f"of warm-up; resolution {first['resolution']:.0%}."
             + ("" if confirmed(records) else " Searched before steps were confirmed: one "
                "step decided each rate, so one stalled or lucky step could set the answer."),
             ""]
    if any(r["ok"] for r in records):
        lines += [f"![Capacity against DB latency]({names['map']})", ""]
    for latency in sorted(by_latency):
        members = sorted(by_latency[latency], key=lambda r: r["id"])
        goal = members[0]["capacity"]["goal_ms"]
        tables = folded(latency_tables(members), COLUMNS, ALIGN, DETAIL_COLUMNS, DETAIL_ALIGN)
        facts_here = latency_facts(members)
        lines += [f"### {latency} ms DB latency: goal p99 ≤ {goal:g} ms", "",
                  *(f"- {fact}" for fact in facts_here), *([""] if facts_here else []),
                  tables,
                  *([f"![p99 against offered rate at {latency} ms]({names[latency]})", ""]
                    if any(r["ok"] for r in members) else [])]
    return "\n".join(lines)


def goal_text(key: CapacityKey) -> str:
    """The goal in words: `DB latency + 50 ms`, `3 × DB latency + 50 ms`, `50 ms`."""
    calls = key.calls()
    if calls == 0:
        return f"{key.margin_ms:g} ms"
    return f"{f'{calls} × ' if calls > 1 else ''}DB latency + {key.margin_ms:g} ms"
