"""The sweep part of the report: each stack's configurations (workers × threads) at one
DB latency, ranked into tie groups within the stack, and the cheapest configuration of
its leading group: the one to deploy on this machine's server CPUs. Pure functions."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass

from pyserverbench.matrix.ceiling import CLIENT_BUSY
from pyserverbench.matrix.stacks import STACKS
from pyserverbench.records import CapacityKey
from pyserverbench.report.capacity import (
    _median,
    _median_record,
    _notes,
    cell_estimate,
    deciding_steps,
    goal_text,
    interval_text,
    section_floor,
    stopped_by_errors,
)
from pyserverbench.report.glossary import linked
from pyserverbench.report.markdown import pipe_table
from pyserverbench.report.rows import NONE, _cell
from pyserverbench.report.ties import Ranking, counted, ranking, sitting_facts

SWEEP_PLANS = ("sweep", "advise")  # a sweep of our apps, and of a user's (`--advise`)
HTTPX_POOL = 100  # httpx's default Limits(max_connections=100): our apps' client per process

COLUMNS = ("Group", "Workers × threads", "Capacity (req/s)", "Interval", "Of Bound",
           "Bound by", "Peak MB", "DB conns", "Notes")
ALIGN = ("right", "left", "right", "right", "right", "left", "right", "right", "left")
ANSWER_COLUMNS = ("Stack", "Run", "Capacity (req/s)", "Interval", "Peak MB", "DB conns",
                  "Bound by", "To scale to N cores", "Also in its leading group")

INTRO = f"""\
## Deployments: workers × threads

Generated from the records of a sweep: `nox -s sitting -- --plan sweep` on our apps, or
`nox -s app -- --advise` on yours. A sweep measures each stack's capacity at the latency
goal over a grid of worker counts and, for the stacks with threads, thread counts, in
one sitting of rounds in a random interleaved order (each section says how many).
Within a stack, its configurations fall in tie groups as the stacks do above; the one to
run is the cheapest configuration of the leading group: the least peak memory, then the
fewest database connections it can hold. DB conns is the most connections to the
database the configuration can hold at once: workers × threads for a blocking stack (a
thread holds its connection through the wait), workers × the app's pool (httpx's default
of 100 per process) for the others; for your app on a non-blocking stack its pool is not
known (—).

How it scales to N cores: where the server's CPU bounds the chosen configuration,
capacity grows with the CPUs (run more workers: about N times the rate); where
workers × threads bound it (slots held through the DB wait), capacity grows with the
slots, not with the CPUs, until the CPU bound is reached. For your app, how long a
request holds its slot is not known (its waits are its own), so what bounds it is read
from the search: the server's CPUs at least {CLIENT_BUSY:.0%} busy at capacity mean the CPU, less
mean the slots or the app's own waits; Of Bound is then against the CPU bound alone.
"""


def is_sweep(record: dict) -> bool:
    """A capacity search of a sweep sitting."""
    place = record.get("sitting") or {}
    return (place.get("plan") in SWEEP_PLANS
            or any(f"-{name}-" in str(place.get("id", "")) for name in SWEEP_PLANS))


def split(records: list[dict]) -> tuple[list[dict], list[dict]]:
    """The records that are not of a sweep, and those that are."""
    sweeps = [r for r in records if is_sweep(r)]
    return [r for r in records if not is_sweep(r)], sweeps


def config_name(record: dict) -> str:
    """`3 × 4` (workers × threads), `3 × 1` for a stack without threads; waitress's
    workers are its threads: `1 × 4`."""
    stack = STACKS.get(record["stack"])
    if stack is not None and stack.one_process:
        return f"1 × {record['workers']}"
    return f"{record['workers']} × {record.get('threads') or 1}"


def db_connections(record: dict) -> int | None:
    """The most database connections a configuration can hold at once: a blocking
    stack's slots (each thread holds its connection through the wait, as Django's do),
    our apps' client pools on a non-blocking one; None where a user's app's pool is not
    known."""
    stack = STACKS.get(record["stack"])
    if stack is None:
        return None
    slots = stack.slots(record["workers"], record.get("threads"))
    if slots is not None:
        return slots
    return None if record.get("user_app") else stack.processes(record["workers"]) * HTTPX_POOL


def connections_text(record: dict) -> str:
    found = db_connections(record)
    return NONE if found is None else str(found)


def busy_at_capacity(record: dict) -> float | None:
    """The share of the server's CPUs busy in the last passing step at the capacity."""
    steps = deciding_steps(record, True)
    busy = (steps[-1].get("usage") or {}).get("cpus_busy", {}) if steps else {}
    return busy.get("server_cpus")


