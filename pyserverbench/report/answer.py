"""The answer first: for each kind of app measured, the leading tie group of stacks, what
they sustain per server core, what a request costs them, and what bounds them.

A kind of app is a workload at one DB latency (or a user's app). Where several capacity
sections measured a kind, the answer reads the one with the most stacks (then the newest
Python, then the latest): one section, so one sitting and its own tie groups and noise
floor. A kind measured only in a closed loop is answered from its closed-loop section.
Pure functions of the records."""

from __future__ import annotations

import dataclasses
import statistics
from collections import defaultdict
from dataclasses import dataclass

from pyserverbench.matrix.ceiling import BOUNDED_FRACTION
from pyserverbench.matrix.workloads import STUDY_MIX, from_record
from pyserverbench.records import (
    CapacityKey,
    ClosedKey,
    db_key,
    is_capacity,
    python_order,
    workers_text,
)
from pyserverbench.report.capacity import _median_record, latency_ranking, pool_rps
from pyserverbench.report.markdown import pipe_table
from pyserverbench.report.rows import cpu_ms_each, fractions, scenario_ranking, threads_text
from pyserverbench.report.ties import Ranking

COLUMNS = ("App", "Leading group", "Req/s per server core", "CPU ms/req", "Peak MB",
           "What bounds them", "Left out", "Measured in")
NONE = "—"
NOT_SETTLED = "not settled: the stacks that measured most have fewer than 3 repeats"
NO_RESULT = "none: every run failed"


@dataclass(frozen=True)
class Answer:
    """One row of the answer table, as text."""

    kind: str
    leaders: str
    rate: str
    cpu_ms: str
    memory: str
    bound: str
    left_out: str
    measured: str
    key: tuple = ()  # kind_of: what the HTML report filters on
    stacks: tuple[str, ...] = ()  # the leaders' stack names

    def row(self) -> list[str]:
        return [self.kind, self.leaders, self.rate, self.cpu_ms, self.memory, self.bound,
                self.left_out, self.measured]


def kind_of(record: dict) -> tuple:
    """The kind of app a record measured, in the answer table's order: CPU only, then
    one DB call by latency, then several calls in turn, then a user's apps."""
    app = (record.get("user_app") or {}).get("name", "")
    workload = from_record(record)
    latency = record["db_latency_ms"]
    calls = (0 if workload.name == "page" or latency == 0 else
             2 if workload.name == "fanout" else 1)
    mix = (record.get("capacity") or {}).get("mix", STUDY_MIX) if workload.name == "mix" else ""
    return (bool(app), app, calls, latency, workload.label(), mix, db_key(record))


KIND_CLASSES = ("CPU only", "one DB call", "several DB calls in turn")  # by `kind_of`'s calls


def kind_class(key: tuple) -> str:
    """The coarse kind a filter offers, from a `kind_of` key."""
    if key[0]:
        return f"your app {key[1]}"
    return KIND_CLASSES[key[2]]


def kind_text(record: dict) -> str:
    """The kind in a reader's words, and the database where it is a real one."""
    db = db_key(record)
    return _kind_words(record) + (f"; on {db}" if db else "")


def _kind_words(record: dict) -> str:
    app = record.get("user_app")
    latency = record["db_latency_ms"]
    if app:
        return f"your app {app['name']} ({app['load']})"
    workload = from_record(record)
    if workload.name == "fanout":
        return f"{workload.fanout_calls} DB calls in turn, {latency} ms each"
    if workload.name == "page":
        return f"CPU only: a page of {workload.page_rows} rows, no DB call"
    if workload.name == "api":
        return f"one {latency} ms DB call per request"
    mix = (record.get("capacity") or {}).get("mix", STUDY_MIX)
    if mix != STUDY_MIX:
        return f"the mix {mix}, DB calls of {latency} ms"
    if latency == 0:
        return "CPU only (1 in 3 requests makes a DB call that takes 0 ms)"
    return f"one {latency} ms DB call in 1 of 3 requests"