def bound(record: dict) -> float | None:
    """The bound a search is read against: the lower of CPU and slots for our apps,
    the CPU alone for a user's (the slot bound needs a hold time it does not know)."""
    bounds = record["capacity"]["bounds"]
    return bounds.get("cpu_rps") if record.get("user_app") else bounds.get("rps")


def which_bound(record: dict) -> str:
    """Which bound applies to a search: `errors` (requests failed above it), `cpu`,
    `slots`, `waits` (a user's app whose CPUs had room and no slots), or `unknown`. A
    user's app is read by how busy the server's CPUs were at the capacity; ours by the
    lower of its two bounds."""
    if stopped_by_errors(record):
        return "errors"
    bounds = record["capacity"]["bounds"]
    cpu, slots = bounds.get("cpu_rps"), bounds.get("slots_rps")
    if record.get("user_app"):
        busy = busy_at_capacity(record)
        if busy is None or cpu is None:
            return "unknown"
        if busy >= CLIENT_BUSY:
            return "cpu"
        return "slots" if record["capacity"].get("slots") else "waits"
    if slots is not None and (cpu is None or slots <= cpu):
        return "slots"
    return "cpu" if cpu is not None else "unknown"


def bound_by(record: dict) -> str:
    """What bounds a search by theory, and its rate where theory gives one."""
    found, which = record["capacity"], which_bound(record)
    cpu, slots = found["bounds"].get("cpu_rps"), found["bounds"].get("slots_rps")
    if which in ("errors", "unknown"):
        return "failed requests above it, not latency" if which == "errors" else NONE
    if record.get("user_app"):
        busy = f"{busy_at_capacity(record):.0%} busy"
        if which == "cpu":
            return f"CPU ({busy}): {cpu:,.0f}/s"
        held = f"slots ({found['slots']}) or your app's waits" if which == "slots" \
            else "your app's waits"
        return f"not the CPU ({busy}): {held}"
    if which == "slots":
        return f"slots ({found['slots']}): {slots:,.0f}/s"
    return f"CPU: {cpu:,.0f}/s"


def scaling(record: dict) -> str:
    """How the chosen configuration scales to N server cores, by the bound that applies
    to it (from its median search)."""
    found, which = record["capacity"], which_bound(record)
    cpu = found["bounds"].get("cpu_rps")
    cores = len(record["placement"].get("server_cpus") or []) or 1
    per_core = f"{cpu / cores:,.0f}/s per core" if cpu else "the CPU's bound"
    if which == "errors":
        return "not known: requests fail above it, so more of it serves no more"
    if which == "cpu":
        return (f"CPU-bound: N × the workers for about N × {found['rps'] / cores:,.0f}/s "
                f"({per_core} at most)")
    if which == "waits":
        return "bound by your app's own waits: neither cores nor workers are shown to raise it"
    if which == "slots":
        held = ("" if record.get("user_app") else
                f" {found['slots']} slots held "
                f"{found['db_wait_ms'] + (found['cpu_s_per_1000'] or 0):.1f} ms each;")
        return f"slot-bound:{held} more workers × threads raise it, cores do not, up to {per_core}"
    return NONE


def stack_ranking(records: list[dict]) -> Ranking:
    """One stack's configurations ranked (cells named by `config_name`), with the noise
    floor of that stack's own A/A pair."""
    kept, _ = counted(records)
    runs: dict[str, list[dict]] = defaultdict(list)
    for record in kept:
        if record["ok"]:
            runs[config_name(record)].append(record)
    named = {name: sorted(found, key=lambda r: r["id"]) for name, found in runs.items()}
    found = {name: cell_estimate(members) for name, members in named.items()}
    failed = sorted((r for r in kept if not r["ok"]), key=lambda r: r["id"])
    return ranking(named, found, failed, section_floor(records))


def _peak_mb(runs: list[dict]) -> float:
    return _median([r["capacity"]["peak_rss_bytes"] for r in runs]) / 2**20


def cheapest(ranked: Ranking) -> str | None:
    """The configuration to run: of the leading group, the least peak memory, then the
    fewest DB connections, then the name; None when no group was formed."""
    if not ranked.groups:
        return None
    return min(ranked.groups[0], key=lambda name: (
        round(_peak_mb(ranked.runs[name])), db_connections(ranked.runs[name][0]) or 0, name))


@dataclass(frozen=True)
class Choice:
    """A stack's answer in a sweep: the configuration to run and what it holds."""

    stack: str
    config: str | None
    row: list[str]


def stack_answer(stack: str, records: list[dict]) -> Choice:
    ranked = stack_ranking(records)
    name = cheapest(ranked)
    if name is None:
        why = ("not settled: fewer than 3 repeats of every configuration" if ranked.found
               else "none: every search failed")
        return Choice(stack, None, [stack, why, *[NONE] * (len(ANSWER_COLUMNS) - 2)])
    runs = ranked.runs[name]
    found = ranked.found[name]
    others = [other for other in ranked.groups[0] if other != name]
    return Choice(stack, name, [
        stack, name, f"{found.value:,.0f}", interval_text(found), f"{_peak_mb(runs):,.0f}",
        connections_text(runs[0]), bound_by(_median_record(runs)),
        scaling(_median_record(runs)), ", ".join(others) or NONE])


def stack_rows(records: list[dict]) -> list[list[str]]:
    """A stack's configurations, by tie group then capacity, and its failed searches."""
    ranked = stack_ranking(records)
    chosen = cheapest(ranked)
    rows = []
    for name, group in ranked.order(NONE):
        runs = ranked.runs[name]
        found = ranked.found[name]
        median = _median_record(runs)
        most = bound(median)
        rows.append([group, f"**{name}**" if name == chosen else name, f"{found.value:,.0f}",
                     interval_text(found), f"{found.value / most:.0%}" if most else NONE,
                     bound_by(median), f"{_peak_mb(runs):,.0f}", connections_text(runs[0]),
                     _cell(_notes(runs, found.spread))])
    for record in ranked.failed:
        rows.append([NONE, config_name(record), "**failed**", NONE, NONE, NONE, NONE,
                     connections_text(record), _cell(str(record.get("error")))])
    return rows


def section_key(record: dict) -> tuple:
    """A sweep's section: its search setup less the worker count (and the database on
    the fake DB, so the chart's name is as before there was a choice), and the latency."""
    key = CapacityKey.of(record)._replace(workers=0)
    return (*(key if key.db else key[:-1]), record["db_latency_ms"])


def sweep_sections(records: list[dict]) -> list[tuple[tuple, list[dict]]]:
    """The sweeps' sections (key, records), in a stable order."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for record in records:
        if is_sweep(record):
            groups[section_key(record)].append(record)
    return [(key, sorted(groups[key], key=lambda r: r["id"])) for key in sorted(groups)]


def by_stack(records: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        found[record["stack"]].append(record)
    return {stack: found[stack] for stack in sorted(found)}


def chart_name(key: tuple) -> str:
    return f"sweep-{hashlib.sha256(repr(key).encode()).hexdigest()[:10]}.svg"


def title(records: list[dict]) -> str:
    first = records[0]
    key = CapacityKey.of(first)
    cpus = len(first["placement"].get("server_cpus") or []) or "?"
    return (f"Sweep, {first['db_latency_ms']} ms DB latency, Python {first['python']}, "
            f"p99 goal {goal_text(key)}, server on {cpus} CPU{'s' if cpus != 1 else ''}")


def answer_text(records: list[dict]) -> str:
    """A sweep section's answer: what to run per stack, as a Markdown table."""
    return pipe_table([stack_answer(stack, members).row
                       for stack, members in by_stack(records).items()],
                      linked(ANSWER_COLUMNS))


def render_sweep(key: tuple, records: list[dict], heading: str, facts: list[str]) -> str:
    """A sweep section: its answer per stack, its chart, and a table per stack."""
    stacks = by_stack(records)
    answer = answer_text(records)
    held = sitting_facts(records, None, "searches")  # each stack has its own floor, below
    first = records[0]["capacity"]
    setup = (f"- Goal: p99 within {goal_text(CapacityKey.of(records[0]))}; mix "
             f"`{first['mix']}`; steps of {first['step_s']} s after {first['warmup_s']} s "
             f"of warm-up; resolution {first['resolution']:.0%}.")
    lines = [heading, "", *facts, *(f"- {fact}" for fact in held), setup, "",
             "What to run, per stack:", "", answer, ""]
    if any(r["ok"] for r in records):
        lines += [f"![Capacity against workers × threads]({chart_name(key)})", ""]
    for stack, members in stacks.items():
        ranked = stack_ranking(members)
        floor = (f" Noise floor {ranked.floor:.1%} (its A/A pair)."
                 if ranked.floor is not None else "")
        lines += [f"#### {stack}", "", f"The chosen configuration is in bold.{floor}", "",
                  pipe_table(stack_rows(members), linked(COLUMNS), ALIGN), ""]
    return "\n".join(lines)