def server_cores(record: dict) -> tuple[int, bool]:
    """The CPUs the server had, and whether it had them to itself."""
    placement = record.get("placement") or {}
    if placement.get("shared") is False and placement.get("server_cpus"):
        return len(placement["server_cpus"]), True
    return int((record.get("host") or {}).get("cores") or 1), False


def _span(values: list[float], fmt: str) -> str:
    low, high = min(values), max(values)
    return format(low, fmt) if format(low, fmt) == format(high, fmt) else (
        f"{format(low, fmt)}–{format(high, fmt)}")


def _stack(runs: list[dict]) -> str:
    return f"`{runs[0]['stack']}`" + threads_text(runs[0])


def _count(n: int, what: str) -> str:
    """`2 runs`, `1 run`, `1 search`."""
    return f"{n} {what if n != 1 else what.removesuffix('es' if what.endswith('hes') else 's')}"


SHOWN = 3  # stacks named in "Left out" before "and N more"


def unsettled(ranked: Ranking) -> list[str]:
    """Stacks with too few repeats to rank that measured more than the whole interval of
    every ranked leader: the leading group is not known while they stay unranked."""
    if not ranked.groups:
        return list(ranked.unranked)
    top = max(ranked.found[name].high for name in ranked.groups[0])
    return [name for name in ranked.unranked if ranked.found[name].value > top]


def _left_out(ranked: Ranking, leaders: list[str], per_s: float = 1.0) -> str:
    """Stacks that may belong with the leaders but have too few repeats to rank, and
    stacks that failed; `per_s` turns an estimate into a rate (a closed loop's runs
    count requests over its duration)."""
    parts = []
    if leaders:
        low = min(ranked.found[name].low for name in leaders)
        maybe = [name for name in ranked.unranked if ranked.found[name].high >= low]
    else:
        maybe = list(ranked.unranked)
    if maybe:
        named = [f"{_stack(ranked.runs[name])} ({ranked.found[name].value / per_s:,.0f}/s, "
                 f"{_count(ranked.found[name].n, 'runs')})" for name in maybe[:SHOWN]]
        more = f" and {len(maybe) - SHOWN} more" if len(maybe) > SHOWN else ""
        parts.append("too few repeats to rank: " + ", ".join(named) + more)
    failed = sorted({r["stack"] for r in ranked.failed})
    if failed:
        parts.append("failed: " + ", ".join(f"`{name}`" for name in failed))
    return "; ".join(parts) or NONE


def _measured(records: list[dict], ranked: Ranking, what: str) -> str:
    first = records[0]
    cores, alone = server_cores(first)
    counts = sorted({len(runs) for runs in ranked.runs.values()})
    floor = ("" if ranked.floor is None else f", noise floor {ranked.floor:.1%}")
    where = (f"server on {cores} core{'s' if cores != 1 else ''} of its own" if alone
             else f"server sharing {cores} cores with k6")
    done = (f"{_span(counts, 'd')} {_count(counts[-1], what).split(' ', 1)[1]} per stack"
            if counts else f"no {what} finished")
    return f"Python {first['python']}, {workers_text(first)}, {where}; {done}{floor}"


def _capacity_bound(chosen: list[dict]) -> str:
    """What bounds the leaders, from each one's median search: the server's CPUs over a
    request's CPU cost, the slots over the time a request holds one, or (PostgreSQL) the
    DB pools' connections over the latency, whichever is lowest."""
    by_cpu, by_slots, by_pool = [], [], []
    for record in chosen:
        bounds = record["capacity"]["bounds"]
        pool = pool_rps(record)
        if pool is not None and pool < (bounds.get("rps") or float("inf")):
            by_pool.append((record, record["capacity"]["rps"] / pool))
            continue
        if bounds.get("rps") is None:
            continue
        share = record["capacity"]["rps"] / bounds["rps"]
        if bounds.get("slots_rps") is not None and bounds["slots_rps"] <= (
                bounds.get("cpu_rps") or float("inf")):
            by_slots.append((record, share))
        else:
            by_cpu.append((record, share))
    parts = []
    if by_cpu:
        cost = [r["capacity"]["cpu_s_per_1000"] for r, _ in by_cpu]
        allow = [r["capacity"]["bounds"]["cpu_rps"] for r, _ in by_cpu]
        parts.append(f"the server's CPU: {_span(cost, '.2f')} CPU ms a request allow "
                     f"{_span(allow, ',.0f')}/s, and they reach "
                     f"{_span([s * 100 for _, s in by_cpu], '.0f')}% of it")
    if by_slots:
        slots = sorted({r["capacity"]["slots"] for r, _ in by_slots})
        allow = [r["capacity"]["bounds"]["slots_rps"] for r, _ in by_slots]
        held = [r["capacity"]["db_wait_ms"] + r["capacity"]["cpu_s_per_1000"]
                for r, _ in by_slots]
        parts.append(f"workers × threads held through the DB wait: "
                     f"{'/'.join(str(s) for s in slots)} slots, each held "
                     f"{_span(held, '.1f')} ms a request, allow {_span(allow, ',.0f')}/s, "
                     f"and they reach {_span([s * 100 for _, s in by_slots], '.0f')}% of it")
    if by_pool:
        total = sorted({r["db"]["pool_total"] for r, _ in by_pool})
        allow = [pool_rps(r) for r, _ in by_pool]
        parts.append(f"the DB pools: {'/'.join(str(t) for t in total)} connections, each "
                     f"held the {by_pool[0][0]['db_latency_ms']} ms of a query, allow "
                     f"{_span(allow, ',.0f')}/s, and they reach "
                     f"{_span([s * 100 for _, s in by_pool], '.0f')}% of it")
    if not parts:
        return "not known: no search measured a CPU cost."
    return "Bound by " + "; ".join(parts) + "."


def capacity_answer(records: list[dict]) -> Answer:
    """The answer from one capacity section at one latency."""
    ranked = latency_ranking(records)
    leaders = ranked.groups[0] if ranked.groups and not unsettled(ranked) else []
    first = records[0]
    cores, _ = server_cores(first)
    if not leaders:
        return Answer(kind_text(first), NOT_SETTLED if ranked.found else NO_RESULT,
                      NONE, NONE, NONE, NONE, _left_out(ranked, leaders),
                      _measured(records, ranked, "searches"))
    chosen = [_median_record(ranked.runs[name]) for name in leaders]
    per_core = [ranked.found[name].value / cores for name in leaders]
    cost = [r["capacity"]["cpu_s_per_1000"] for r in chosen
            if r["capacity"]["cpu_s_per_1000"] is not None]
    peak = [r["capacity"]["peak_rss_bytes"] / 2**20 for r in chosen]
    return Answer(kind_text(first),
                  ", ".join(_stack(ranked.runs[name]) for name in leaders),
                  _span(per_core, ",.0f"), _span(cost, ".2f") if cost else NONE,
                  _span(peak, ",.0f"), _capacity_bound(chosen), _left_out(ranked, leaders),
                  _measured(records, ranked, "searches"), stacks=_names(ranked, leaders))


def closed_answer(records: list[dict]) -> Answer:
    """The answer from one closed-loop section, where no capacity search measured the
    kind: requests per second handled, and the scenario's ceiling where it binds."""
    ranked = scenario_ranking(records)
    leaders = ranked.groups[0] if ranked.groups and not unsettled(ranked) else []
    first = records[0]
    cores, _ = server_cores(first)
    measured = _measured(records, ranked, "runs") + f"; closed loop of {first['vus']} VUs"
    if not leaders:
        return Answer(kind_text(first), NOT_SETTLED if ranked.found else NO_RESULT, NONE,
                      NONE, NONE, NONE, _left_out(ranked, leaders, first["duration_s"]),
                      measured)
    runs = [run for name in leaders for run in ranked.runs[name]]
    rates = [statistics.median(r["metrics"]["requests"] / r["duration_s"]
                               for r in ranked.runs[name]) for name in leaders]
    cost = cpu_ms_each(runs)
    peak = [r["usage"]["server"]["peak_rss_bytes"] / 2**20 for r in runs if r.get("usage")]
    known = [f for f in fractions(runs) if f is not None]
    if known and min(known) >= BOUNDED_FRACTION:
        bound = (f"Bound by the scenario: {first['vus']} users in a closed loop allow no "
                 f"more, and they reach {_span([f * 100 for f in known], '.0f')}% of it "
                 f"(a capacity search would tell them apart).")
    elif known:
        bound = (f"Not the scenario ({_span([f * 100 for f in known], '.0f')}% of what "
                 f"its {first['vus']} users allow): the server bounds them.")
    elif first.get("user_app"):
        bound = "Not known: no ceiling is known for a closed loop of your app."
    else:
        bound = (f"No think time and no DB wait: {first['vus']} users keep the server busy, "
                 f"so its CPU bounds them (shared with k6 and the fake DB).")
    return Answer(kind_text(first), ", ".join(_stack(ranked.runs[n]) for n in leaders),
                  f"{_span(rates, ',.0f')} on {_count(cores, 'cores')} (closed loop)",
                  _span(cost, ".2f") if cost else NONE,
                  _span(peak, ",.0f") if peak else NONE, bound,
                  _left_out(ranked, leaders, first["duration_s"]), measured,
                  stacks=_names(ranked, leaders))


def _names(ranked: Ranking, leaders: list[str]) -> tuple[str, ...]:
    """The leaders' stack names, sorted (what the HTML report's stack filter matches)."""
    return tuple(sorted({ranked.runs[name][0]["stack"] for name in leaders}))


def _chosen(sections: dict[tuple, list[dict]]) -> list[dict]:
    """The section that answers a kind: the most stacks, then the newest Python, then the
    latest measured."""
    def weight(records: list[dict]) -> tuple:
        return (len({r["stack"] for r in records}), python_order(records[0]["python"]),
                max(r["started_at"] for r in records))
    return max(sections.values(), key=weight)


def answers(records: list[dict], kinds: set[tuple] | None = None) -> list[Answer]:
    """One answer per kind of app measured (of `kinds` only, if given), in the table's
    order."""
    capacity: dict[tuple, dict[tuple, list[dict]]] = defaultdict(lambda: defaultdict(list))
    closed: dict[tuple, dict[tuple, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        kind = kind_of(record)
        if is_capacity(record):
            capacity[kind][CapacityKey.of(record)].append(record)
        else:
            closed[kind][ClosedKey.of(record)].append(record)
    found = []
    for kind in sorted(set(capacity) | set(closed)):
        if kinds is not None and kind not in kinds:
            continue
        if kind in capacity:
            answer = capacity_answer(_chosen(capacity[kind]))
        else:
            answer = closed_answer(_chosen(closed[kind]))
        found.append(dataclasses.replace(answer, key=kind))
    return found


INTRO = """\
Per kind of app measured: the stacks of the leading tie group (in the order of their
estimates, but tied: none of them is shown to be faster than another), the rate they
sustain per server core with p99 within the latency goal, what a request costs them in
server CPU, their peak memory, and what bounds them. Each row reads one section of the
report below and that section's tie groups and noise floor ([glossary](#glossary))."""


def answer_table(records: list[dict], kinds: set[tuple] | None = None) -> str:
    """The answer as a Markdown table (an empty string when nothing was measured)."""
    found = answers(records, kinds)
    if not found:
        return ""
    return pipe_table([a.row() for a in found], COLUMNS)
